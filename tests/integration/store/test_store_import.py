"""Bulk import of students from an SIS export: every row, or none."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Connection, text

from gateway.policy.facts import StudentStatus
from gateway.store.errors import ImportRejected, RowError
from gateway.store.models import Student
from gateway.store.uow import UnitOfWork

CSV_ROWS: list[dict[str, Any]] = [  # as csv.DictReader gives them: all text
    {"sis_id": "100234", "birth_date": "2009-04-17", "grade_completed": "10",
     "status": "enrolled", "directory_opt_out": "yes"},
    {"sis_id": "100235", "birth_date": "2012-11-02", "grade_completed": "7",
     "status": "ENROLLED", "disability": "true", "tax_dependent": ""},
    {"sis_id": "100236", "birth_date": "", "grade_completed": "", "status": "withdrawn",
     "withdrawn_on": "2025-02-14"},
]


def students_in(connection: Connection) -> int:
    return int(connection.execute(text("SELECT count(*) FROM students")).scalar_one())


def test_an_import_creates_students(unit_of_work: Callable[[], UnitOfWork]) -> None:
    with unit_of_work() as uow:
        report = uow.students.upsert_many(CSV_ROWS)
        uow.commit()
    assert len(report.created) == 3 and report.updated == ()
    with unit_of_work() as uow:
        first = uow.students.by_sis_id("100234")
        second = uow.students.by_sis_id("100235")
        third = uow.students.by_sis_id("100236")
        assert first is not None and second is not None and third is not None
        assert (first.birth_date, first.grade_completed, first.directory_opt_out) == (
            date(2009, 4, 17), 10, True)
        assert (second.status, second.disability, second.tax_dependent) == (
            StudentStatus.ENROLLED, True, False)
        assert (third.birth_date, third.grade_completed, third.status, third.withdrawn_on) == (
            None, None, StudentStatus.WITHDRAWN, date(2025, 2, 14))
        assert report.created == (first.id, second.id, third.id)


def test_an_import_updates_students_it_knows_and_keeps_what_a_row_leaves_out(
        unit_of_work: Callable[[], UnitOfWork], enrol: Callable[..., Student]) -> None:
    known = enrol(sis_id="100234", birth_date=date(2009, 4, 17), disability=True)
    with unit_of_work() as uow:
        report = uow.students.upsert_many([
            {"sis_id": "100234", "grade_completed": 11},  # JSON: typed values
            {"sis_id": "100999", "birth_date": date(2010, 1, 5), "grade_completed": 9},
        ])
        uow.commit()
    assert report.updated == (known.id,) and len(report.created) == 1
    with unit_of_work() as uow:
        updated = uow.students.get(known.id)
        assert (updated.grade_completed, updated.birth_date, updated.disability) == (
            11, date(2009, 4, 17), True)


def test_an_import_with_a_bad_row_imports_nothing_and_names_the_row(
        unit_of_work: Callable[[], UnitOfWork], connection: Connection,
        enrol: Callable[..., Student]) -> None:
    enrol(sis_id="100234", grade_completed=9)
    rows = [*CSV_ROWS,
            {"sis_id": "100237", "birth_date": "17/04/2009", "grade_completed": "tenth"}]
    with unit_of_work() as uow:
        with pytest.raises(ImportRejected) as rejected:
            uow.students.upsert_many(rows)
        uow.commit()  # even a caller that commits anyway writes nothing
    assert rejected.value.errors == (
        RowError(4, "birth_date", "a date (YYYY-MM-DD) is required"),
        RowError(4, "grade_completed", "a whole number of grades (-1 to 16) is required"),
    )
    assert students_in(connection) == 1
    with unit_of_work() as uow:
        unchanged = uow.students.by_sis_id("100234")
        assert unchanged is not None and unchanged.grade_completed == 9
    message = str(rejected.value)
    assert "row 4" in message and "17/04/2009" not in message and "tenth" not in message


@pytest.mark.parametrize("row, field", [
    ({"birth_date": "2009-01-01"}, "sis_id"),
    ({"sis_id": "  "}, "sis_id"),
    ({"sis_id": "1", "status": "expelled"}, "status"),
    ({"sis_id": "1", "grade_completed": 17}, "grade_completed"),
    ({"sis_id": "1", "grade_completed": True}, "grade_completed"),
    ({"sis_id": "1", "disability": "maybe"}, "disability"),
    ({"sis_id": "1", "left_district_on": "2025-02-30"}, "left_district_on"),
    ({"sis_id": "1", "Maria Lopez": "2009-01-01"}, "column 2"),  # a file without a header
], ids=lambda v: str(v) if isinstance(v, str) else None)
def test_each_kind_of_bad_row_is_reported_without_its_value(
        unit_of_work: Callable[[], UnitOfWork], row: dict[str, Any], field: str) -> None:
    with unit_of_work() as uow, pytest.raises(ImportRejected) as rejected:
        uow.students.upsert_many([{"sis_id": "ok-1"}, row])
    assert [(e.row, e.field) for e in rejected.value.errors] == [(2, field)]
    assert "Maria" not in str(rejected.value) and "expelled" not in str(rejected.value)


def test_the_same_student_twice_in_one_import_is_refused(
        unit_of_work: Callable[[], UnitOfWork], connection: Connection) -> None:
    with unit_of_work() as uow, pytest.raises(ImportRejected) as rejected:
        uow.students.upsert_many([{"sis_id": "A"}, {"sis_id": "B"}, {"sis_id": "A"}])
    assert rejected.value.errors == (RowError(3, "sis_id", "the same SIS id is in row 1"),)
    assert students_in(connection) == 0


def test_a_large_import_is_one_transaction(unit_of_work: Callable[[], UnitOfWork],
                                           connection: Connection) -> None:
    rows = [{"sis_id": f"S{n:05d}", "grade_completed": str(n % 13)} for n in range(1200)]
    with unit_of_work() as uow:
        assert len(uow.students.upsert_many(rows).created) == 1200
        rows[600]["grade_completed"] = "12"
        assert len(uow.students.upsert_many(rows).updated) == 1200
        uow.commit()
    assert students_in(connection) == 1200
