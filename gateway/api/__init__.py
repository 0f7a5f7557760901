"""The HTTP API: flask-smorest blueprints that parse, call one service, and return.

Every error leaves as RFC 9457 problem details; nothing becomes an HTML page or a
traceback.
"""

from __future__ import annotations

import structlog
from flask import Flask
from flask_smorest import Api
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from gateway.api.auth import (
    READ_SCOPE,
    InsufficientScope,
    ProviderUnavailable,
    Unauthenticated,
)
from gateway.api.records import Refused
from gateway.problems import problem
from gateway.services.access import (
    DisclosureNotRecorded,
    NoVerifiedRelationship,
    PreviewNotAnswered,
    UnknownStudentOrRecord,
    UnregisteredRequester,
)
from gateway.store.errors import RecordDestroyed
from schemas.problem import PROBLEM_MEDIA_TYPE, ProblemSchema

log = structlog.get_logger("gateway.api")


class GatewayApi(Api):
    """flask-smorest's Api whose one error shape is RFC 9457 problem details."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        # The shared error responses (422, default...) are documented as what they are on
        # the wire, application/problem+json, so clients and schemathesis can rely on it.
        json_type = self.DEFAULT_RESPONSE_CONTENT_TYPE
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_MEDIA_TYPE
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = json_type

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        return problem(
            error.code or 500,
            error.name,
            data.get("message") or (error.description if error.code != 500 else None),
            errors=errors,
            headers=data.get("headers"),
        )


def _register_problems(app: Flask) -> None:
    @app.errorhandler(Refused)
    def refused(exc: Refused):
        d = exc.decision
        return problem(403, "Refused under AR 5125", d.reason, kind="access-refused",
                       decision=d.as_dict())

    @app.errorhandler(Unauthenticated)
    def unauthenticated(exc: Unauthenticated):
        return problem(401, "Unauthorized", exc.detail, kind="unauthenticated",
                       headers={"WWW-Authenticate": f'Bearer error="{exc.error}"'})

    @app.errorhandler(InsufficientScope)
    def insufficient_scope(_exc: InsufficientScope):
        return problem(403, "Insufficient scope", f"The access token does not carry the "
                       f"{READ_SCOPE} scope this API needs.", kind="insufficient-scope",
                       headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", '
                                                    f'scope="{READ_SCOPE}"'})

    @app.errorhandler(UnregisteredRequester)
    def unregistered(_exc: UnregisteredRequester):
        return problem(403, "Unregistered requester", "The district has not registered "
                       "this requester with the gateway; ask the custodian of records.",
                       kind="unregistered-requester")

    @app.errorhandler(NoVerifiedRelationship)
    def unverified(_exc: NoVerifiedRelationship):
        return problem(403, "No verified relationship", "The custodian of records has not "
                       "verified your relationship to this student (AR 5125(i)).",
                       kind="no-verified-relationship")

    @app.errorhandler(PreviewNotAnswered)
    def preview_not_answered(_exc: PreviewNotAnswered):
        return problem(403, "Not answered as a preview", "The access log must list this "
                       "request (Ed Code 49064), and its answer tells something of the "
                       "student's records: read the record instead, which is decided the "
                       "same way and entered in the log.", kind="preview-not-answered")

    @app.errorhandler(UnknownStudentOrRecord)
    def unknown(_exc: UnknownStudentOrRecord):
        return problem(404, "Not Found", "No such record of that student.")

    @app.errorhandler(RecordDestroyed)
    def destroyed(_exc: RecordDestroyed):
        return problem(410, "Gone", "The record was destroyed under the retention schedule.",
                       kind="record-destroyed")

    @app.errorhandler(DisclosureNotRecorded)
    @app.errorhandler(OperationalError)
    def not_recorded(_exc: Exception):
        log.warning("database_unavailable")
        return problem(503, "Service Unavailable", "The disclosure could not be recorded, so "
                       "nothing was disclosed; try again.", kind="not-recorded",
                       headers={"Retry-After": "5"})

    @app.errorhandler(ProviderUnavailable)
    def provider_down(_exc: ProviderUnavailable):
        return problem(503, "Service Unavailable", "The OpenID provider cannot be reached to "
                       "check the access token.", kind="identity-provider-unavailable",
                       headers={"Retry-After": "5"})

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return exc
        log.error("unhandled_error", error=type(exc).__name__)  # no message: it may hold data
        return problem(500, "Internal Server Error", "The request could not be completed; "
                       "nothing was disclosed.")


def init_app(app: Flask) -> GatewayApi:
    app.config.update(
        API_TITLE="records-gateway",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_REDOC_PATH="/docs",
        OPENAPI_REDOC_URL="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js",
    )
    api = GatewayApi(app, spec_kwargs={
        "info": {"description": "Student records behind AR 5125 decisions and a "
                                "tamper-evident access log."},
    })
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    from gateway.api import health, records

    api.register_blueprint(health.blp)
    api.register_blueprint(records.blp)
    # --- the SIS write API (issue 3) ---
    from gateway.api import sis

    api.register_blueprint(sis.blp)
    # --- the access log: the custodian's API and the Ed Code 49064 log (issue 4) ---
    from gateway.api import access_log

    api.register_blueprint(access_log.blp)
    _register_problems(app)
    return api
