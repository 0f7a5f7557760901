"""Holds stop the destruction of records the schedule would let go."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.policy.facts import RecordType
from gateway.retention import (
    DispositionKind,
    Hold,
    HoldKind,
    RecordFacts,
    RetentionSchedule,
    SchoolCalendar,
    StudentFacts,
    dispose,
)

K = DispositionKind
TODAY = date(2025, 7, 1)
RECORD = RecordFacts(record_id="rec-1", student_id="stu-1", record_type=RecordType.HEALTH,
                     school_year_of_origin=2022)
LEFT = StudentFacts("stu-1", left_district_on=date(2023, 5, 1))


def hold(kind: HoldKind | str = HoldKind.LEGAL_HOLD, **facts: object) -> Hold:
    defaults: dict[str, object] = {"reason": "why", "owner": "counsel",
                                   "placed_on": date(2025, 1, 1), "record_id": "rec-1"}
    defaults.update(facts)
    return Hold(kind, **defaults)  # type: ignore[arg-type]


def disposition(schedule: RetentionSchedule, school_calendar: SchoolCalendar,
                *holds: Hold, today: date = TODAY) -> DispositionKind:
    return dispose(RECORD, LEFT, holds, today, schedule, school_calendar).kind


@pytest.mark.parametrize("kind", list(HoldKind))
def test_each_kind_of_hold_stops_an_eligible_record(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar, kind: HoldKind) -> None:
    h = hold(kind, reason=f"{kind} reason", owner="records office")
    d = dispose(RECORD, LEFT, [h], TODAY, schedule, school_calendar)
    assert d.kind is K.HELD and not d.may_destroy
    assert d.holds == (h,)
    assert d.eligible_from == date(2025, 7, 1)  # still says when it became eligible
    assert d.obligations == ()
    assert any(str(kind) in r and "records office" in r for r in d.reasons)


def test_a_released_hold_no_longer_stops_destruction(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    released = hold(released_on=date(2025, 3, 1))
    d = dispose(RECORD, LEFT, [released], TODAY, schedule, school_calendar)
    assert d.kind is K.ELIGIBLE and d.holds == ()
    assert any("released on 2025-03-01" in r for r in d.reasons)


def test_a_hold_released_today_is_released_and_one_released_tomorrow_is_not(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    assert disposition(schedule, school_calendar, hold(released_on=TODAY)) is K.ELIGIBLE
    assert disposition(schedule, school_calendar,
                       hold(released_on=date(2025, 7, 2))) is K.HELD


def test_a_hold_placed_after_today_does_not_speak_for_today(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    later = hold(placed_on=date(2025, 7, 2))
    assert disposition(schedule, school_calendar, later) is K.ELIGIBLE
    assert disposition(schedule, school_calendar, hold(placed_on=TODAY)) is K.HELD


def test_a_release_dated_before_the_hold_is_contradictory_and_the_hold_stands(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    odd = hold(placed_on=date(2025, 3, 1), released_on=date(2025, 2, 1))
    assert disposition(schedule, school_calendar, odd) is K.HELD


def test_holds_reach_their_record_their_student_or_everything(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    assert disposition(schedule, school_calendar, hold(record_id="rec-2")) is K.ELIGIBLE
    assert disposition(schedule, school_calendar,
                       hold(record_id=None, student_id="stu-2")) is K.ELIGIBLE
    assert disposition(schedule, school_calendar,
                       hold(record_id="rec-1", student_id="stu-2")) is K.ELIGIBLE
    assert disposition(schedule, school_calendar,
                       hold(record_id=None, student_id="stu-1")) is K.HELD
    assert disposition(schedule, school_calendar, hold(record_id=None)) is K.HELD


def test_an_unknown_hold_kind_is_honoured(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    d = dispose(RECORD, LEFT, [hold("board_inquiry")], TODAY, schedule, school_calendar)
    assert d.kind is K.HELD
    assert any("'board_inquiry' is not a hold kind" in r for r in d.reasons)


def test_every_hold_in_force_is_listed(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    holds = [hold(HoldKind.AUDIT), hold(HoldKind.PENDING_CHALLENGE),
             hold(HoldKind.OPEN_COPY_REQUEST, released_on=date(2025, 2, 1))]
    d = dispose(RECORD, LEFT, holds, TODAY, schedule, school_calendar)
    assert d.kind is K.HELD and d.holds == tuple(holds[:2])


def test_a_hold_on_a_record_not_yet_eligible_leaves_it_not_yet(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    d = dispose(RECORD, LEFT, [hold()], date(2025, 6, 30), schedule, school_calendar)
    assert d.kind is K.NOT_YET and d.eligible_from == date(2025, 7, 1)
