"""Permanent records, directory information, and what the schedule does not know."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from gateway.policy.facts import RecordCategory, RecordType
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
PERMANENT = [t for t in RecordType if t.category is RecordCategory.MANDATORY_PERMANENT]
GONE = StudentFacts("stu-1", left_district_on=date(2001, 1, 1),
                    program_completed_on=date(2001, 1, 1), withdrawn_on=date(2001, 1, 1))


def record(record_type: RecordType | str, **facts: object) -> RecordFacts:
    base = RecordFacts(record_id="rec-1", student_id="stu-1", record_type=record_type,
                       school_year_of_origin=1990, usefulness_ceased_on=date(1991, 1, 1),
                       usefulness_determined_by="custodian of records")
    return replace(base, **facts)


@pytest.mark.parametrize("record_type", PERMANENT)
def test_mandatory_permanent_records_are_kept_indefinitely(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar,
        record_type: RecordType) -> None:
    d = dispose(record(record_type), GONE, [], date(2100, 1, 1), schedule, school_calendar)
    assert d.kind is K.KEEP and not d.may_destroy
    assert d.rule == "permanent" and d.eligible_from is None
    assert "5 CCR 432" in d.citations and "5 CCR 437" in d.citations


def test_a_forwarded_permanent_record_is_still_kept_here(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    d = dispose(record(RecordType.COURSES_AND_MARKS, forwarded_to_another_district=True),
                GONE, [], date(2100, 1, 1), schedule, school_calendar)
    assert d.kind is K.KEEP
    assert any("5 CCR 438" in r and "permanently" in r for r in d.reasons)


def test_directory_information_is_not_a_student_record(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    d = dispose(record(RecordType.DIRECTORY_INFORMATION), GONE, [], date(2100, 1, 1),
                schedule, school_calendar)
    assert d.kind is K.NO_RULE and not d.may_destroy
    assert any("not a student record" in r for r in d.reasons)
    assert "Education Code 49061" in d.citations


def test_an_unknown_record_type_is_never_eligible(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    d = dispose(record("cafeteria_photo"), GONE, [], date(2100, 1, 1), schedule,
                school_calendar)
    assert d.kind is K.NO_RULE and d.record_type == "cafeteria_photo"
    assert any("unknown record type" in r for r in d.reasons)


def test_a_record_type_missing_from_a_schedule_is_never_eligible(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    partial = replace(schedule, records={t: e for t, e in schedule.records.items()
                                         if t is not RecordType.HEALTH})
    d = dispose(record(RecordType.HEALTH), GONE, [], date(2100, 1, 1), partial,
                school_calendar)
    assert d.kind is K.NO_RULE


def test_holds_do_not_change_what_is_kept(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    hold = Hold(HoldKind.LEGAL_HOLD, "litigation", "counsel", date(2000, 1, 1))
    d = dispose(record(RecordType.LEGAL_NAME), GONE, [hold], date(2100, 1, 1), schedule,
                school_calendar)
    assert d.kind is K.KEEP and d.holds == ()


def test_a_datetime_is_not_a_day(schedule: RetentionSchedule,
                                 school_calendar: SchoolCalendar) -> None:
    with pytest.raises(TypeError, match="date"):
        dispose(record(RecordType.HEALTH), GONE, [], datetime(2030, 1, 1), schedule,
                school_calendar)
