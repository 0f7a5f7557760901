"""Fixtures for the store tests: databases (see fixtures.py) and people to put in them."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from gateway.policy.facts import ParentType, RequesterCategory
from gateway.store.models import Guardianship, Requester, Student, utc_now
from gateway.store.uow import UnitOfWork
from tests.integration.store.fixtures import *  # noqa: F403

ISSUER = "https://id.example-district.org"
_numbers = itertools.count(1)


@pytest.fixture
def enrol(unit_of_work: Callable[[], UnitOfWork]) -> Callable[..., Student]:
    """Enrol a student with the given facts (a fresh SIS id unless one is given)."""
    def enrol_(**facts: Any) -> Student:
        facts.setdefault("sis_id", f"SIS-{next(_numbers):06d}")
        with unit_of_work() as uow:
            student = uow.students.add(Student(**facts))
            uow.commit()
        return student
    return enrol_


@pytest.fixture
def register(unit_of_work: Callable[[], UnitOfWork]) -> Callable[..., Requester]:
    """Register a requester of a category with the gateway's identity provider."""
    def register_(category: RequesterCategory, **details: Any) -> Requester:
        details.setdefault("issuer", ISSUER)
        details.setdefault("subject", uuid.uuid4().hex)
        details.setdefault("display_name", f"{category.value} {next(_numbers)}")
        with unit_of_work() as uow:
            requester = uow.requesters.add(Requester(category=category, **details))
            uow.commit()
        return requester
    return register_


@pytest.fixture
def student(enrol: Callable[..., Student]) -> Student:
    return enrol()


@pytest.fixture
def custodian(register: Callable[..., Requester]) -> Requester:
    """The custodian of records, who verifies parents and destroys records."""
    return register(RequesterCategory.CUSTODIAN)


@pytest.fixture
def parent(register: Callable[..., Requester], unit_of_work: Callable[[], UnitOfWork],
           student: Student, custodian: Requester) -> Requester:
    """The student's natural parent with legal custody, verified by the custodian."""
    mother = register(RequesterCategory.PARENT)
    with unit_of_work() as uow:
        uow.guardianships.add(Guardianship(
            parent_id=mother.id, student_id=student.id, parent_type=ParentType.NATURAL,
            verified_by_id=custodian.id, verified_at=utc_now()))
        uow.commit()
    return mother
