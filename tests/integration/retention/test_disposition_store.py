"""Retention over the real store: plan, review, holds, run, certificate (both backends)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from gateway.policy.facts import RecordType, RequesterCategory
from gateway.services.retention import (
    NotACustodian,
    PlanNotApproved,
    RetentionError,
    RetentionService,
    RunInProgress,
)
from gateway.store.errors import RecordDestroyed
from gateway.store.models import PlanItemKind, PlanStatus, RetentionLock
from gateway.store.retention import DESTRUCTION_LOCK
from gateway.store.uow import UnitOfWork
from tests.integration.retention.conftest import Clock, District, Leaver

K = PlanItemKind


def items_of(retention: RetentionService, plan_id: uuid.UUID) -> dict[uuid.UUID, object]:
    return {item.record_id: item for item in retention.items(plan_id)}


def test_a_plan_lists_what_may_go_and_why_and_keeps_the_rest(
        retention: RetentionService, district: District, leaver: Leaver) -> None:
    staying = district.enrol()
    district.file(staying, RecordType.HEALTH)  # enrolled, no determination: not yet

    plan = retention.plan(created_by="custodian", as_of=date(2025, 7, 1))

    assert plan.status is PlanStatus.DRAFT
    assert plan.schedule_version == retention.schedule.version
    assert plan.summary == {"keep": 1, "not_yet": 1, "eligible": 2, "held": 0, "no_rule": 0,
                            "total": 4}
    items = items_of(retention, plan.id)
    assert set(items) == {leaver.health.id, leaver.discipline.id}
    health = items[leaver.health.id]
    assert health.kind is K.ELIGIBLE
    assert health.rule == "interim_third_school_year"
    assert "5 CCR 437" in health.citations
    assert health.eligible_from == date(2024, 7, 1)
    assert items[leaver.discipline.id].eligible_from == date(2023, 11, 1)
    assert items[leaver.discipline.id].rule == "permitted_six_months"


def test_a_plan_cannot_look_ahead(retention: RetentionService) -> None:
    with pytest.raises(RetentionError, match="after today"):
        retention.plan(created_by="custodian", as_of=date(2025, 7, 2))


def test_nothing_is_destroyed_without_an_approved_plan(
        retention: RetentionService, district: District, leaver: Leaver,
        custodian) -> None:
    plan = retention.plan(created_by="custodian")
    with pytest.raises(PlanNotApproved, match="draft"):
        retention.run(plan.id, started_by="cron")
    retention.review(plan.id, custodian=str(custodian.id), approve=False)
    with pytest.raises(PlanNotApproved, match="rejected"):
        retention.run(plan.id, started_by="cron")
    assert district.content(leaver.health.id).startswith(b"health")


def test_only_a_custodian_approves(retention: RetentionService, district: District,
                                   leaver: Leaver) -> None:
    official = district.register(RequesterCategory.SCHOOL_OFFICIAL)
    plan = retention.plan(created_by="custodian")
    with pytest.raises(NotACustodian):
        retention.review(plan.id, custodian=str(official.id), approve=True)
    with pytest.raises(NotACustodian):
        retention.review(plan.id, custodian="nobody", approve=True)
    assert retention.get_plan(plan.id).status is PlanStatus.DRAFT


def test_an_approved_plan_is_destroyed_and_certified_without_content(
        retention: RetentionService, district: District, leaver: Leaver, custodian,
        clock: Clock) -> None:
    plan = retention.plan(created_by="custodian")
    review = retention.review(plan.id, custodian=custodian.subject, approve=True)
    assert (review.items, review.status) == (2, PlanStatus.APPROVED)
    clock.now += timedelta(hours=1)

    report = retention.run(plan.id, started_by="custodian")

    assert (report.destroyed, report.skipped) == (2, 0)
    for record in (leaver.health, leaver.discipline):
        gone = district.record(record.id)
        assert gone.destroyed_at == clock.now
        assert (gone.ciphertext, gone.nonce, gone.wrapped_key, gone.kek_id) == (None,) * 4
        with pytest.raises(RecordDestroyed):
            district.content(record.id)
    assert district.content(leaver.legal_name.id).startswith(b"legal_name")
    certificate = report.certificate
    assert certificate["destroyed"] == 2
    assert certificate["approved_by"] == [str(custodian.id)]
    assert certificate["by_type_and_rule"] == [
        {"record_type": "health", "rule": "interim_third_school_year", "count": 1},
        {"record_type": "routine_discipline", "rule": "permitted_six_months", "count": 1}]
    assert "crypto-shredding" in certificate["method"]
    text = repr(certificate)
    assert leaver.student.sis_id not in text and str(leaver.health.id) not in text
    assert retention.get_plan(plan.id).status is PlanStatus.DONE


def test_part_of_a_plan_is_approved_the_rest_rejected(
        retention: RetentionService, district: District, leaver: Leaver, custodian) -> None:
    plan = retention.plan(created_by="custodian")
    first = retention.review(plan.id, custodian=str(custodian.id), approve=True,
                             records=[leaver.health.id])
    assert first.status is PlanStatus.PARTLY_APPROVED
    with pytest.raises(RetentionError, match="already approved"):
        retention.review(plan.id, custodian=str(custodian.id), approve=False,
                         records=[leaver.health.id])
    with pytest.raises(RetentionError, match="not in plan"):
        retention.review(plan.id, custodian=str(custodian.id), approve=True,
                         records=[leaver.legal_name.id])
    retention.review(plan.id, custodian=str(custodian.id), approve=False)

    report = retention.run(plan.id, started_by="custodian")

    assert report.destroyed == 1
    assert district.record(leaver.health.id).destroyed
    assert district.content(leaver.discipline.id).startswith(b"routine_discipline")


def test_a_hold_stops_destruction_and_its_release_lets_it_go(
        retention: RetentionService, district: District, leaver: Leaver, custodian,
        clock: Clock) -> None:
    plan = retention.plan(created_by="custodian")
    retention.review(plan.id, custodian=str(custodian.id), approve=True)
    # After the approval, counsel puts the student's records on legal hold.
    hold = retention.place_hold(kind="legal_hold", custodian=str(custodian.id),
                                owner="District counsel", reason="subpoena 2025-114",
                                student_sis_id=leaver.student.sis_id)

    report = retention.run(plan.id, started_by="custodian")

    assert (report.destroyed, report.skipped) == (0, 2)
    assert report.certificate["not_destroyed"] == {"held": 2}
    assert district.content(leaver.health.id).startswith(b"health")
    # A new plan shows them held, and by what; a held record cannot be approved.
    held_plan = retention.plan(created_by="custodian")
    items = items_of(retention, held_plan.id)
    assert {i.kind for i in items.values()} == {K.HELD}
    assert "legal_hold" in items[leaver.health.id].held_by
    assert "District counsel" in items[leaver.health.id].held_by
    with pytest.raises(RetentionError, match="held"):
        retention.review(held_plan.id, custodian=str(custodian.id), approve=True,
                         records=[leaver.health.id])

    clock.now += timedelta(days=1)
    released = retention.release_hold(hold.id, custodian=str(custodian.id),
                                      reason="case settled")
    assert released.released_by_id == custodian.id and released.release_reason == "case settled"
    assert retention.holds() == []
    assert [h.id for h in retention.holds(include_released=True)] == [hold.id]
    with pytest.raises(RetentionError, match="already released"):
        retention.release_hold(hold.id, custodian=str(custodian.id), reason="again")

    after = retention.plan(created_by="custodian")
    retention.review(after.id, custodian=str(custodian.id), approve=True)
    assert retention.run(after.id, started_by="custodian").destroyed == 2


def test_a_record_hold_stops_only_that_record(
        retention: RetentionService, district: District, leaver: Leaver, custodian) -> None:
    retention.place_hold(kind="pending_challenge", custodian=str(custodian.id),
                         owner="Principal", reason="challenge filed",
                         record_id=leaver.discipline.id)
    plan = retention.plan(created_by="custodian")
    assert plan.summary["held"] == 1 and plan.summary["eligible"] == 1
    retention.review(plan.id, custodian=str(custodian.id), approve=True)
    assert retention.run(plan.id, started_by="custodian").destroyed == 1
    assert district.content(leaver.discipline.id)


def test_a_student_who_returns_before_the_run_keeps_the_records(
        retention: RetentionService, district: District, leaver: Leaver, custodian,
        unit_of_work: Callable[[], UnitOfWork]) -> None:
    plan = retention.plan(created_by="custodian")
    retention.review(plan.id, custodian=str(custodian.id), approve=True)
    with unit_of_work() as uow:
        uow.students.get(leaver.student.id).returned_on = date(2025, 6, 30)
        uow.commit()
    report = retention.run(plan.id, started_by="custodian")
    assert report.destroyed == 0
    assert report.certificate["not_destroyed"] == {"not_eligible": 2}


def test_running_a_finished_plan_again_does_nothing(
        retention: RetentionService, leaver: Leaver, custodian) -> None:
    plan = retention.plan(created_by="custodian")
    retention.review(plan.id, custodian=str(custodian.id), approve=True)
    first = retention.run(plan.id, started_by="custodian")
    again = retention.run(plan.id, started_by="custodian")
    assert again.already_done and again.destroyed == 0
    assert again.certificate == first.certificate


class PowerCut(Exception):
    pass


def failing_at(unit_of_work: Callable[[], UnitOfWork], commit: int):
    """Units of work whose ``commit``-th commit fails, as a lost connection would."""
    made = {"commits": 0}

    class Failing(UnitOfWork):
        def commit(self) -> None:
            made["commits"] += 1
            if made["commits"] == commit:
                raise PowerCut("the connection went down")
            super().commit()

    def factory() -> UnitOfWork:
        failing = Failing.__new__(Failing)
        failing.__dict__.update(unit_of_work().__dict__)
        return failing
    return factory


def test_a_crash_in_the_middle_leaves_no_record_half_destroyed_and_the_rerun_finishes(
        unit_of_work: Callable[[], UnitOfWork], clock: Clock, district: District,
        leaver_factory, custodian, db_engine) -> None:
    from tests.integration.retention.conftest import make_service

    leavers = [leaver_factory() for _ in range(3)]  # 6 eligible records, 3 batches of 2
    service = make_service(unit_of_work, clock, batch_size=2)
    plan = service.plan(created_by="custodian")
    service.review(plan.id, custodian=str(custodian.id), approve=True)

    # Commits of the run: the lock row (SQLite only), the start, batch 1, batch 2.
    batch_2 = 4 if db_engine.dialect.name == "sqlite" else 3
    crashing = make_service(failing_at(unit_of_work, batch_2), clock, batch_size=2)
    with pytest.raises(PowerCut):
        crashing.run(plan.id, started_by="custodian")

    records = [r for leaver in leavers for r in (leaver.health, leaver.discipline)]
    destroyed = [r.id for r in records if district.record(r.id).destroyed]
    assert len(destroyed) == 2  # the first batch, committed before the crash
    for record in records:
        row = district.record(record.id)
        if row.destroyed:
            assert (row.ciphertext, row.nonce, row.wrapped_key, row.kek_id) == (None,) * 4
        else:
            assert district.content(record.id)  # whole: still opens
    assert service.get_plan(plan.id).status is PlanStatus.RUNNING

    report = service.run(plan.id, started_by="custodian")

    assert report.interrupted_runs == 1
    assert (report.destroyed, report.skipped) == (4, 0)
    assert report.certificate["destroyed"] == 6
    assert all(district.record(r.id).destroyed for r in records)
    assert service.get_plan(plan.id).status is PlanStatus.DONE


def test_one_run_at_a_time(retention: RetentionService, leaver: Leaver, custodian,
                           unit_of_work: Callable[[], UnitOfWork], db_engine,
                           clock: Clock) -> None:
    plan = retention.plan(created_by="custodian")
    retention.review(plan.id, custodian=str(custodian.id), approve=True)
    if db_engine.dialect.name == "postgresql":
        from gateway.store.retention import DESTRUCTION_LOCK_KEY

        with db_engine.connect() as other:  # another process's session holds the lock
            other.exec_driver_sql(f"SELECT pg_advisory_lock({DESTRUCTION_LOCK_KEY})")
            with pytest.raises(RunInProgress):
                retention.run(plan.id, started_by="custodian")
            other.exec_driver_sql(f"SELECT pg_advisory_unlock({DESTRUCTION_LOCK_KEY})")
    else:
        with unit_of_work() as uow:  # a live process holds the lock row
            uow.session.add(RetentionLock(name=DESTRUCTION_LOCK, holder="other",
                                          host=os.uname().nodename, pid=os.getppid(),
                                          acquired_at=clock.now, heartbeat_at=clock.now))
            uow.commit()
        with pytest.raises(RunInProgress):
            retention.run(plan.id, started_by="custodian")
        clock.now += timedelta(hours=1)  # the holder stopped moving: its lock is stale
    assert retention.run(plan.id, started_by="custodian").destroyed == 2


def test_usefulness_determination_makes_an_interim_record_eligible(
        retention: RetentionService, district: District, custodian) -> None:
    student = district.enrol()  # still enrolled
    health = district.file(student, RecordType.HEALTH, school_year=2021)
    name = district.file(student, RecordType.LEGAL_NAME)
    assert retention.plan(created_by="custodian").summary["eligible"] == 0
    with pytest.raises(RetentionError, match="mandatory_permanent"):
        retention.determine_usefulness_ceased(name.id, custodian=str(custodian.id))
    retention.determine_usefulness_ceased(health.id, custodian=str(custodian.id),
                                          on=date(2025, 6, 1))
    record = district.record(health.id)
    assert (record.usefulness_ceased_on, record.usefulness_determined_by) == (
        date(2025, 6, 1), str(custodian.id))
    plan = retention.plan(created_by="custodian")
    assert set(items_of(retention, plan.id)) == {health.id}


def test_the_certificate_and_the_key_of_a_student_whose_last_records_went_reach_the_log(
        retention: RetentionService, district: District, custodian,
        unit_of_work: Callable[[], UnitOfWork]) -> None:
    from sqlalchemy import select

    from gateway.store.models import AccessLogEntry, DestructionCertificate

    student = district.enrol(left_district_on=date(2023, 5, 1), withdrawn_on=date(2023, 5, 1))
    district.file(student, RecordType.HEALTH)  # the student's only record
    plan = retention.plan(created_by="custodian")
    retention.review(plan.id, custodian=str(custodian.id), approve=True)
    retention.run(plan.id, started_by="custodian")

    with unit_of_work() as uow:
        events = [(e.event, e.student_id, e.request_id) for e in uow.session.scalars(
            select(AccessLogEntry).order_by(AccessLogEntry.seq))]
        certificate = uow.session.scalars(select(DestructionCertificate)).one()
    assert ("key_destroyed", student.id) in [(str(e), s) for e, s, _ in events]
    assert ("destruction_certificate", None, str(plan.id)) in [
        (str(e), s, r) for e, s, r in events]
    assert certificate.logged
