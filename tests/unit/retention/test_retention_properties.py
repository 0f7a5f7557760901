"""Properties over arbitrary facts: nothing permanent is ever eligible; holds always win."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.policy.facts import RecordCategory, RecordType
from gateway.retention import (
    DispositionKind,
    Hold,
    HoldKind,
    RecordFacts,
    RetentionSchedule,
    SchoolCalendar,
    StudentFacts,
    add_calendar_months,
    dispose,
)

K = DispositionKind
days = st.dates(min_value=date(1995, 1, 1), max_value=date(2045, 12, 31))
maybe_day = st.none() | days
calendars = st.builds(SchoolCalendar, st.integers(1, 12), st.integers(1, 28))
# Mostly known types, sometimes one the vocabulary does not know.
record_types = st.sampled_from([*RecordType, "", "photo", "HEALTH"])
student_ids = st.sampled_from(["stu-1", "stu-1", "stu-1", "stu-2"])

records = st.builds(
    RecordFacts, record_id=st.sampled_from(["rec-1", "rec-2"]), student_id=student_ids,
    record_type=record_types, school_year_of_origin=st.none() | st.integers(1995, 2045),
    originated_on=maybe_day,
    forwarded_to_another_district=st.sampled_from([False, False, False, True]),
    usefulness_ceased_on=maybe_day, usefulness_determined_by=st.sampled_from(["", "nurse"]),
    anecdotal_or_assessment=st.booleans(), dated=st.booleans(), signed=st.booleans())
student_facts = st.builds(
    StudentFacts, student_id=student_ids, left_district_on=maybe_day,
    program_completed_on=maybe_day, withdrawn_on=maybe_day, returned_on=maybe_day)
students = st.one_of(student_facts, student_facts, st.none())
holds = st.builds(
    Hold, kind=st.sampled_from(list(HoldKind)) | st.just("other"), reason=st.just("r"),
    owner=st.just("o"), placed_on=days, released_on=maybe_day,
    student_id=st.none() | student_ids, record_id=st.none() | st.sampled_from(["rec-1", "rec-2"]))
hold_lists = st.lists(holds, max_size=4)


@settings(max_examples=400)
@given(records, students, hold_lists, days, calendars,
       st.sampled_from([t for t in RecordType
                        if t.category is RecordCategory.MANDATORY_PERMANENT]))
def test_nothing_permanent_is_ever_eligible(
        schedule: RetentionSchedule, record: RecordFacts, student: StudentFacts | None,
        holds: list[Hold], today: date, calendar: SchoolCalendar,
        permanent: RecordType) -> None:
    d = dispose(replace(record, record_type=permanent), student, holds, today, schedule,
                calendar)
    assert d.kind is K.KEEP and not d.may_destroy


@settings(max_examples=400)
@given(records, students, hold_lists, days, calendars)
def test_holds_always_win(schedule: RetentionSchedule, record: RecordFacts,
                          student: StudentFacts | None, holds: list[Hold], today: date,
                          calendar: SchoolCalendar) -> None:
    free = dispose(record, student, [], today, schedule, calendar)
    held = dispose(record, student, holds, today, schedule, calendar)
    in_force = [h for h in holds if h.applies_to(record) and h.in_force_on(today)]
    if free.kind is K.ELIGIBLE and in_force:
        assert held.kind is K.HELD and held.holds == tuple(in_force)
    elif free.kind is K.ELIGIBLE:
        assert held.kind is K.ELIGIBLE
    else:
        assert held.kind is free.kind  # a hold never makes anything destroyable
    if in_force:
        assert not held.may_destroy


@settings(max_examples=400)
@given(records, students, days, calendars)
def test_eligibility_keeps_to_the_law(schedule: RetentionSchedule, record: RecordFacts,
                                      student: StudentFacts | None, today: date,
                                      calendar: SchoolCalendar) -> None:
    d = dispose(record, student, [], today, schedule, calendar)
    if d.kind is not K.ELIGIBLE:
        if d.kind is K.NOT_YET and d.eligible_from is not None:
            assert today < d.eligible_from and not d.missing
        return
    assert d.eligible_from is not None and d.eligible_from <= today and not d.missing
    category = RecordType(record.record_type).category
    assert category in (RecordCategory.MANDATORY_INTERIM, RecordCategory.PERMITTED)
    if category is RecordCategory.MANDATORY_INTERIM:
        assert not record.forwarded_to_another_district
        origin = record.school_year_of_origin
        if origin is None:
            assert record.originated_on is not None
            origin = calendar.school_year_of(record.originated_on)
        assert d.eligible_from >= calendar.first_day(origin + 3)
        assert calendar.school_year_of(d.eligible_from) >= origin + 3
    else:
        assert student is not None and student.student_id == record.student_id
        ended = [e for e in (student.program_completed_on, student.withdrawn_on)
                 if e is not None]
        assert ended and d.eligible_from >= add_calendar_months(max(ended), 6)
        assert d.eligible_from >= max(ended) + timedelta(days=181)


@settings(max_examples=300)
@given(records, students, days, st.integers(1, 3000), calendars)
def test_once_eligible_a_record_stays_eligible(
        schedule: RetentionSchedule, record: RecordFacts, student: StudentFacts | None,
        today: date, later: int, calendar: SchoolCalendar) -> None:
    d = dispose(record, student, [], today, schedule, calendar)
    if d.kind is K.ELIGIBLE:
        after = dispose(record, student, [], today + timedelta(days=later), schedule, calendar)
        assert after.kind is K.ELIGIBLE and after.eligible_from == d.eligible_from


# Facts built to be eligible, so that the hold property is exercised on every example.
INTERIM = [t for t in RecordType if t.category is RecordCategory.MANDATORY_INTERIM]
PERMITTED = [t for t in RecordType if t.category is RecordCategory.PERMITTED]


@st.composite
def eligible_cases(draw: st.DrawFn) -> tuple[RecordFacts, StudentFacts, date, SchoolCalendar]:
    calendar = draw(calendars)
    ended = draw(days)
    student = StudentFacts("stu-1", left_district_on=ended, program_completed_on=ended)
    if draw(st.booleans()):
        origin = draw(st.integers(1995, 2040))
        record = RecordFacts("rec-1", "stu-1", draw(st.sampled_from(INTERIM)),
                             school_year_of_origin=origin)
        opens = max(calendar.first_day(origin + 3), ended)
    else:
        record = RecordFacts("rec-1", "stu-1", draw(st.sampled_from(PERMITTED)))
        opens = add_calendar_months(ended, 6)
    return record, student, opens + timedelta(days=draw(st.integers(0, 2000))), calendar


@settings(max_examples=300)
@given(eligible_cases(), st.lists(holds, min_size=1, max_size=4))
def test_a_hold_in_force_always_wins_over_an_eligible_record(
        schedule: RetentionSchedule,
        case: tuple[RecordFacts, StudentFacts, date, SchoolCalendar],
        some_holds: list[Hold]) -> None:
    record, student, today, calendar = case
    assert dispose(record, student, [], today, schedule, calendar).kind is K.ELIGIBLE
    # Bring every hold into force on today, in reach of this record.
    forced = [replace(h, placed_on=min(h.placed_on, today), released_on=None,
                      record_id=None, student_id="stu-1") for h in some_holds]
    d = dispose(record, student, forced, today, schedule, calendar)
    assert d.kind is K.HELD and d.holds == tuple(forced) and not d.may_destroy
