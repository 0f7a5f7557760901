"""Fixtures for the portal's services: a migrated database on each backend (rolled back
after every test), and the people of a family and a school in it."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any

import pytest

from gateway.policy.engine import PolicyEngine
from gateway.policy.facts import ParentType, RequesterCategory
from gateway.services.access import Caller
from gateway.services.portal import PortalService
from gateway.settings import load_settings
from gateway.store.models import Guardianship, Requester, Student
from gateway.store.uow import UnitOfWork
from tests.integration.store.fixtures import *  # noqa: F403

ISSUER = "https://id.example-district.org"
# Noon in California on a school day; a student born 2008-11-23 turns 18 today.
NOON = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)
_numbers = itertools.count(1)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOON)


@pytest.fixture
def portal(unit_of_work: Callable[[], UnitOfWork], engine: PolicyEngine,
           clock: Clock) -> PortalService:
    zone = load_settings(environ={}).zone
    return PortalService(unit_of_work, engine, clock, zone)


@pytest.fixture
def enrol(unit_of_work: Callable[[], UnitOfWork]) -> Callable[..., Student]:
    def enrol_(**facts: Any) -> Student:
        facts.setdefault("sis_id", f"SIS-P{next(_numbers):05d}")
        facts.setdefault("birth_date", date(2014, 1, 21))
        with unit_of_work() as uow:
            student = uow.students.add(Student(**facts))
            uow.commit()
        return student
    return enrol_


@pytest.fixture
def register(unit_of_work: Callable[[], UnitOfWork]) -> Callable[..., tuple[Requester, Caller]]:
    """Register a person; returns the requester and the login that stands for them."""
    def register_(category: RequesterCategory, name: str = "") -> tuple[Requester, Caller]:
        subject = uuid.uuid4().hex
        with unit_of_work() as uow:
            requester = uow.requesters.add(Requester(
                issuer=ISSUER, subject=subject, category=category,
                display_name=name or f"{category.value} {next(_numbers)}"))
            uow.commit()
        return requester, Caller(ISSUER, subject)
    return register_


@pytest.fixture
def custodian(register) -> tuple[Requester, Caller]:
    return register(RequesterCategory.CUSTODIAN, "Elena Garcia")


@pytest.fixture
def relate(unit_of_work: Callable[[], UnitOfWork], custodian) -> Callable[..., Guardianship]:
    """A parent's claimed relationship to a student, verified by the custodian or not."""
    def relate_(parent: Requester, student: Student, *, verified: bool = True,
                **facts: Any) -> Guardianship:
        facts.setdefault("parent_type", ParentType.NATURAL)
        if verified:
            facts.update(verified_by_id=custodian[0].id, verified_at=NOON)
        with unit_of_work() as uow:
            guardianship = uow.guardianships.add(Guardianship(
                parent_id=parent.id, student_id=student.id, **facts))
            uow.commit()
        return guardianship
    return relate_
