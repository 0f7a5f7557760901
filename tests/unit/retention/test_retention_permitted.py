"""Permitted records: AR 5125(l)-(m); 5 CCR 432, 437.

Destroyable six calendar months, to the day, after the student completes or withdraws
from the educational program; a shorter month clamps to its last day.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from gateway.policy.facts import RecordType
from gateway.retention import (
    DispositionKind,
    DistrictOverride,
    RecordFacts,
    RetentionSchedule,
    SchoolCalendar,
    StudentFacts,
    dispose,
)

K = DispositionKind
ENDED = "the student's completion of or withdrawal from the educational program"
RATING = RecordFacts(record_id="rec-9", student_id="stu-1",
                     record_type=RecordType.COUNSELOR_TEACHER_RATING,
                     school_year_of_origin=2023)


def with_override(schedule: RetentionSchedule, override: DistrictOverride) -> RetentionSchedule:
    entry = replace(schedule.records[RecordType.COUNSELOR_TEACHER_RATING], override=override)
    return replace(schedule, records={**schedule.records,
                                      RecordType.COUNSELOR_TEACHER_RATING: entry})


def test_six_months_to_the_day_after_completion(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    student = StudentFacts("stu-1", program_completed_on=date(2024, 6, 10))
    before = dispose(RATING, student, [], date(2024, 12, 9), schedule, school_calendar)
    on = dispose(RATING, student, [], date(2024, 12, 10), schedule, school_calendar)
    assert before.kind is K.NOT_YET and before.eligible_from == date(2024, 12, 10)
    assert on.kind is K.ELIGIBLE and on.eligible_from == date(2024, 12, 10)
    assert on.rule == "permitted_six_months"
    assert on.citations == ("5 CCR 432", "5 CCR 437")
    assert any("completed" in r for r in on.reasons)


@pytest.mark.parametrize(("withdrawn", "eligible"), [
    (date(2024, 8, 31), date(2025, 2, 28)),  # Aug 31 + 6 months: clamped to Feb 28
    (date(2023, 8, 31), date(2024, 2, 29)),  # ...and to Feb 29 in a leap year
    (date(2024, 2, 29), date(2024, 8, 29)),  # from Feb 29
    (date(2023, 12, 31), date(2024, 6, 30)),
])
def test_month_end_clamping_and_leap_years(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar, withdrawn: date,
        eligible: date) -> None:
    student = StudentFacts("stu-1", withdrawn_on=withdrawn)
    day_before = dispose(RATING, student, [], eligible - timedelta(days=1), schedule,
                         school_calendar)
    on = dispose(RATING, student, [], eligible, schedule, school_calendar)
    assert day_before.kind is K.NOT_YET and day_before.eligible_from == eligible
    assert on.kind is K.ELIGIBLE and on.eligible_from == eligible
    assert any("withdrew" in r for r in on.reasons)


def test_an_enrolled_student_keeps_permitted_records(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    d = dispose(RATING, StudentFacts("stu-1"), [], date(2040, 1, 1), schedule,
                school_calendar)
    assert d.kind is K.NOT_YET and d.missing == (ENDED,) and d.eligible_from is None


def test_no_student_facts_fails_closed(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    d = dispose(RATING, None, [], date(2040, 1, 1), schedule, school_calendar)
    assert d.kind is K.NOT_YET and d.missing == (ENDED,)


def test_a_student_who_withdraws_and_returns_stops_the_clock(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    back = StudentFacts("stu-1", withdrawn_on=date(2024, 3, 1), returned_on=date(2024, 9, 3))
    d = dispose(RATING, back, [], date(2030, 1, 1), schedule, school_calendar)
    assert d.kind is K.NOT_YET and d.missing == (ENDED,)
    assert any("enrolled again" in r for r in d.reasons)


def test_after_returning_the_clock_runs_from_the_later_completion(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    student = StudentFacts("stu-1", withdrawn_on=date(2022, 3, 1),
                           returned_on=date(2022, 9, 1), program_completed_on=date(2024, 6, 10))
    d = dispose(RATING, student, [], date(2024, 12, 10), schedule, school_calendar)
    assert d.kind is K.ELIGIBLE and d.eligible_from == date(2024, 12, 10)


def test_a_completion_after_a_withdrawal_means_the_student_came_back(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    # No return recorded, but completing later implies one: the later end counts.
    student = StudentFacts("stu-1", withdrawn_on=date(2022, 3, 1),
                           program_completed_on=date(2024, 6, 10))
    d = dispose(RATING, student, [], date(2024, 12, 9), schedule, school_calendar)
    assert d.kind is K.NOT_YET and d.eligible_from == date(2024, 12, 10)


def test_a_return_on_the_day_of_departure_counts_as_enrolled(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    student = StudentFacts("stu-1", withdrawn_on=date(2024, 3, 1), returned_on=date(2024, 3, 1))
    d = dispose(RATING, student, [], date(2030, 1, 1), schedule, school_calendar)
    assert d.kind is K.NOT_YET


def test_a_forwarded_copy_does_not_change_this_districts_rule(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    student = StudentFacts("stu-1", program_completed_on=date(2024, 6, 10))
    d = dispose(replace(RATING, forwarded_to_another_district=True), student, [],
                date(2024, 12, 10), schedule, school_calendar)
    assert d.kind is K.ELIGIBLE
    assert any("forwarded" in r for r in d.reasons)


def test_a_district_may_keep_permitted_records_longer(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    longer = with_override(schedule, DistrictOverride(reason="board direction", months=12))
    student = StudentFacts("stu-1", withdrawn_on=date(2024, 2, 29))
    d = dispose(RATING, student, [], date(2025, 2, 27), longer, school_calendar)
    assert d.kind is K.NOT_YET and d.eligible_from == date(2025, 2, 28)
    assert d.override == "board direction"


def test_a_district_may_keep_permitted_records_permanently(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    forever = with_override(schedule, DistrictOverride(reason="archive", keep_permanently=True))
    student = StudentFacts("stu-1", withdrawn_on=date(2020, 1, 1))
    d = dispose(RATING, student, [], date(2040, 1, 1), forever, school_calendar)
    assert d.kind is K.KEEP and d.override == "archive"
