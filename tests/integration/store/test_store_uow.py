"""The unit of work: an explicit commit writes; anything else leaves nothing behind."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Connection, text

from gateway.store.models import Student
from gateway.store.uow import UnitOfWork


def students_in(connection: Connection) -> int:
    return int(connection.execute(text("SELECT count(*) FROM students")).scalar_one())


def test_a_commit_writes(unit_of_work: Callable[[], UnitOfWork],
                         connection: Connection) -> None:
    with unit_of_work() as uow:
        uow.students.add(Student(sis_id="U-1"))
        uow.commit()
    assert students_in(connection) == 1


def test_leaving_without_a_commit_writes_nothing(unit_of_work: Callable[[], UnitOfWork],
                                                 connection: Connection) -> None:
    with unit_of_work() as uow:
        student = uow.students.add(Student(sis_id="U-2"))
    assert students_in(connection) == 0
    assert student.sis_id == "U-2"  # rows stay readable after the block


def test_an_exception_rolls_back(unit_of_work: Callable[[], UnitOfWork],
                                 connection: Connection) -> None:
    class Refused(Exception):
        pass

    with pytest.raises(Refused), unit_of_work() as uow:
        uow.students.add(Student(sis_id="U-3"))
        raise Refused
    assert students_in(connection) == 0


def test_work_after_a_commit_is_its_own_and_is_discarded_without_one(
        unit_of_work: Callable[[], UnitOfWork], connection: Connection) -> None:
    with unit_of_work() as uow:
        uow.students.add(Student(sis_id="U-4"))
        uow.commit()
        uow.students.add(Student(sis_id="U-5"))
    assert students_in(connection) == 1


def test_a_failed_constraint_surfaces_at_the_call_and_nothing_is_kept(
        unit_of_work: Callable[[], UnitOfWork], connection: Connection) -> None:
    from sqlalchemy.exc import IntegrityError
    with pytest.raises(IntegrityError), unit_of_work() as uow:
        uow.students.add(Student(sis_id="U-6"))
        uow.students.add(Student(sis_id="U-6"))
    assert students_in(connection) == 0


def test_a_unit_of_work_is_used_inside_its_block_only(
        unit_of_work: Callable[[], UnitOfWork]) -> None:
    uow = unit_of_work()
    with pytest.raises(RuntimeError):
        uow.commit()
    with uow, pytest.raises(RuntimeError):
        uow.__enter__()
