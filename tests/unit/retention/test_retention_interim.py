"""Mandatory interim records: AR 5125(k)-(l); 5 CCR 432, 437.

Destroyable from the first day of the third school year after the year of origin, and
only once usefulness has been determined to have ceased or the student has left.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

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
DEPARTURE = "usefulness determination or the student's departure"


def health(**facts: object) -> RecordFacts:
    base = RecordFacts(record_id="rec-1", student_id="stu-1", record_type=RecordType.HEALTH,
                       school_year_of_origin=2022)
    return replace(base, **facts)


LEFT = StudentFacts("stu-1", left_district_on=date(2023, 5, 1))
ENROLLED = StudentFacts("stu-1")


def test_last_day_of_the_second_school_year_is_not_yet(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    # Origin 2022-23: 2023-24 is the first year after it, 2024-25 the second.
    d = dispose(health(), LEFT, [], date(2025, 6, 30), schedule, school_calendar)
    assert d.kind is K.NOT_YET
    assert d.eligible_from == date(2025, 7, 1)
    assert d.missing == ()
    assert not d.may_destroy


def test_first_day_of_the_third_school_year_is_eligible(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    d = dispose(health(), LEFT, [], date(2025, 7, 1), schedule, school_calendar)
    assert d.kind is K.ELIGIBLE and d.may_destroy
    assert d.eligible_from == date(2025, 7, 1)
    assert d.rule == "interim_third_school_year"
    assert "5 CCR 437" in d.citations and "5 CCR 432" in d.citations
    assert d.section == "AR 5125(k), mandatory interim records, item 3"
    assert any("2025-26" in r for r in d.reasons)
    assert any("public inspection" in o and "5 CCR 437" in o for o in d.obligations)


def test_the_year_of_origin_follows_from_the_date_it_originated(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    june = health(school_year_of_origin=None, originated_on=date(2023, 6, 30))
    july = health(school_year_of_origin=None, originated_on=date(2023, 7, 1))
    today = date(2025, 7, 1)
    assert dispose(june, LEFT, [], today, schedule, school_calendar).kind is K.ELIGIBLE
    later = dispose(july, LEFT, [], today, schedule, school_calendar)
    assert later.kind is K.NOT_YET and later.eligible_from == date(2026, 7, 1)


def test_a_determination_after_the_third_year_begins_sets_the_date(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    record = health(usefulness_ceased_on=date(2025, 9, 15),
                    usefulness_determined_by="custodian of records")
    before = dispose(record, ENROLLED, [], date(2025, 9, 14), schedule, school_calendar)
    on = dispose(record, ENROLLED, [], date(2025, 9, 15), schedule, school_calendar)
    assert before.kind is K.NOT_YET and before.eligible_from == date(2025, 9, 15)
    assert on.kind is K.ELIGIBLE and on.eligible_from == date(2025, 9, 15)
    assert any("custodian of records" in r for r in on.reasons)


def test_either_event_suffices_so_the_earlier_counts(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    record = health(usefulness_ceased_on=date(2025, 10, 1), usefulness_determined_by="nurse")
    student = StudentFacts("stu-1", left_district_on=date(2025, 8, 1))
    d = dispose(record, student, [], date(2025, 8, 1), schedule, school_calendar)
    assert d.kind is K.ELIGIBLE and d.eligible_from == date(2025, 8, 1)


def test_without_determination_or_departure_never_eligible(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    d = dispose(health(), ENROLLED, [], date(2040, 1, 1), schedule, school_calendar)
    assert d.kind is K.NOT_YET
    assert d.missing == (DEPARTURE,)
    assert d.eligible_from is None


def test_a_determination_must_say_who_made_it(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    record = health(usefulness_ceased_on=date(2024, 1, 1), usefulness_determined_by=" ")
    d = dispose(record, ENROLLED, [], date(2030, 1, 1), schedule, school_calendar)
    assert d.kind is K.NOT_YET and d.missing == (DEPARTURE,)
    assert any("who determined" in r for r in d.reasons)


def test_a_student_who_leaves_and_returns_stops_the_clock(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    back = StudentFacts("stu-1", left_district_on=date(2023, 5, 1),
                        returned_on=date(2023, 9, 1))
    d = dispose(health(), back, [], date(2030, 1, 1), schedule, school_calendar)
    assert d.kind is K.NOT_YET and d.missing == (DEPARTURE,)
    assert any("enrolled again" in r for r in d.reasons)


def test_a_student_who_returns_and_leaves_again_restarts_from_the_last_departure(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    again = StudentFacts("stu-1", returned_on=date(2023, 9, 1),
                         left_district_on=date(2026, 2, 1))
    d = dispose(health(), again, [], date(2026, 2, 1), schedule, school_calendar)
    assert d.kind is K.ELIGIBLE and d.eligible_from == date(2026, 2, 1)


def test_a_determination_made_before_the_student_returned_no_longer_counts(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    back = StudentFacts("stu-1", left_district_on=date(2023, 5, 1),
                        returned_on=date(2023, 9, 1))
    stale = health(usefulness_ceased_on=date(2023, 6, 1), usefulness_determined_by="nurse")
    fresh = health(usefulness_ceased_on=date(2024, 1, 1), usefulness_determined_by="nurse")
    today = date(2026, 1, 1)
    assert dispose(stale, back, [], today, schedule, school_calendar).kind is K.NOT_YET
    assert dispose(fresh, back, [], today, schedule, school_calendar).kind is K.ELIGIBLE


def test_forwarded_interim_records_are_not_destroyed_under_this_rule(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    d = dispose(health(forwarded_to_another_district=True), LEFT, [], date(2040, 1, 1),
                schedule, school_calendar)
    assert d.kind is K.NO_RULE and not d.may_destroy
    assert any("forwarded to another district" in r and "excepts" in r for r in d.reasons)


def test_missing_school_year_of_origin_fails_closed(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    d = dispose(health(school_year_of_origin=None), LEFT, [], date(2040, 1, 1), schedule,
                school_calendar)
    assert d.kind is K.NOT_YET and d.missing == ("the school year of origin",)
    assert d.eligible_from is None


def test_a_year_of_origin_that_disagrees_with_the_date_fails_closed(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    record = health(school_year_of_origin=2020, originated_on=date(2023, 1, 10))
    d = dispose(record, LEFT, [], date(2040, 1, 1), schedule, school_calendar)
    assert d.kind is K.NOT_YET and d.eligible_from is None
    assert any("disagrees" in r for r in d.reasons)


def test_no_student_facts_and_no_determination_fails_closed(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    d = dispose(health(), None, [], date(2040, 1, 1), schedule, school_calendar)
    assert d.kind is K.NOT_YET and d.missing == (DEPARTURE,)


def test_facts_about_another_student_are_ignored(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    other = StudentFacts("stu-2", left_district_on=date(2023, 5, 1))
    d = dispose(health(), other, [], date(2040, 1, 1), schedule, school_calendar)
    assert d.kind is K.NOT_YET
    assert any("stu-2" in r for r in d.reasons)


def test_an_undated_assessment_report_has_no_origin(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    record = health(anecdotal_or_assessment=True, dated=False, signed=True)
    d = dispose(record, LEFT, [], date(2040, 1, 1), schedule, school_calendar)
    assert d.kind is K.NOT_YET
    assert d.missing == ("the originator's date on the record (5 CCR 431)",)
    assert "5 CCR 431" in d.citations


def test_an_unsigned_assessment_report_is_noted_but_follows_the_rule(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    record = health(anecdotal_or_assessment=True, dated=True, signed=False)
    d = dispose(record, LEFT, [], date(2025, 7, 1), schedule, school_calendar)
    assert d.kind is K.ELIGIBLE
    assert any("not signed" in r and "5 CCR 431" in r for r in d.reasons)


def test_the_third_year_follows_a_configured_boundary(schedule: RetentionSchedule) -> None:
    august = SchoolCalendar(start_month=8, start_day=15)
    before = dispose(health(), LEFT, [], date(2025, 8, 14), schedule, august)
    on = dispose(health(), LEFT, [], date(2025, 8, 15), schedule, august)
    assert before.kind is K.NOT_YET and on.kind is K.ELIGIBLE
    assert on.eligible_from == date(2025, 8, 15)


def test_a_district_may_keep_interim_records_a_year_longer(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    entry = replace(schedule.records[RecordType.HEALTH],
                    override=DistrictOverride(reason="board direction", school_years=4))
    longer = replace(schedule, records={**schedule.records, RecordType.HEALTH: entry})
    d = dispose(health(), LEFT, [], date(2026, 6, 30), longer, school_calendar)
    assert d.kind is K.NOT_YET and d.eligible_from == date(2026, 7, 1)
    assert d.override == "board direction"
    assert any("fourth" in r for r in d.reasons)
