"""Fixtures for retention over the real store: a district's students, records, custodian."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.policy.facts import RecordType, RequesterCategory
from gateway.services.retention import RetentionService
from gateway.store.models import Requester, Student, StudentRecord
from gateway.store.uow import UnitOfWork
from tests.integration.store.fixtures import *  # noqa: F403

CONFIG = Path(__file__).resolve().parents[3] / "config"
ZONE = ZoneInfo("America/Los_Angeles")
NOW = datetime(2025, 7, 1, 17, 0, tzinfo=timezone.utc)  # 10:00 on July 1, 2025 in California
ISSUER = "https://id.example-district.org"
_numbers = itertools.count(1)


class Clock:
    """The service's clock, set by the test."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@dataclass
class District:
    """Puts students, records and staff into the store, as the SIS and custodian would."""

    unit_of_work: Callable[[], UnitOfWork]

    def enrol(self, **facts: Any) -> Student:
        facts.setdefault("sis_id", f"SIS-{next(_numbers):06d}")
        with self.unit_of_work() as uow:
            student = uow.students.add(Student(**facts))
            uow.commit()
        return student

    def register(self, category: RequesterCategory = RequesterCategory.CUSTODIAN,
                 **details: Any) -> Requester:
        details.setdefault("issuer", ISSUER)
        details.setdefault("subject", uuid.uuid4().hex)
        details.setdefault("display_name", f"{category.value} {next(_numbers)}")
        with self.unit_of_work() as uow:
            requester = uow.requesters.add(Requester(category=category, **details))
            uow.commit()
        return requester

    def file(self, student: Student, record_type: RecordType, school_year: int = 2021,
             **details: Any) -> StudentRecord:
        details.setdefault("content", f"{record_type} of {student.sis_id}".encode())
        details.setdefault("media_type", "text/plain")
        details.setdefault("originator", "Registrar")
        with self.unit_of_work() as uow:
            record = uow.records.add(student_id=student.id, record_type=record_type,
                                     school_year_of_origin=school_year, **details)
            uow.commit()
        return record

    def record(self, record_id: uuid.UUID) -> StudentRecord:
        with self.unit_of_work() as uow:
            return uow.records.get(record_id)

    def content(self, record_id: uuid.UUID) -> bytes:
        with self.unit_of_work() as uow:
            return uow.records.read(record_id).content


@pytest.fixture
def district(unit_of_work: Callable[[], UnitOfWork]) -> District:
    return District(unit_of_work)


@pytest.fixture
def custodian(district: District) -> Requester:
    return district.register(RequesterCategory.CUSTODIAN)


def make_service(unit_of_work: Callable[[], UnitOfWork], clock: Callable[[], datetime],
                 **options: Any) -> RetentionService:
    return RetentionService.from_config(unit_of_work, CONFIG, clock, ZONE, **options)


@pytest.fixture
def retention(unit_of_work: Callable[[], UnitOfWork], clock: Clock) -> RetentionService:
    return make_service(unit_of_work, clock, batch_size=2)


@dataclass
class Leaver:
    """A student who left the district in May 2023, with records of each kind."""

    student: Student
    health: StudentRecord  # mandatory interim, 2021-22: eligible from July 1, 2024
    legal_name: StudentRecord  # mandatory permanent: kept
    discipline: StudentRecord  # permitted, withdrew 2023-05-01: eligible from 2023-11-01


@pytest.fixture
def leaver_factory(district: District) -> Callable[[], Leaver]:
    def make() -> Leaver:
        student = district.enrol(left_district_on=date(2023, 5, 1),
                                 withdrawn_on=date(2023, 5, 1))
        return Leaver(student, district.file(student, RecordType.HEALTH),
                      district.file(student, RecordType.LEGAL_NAME),
                      district.file(student, RecordType.ROUTINE_DISCIPLINE))
    return make


@pytest.fixture
def leaver(leaver_factory: Callable[[], Leaver]) -> Leaver:
    return leaver_factory()
