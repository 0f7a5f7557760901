"""Schemathesis against the gateway's own /openapi.json, through WSGI (no network).

For every operation the document describes, generated requests (valid and invalid ones)
carry a real token of the SIS integration, which may call every operation. Whatever the
request, the answer is never a 5xx, its status and content type are the ones documented
for the operation, its body matches the documented schema, and every error is an
RFC 9457 problem (application/problem+json).

Bounded: a few examples an operation, generated deterministically (derandomize), no
deadline (the first request on a backend pays for warming up), no example database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.policy.facts import RequesterCategory
from gateway.store import models
from gateway.store.uow import UnitOfWork
from schemas.problem import PROBLEM_MEDIA_TYPE
from tests.functional.conftest import SIS_CLIENT

EXAMPLES_PER_OPERATION = 10
ENROLLED = "SIS-5001"


@schemathesis.check
def errors_are_problem_details(ctx: Any, response: schemathesis.Response,
                               case: schemathesis.Case) -> bool | None:
    """Every 4xx and 5xx is RFC 9457 problem details."""
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.split(";")[0].strip() == PROBLEM_MEDIA_TYPE, (
            f"{response.status_code} answered as {content_type!r}")
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, errors_are_problem_details]


@pytest.fixture
def sis_token(unit_of_work: Callable[[], UnitOfWork], gateway_idp, write_token_for) -> str:
    """The SIS integration, registered, with one enrolled student to write to."""
    with unit_of_work() as uow:
        uow.requesters.add(models.Requester(
            issuer=gateway_idp.issuer, subject=SIS_CLIENT, display_name="SIS",
            category=RequesterCategory.SCHOOL_OFFICIAL))
        uow.students.add(models.Student(sis_id=ENROLLED))
        uow.commit()
    return write_token_for(SIS_CLIENT)


def test_every_answer_keeps_to_the_openapi_document(app, sis_token: str) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {sis_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8  # the read API, the write API, health

    for operation in operations:
        if operation.path == "/readyz" and app.extensions["gateway"].database.dialect.name \
                == "sqlite":
            # Readiness opens a connection of its own, and SQLite's BEGIN IMMEDIATE waits on
            # this test's open write transaction (rolled back at the end) until the busy
            # timeout: a 503 that says something about the fixture, not the gateway.
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            # Valid requests also go to a student that exists, so writes get past the 404.
            variants = ([None, {"sis_id": ENROLLED}] if "{sis_id}" in operation.path
                        and mode is GenerationMode.POSITIVE else [None])
            for path_parameters in variants:
                strategy = operation.as_strategy(mode, path_parameters=path_parameters)
                try:
                    _explore(strategy, headers)
                except Unsatisfiable:
                    if mode is GenerationMode.POSITIVE:
                        raise
                    # Nothing in the request can be made invalid (e.g. GET /healthz).
                except BaseException as exc:
                    exc.add_note(f"operation: {operation.label} ({mode.value})")
                    raise


def _explore(strategy: Any, headers: dict[str, str]) -> None:
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
              database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.data_too_large])
    @given(case=strategy)
    def answer_keeps_to_the_document(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)

    answer_keeps_to_the_document()
