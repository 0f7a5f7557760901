"""plan(): a lazy stream of dispositions, and the summary counter."""

from __future__ import annotations

import gc
import itertools
import tracemalloc
from collections.abc import Iterator
from datetime import date, datetime

import pytest

from gateway.policy.facts import RecordType
from gateway.retention import (
    DispositionKind,
    Hold,
    HoldKind,
    PlanSummary,
    RecordFacts,
    RetentionSchedule,
    SchoolCalendar,
    StudentFacts,
    dispose,
    plan,
    summarize,
)

K = DispositionKind
TODAY = date(2025, 7, 1)
STUDENTS = [StudentFacts("stu-1", left_district_on=date(2023, 5, 1)),
            StudentFacts("stu-2"),
            StudentFacts("stu-3", program_completed_on=date(2024, 6, 10))]
RECORDS = [
    RecordFacts("r1", "stu-1", RecordType.HEALTH, school_year_of_origin=2022),
    RecordFacts("r2", "stu-2", RecordType.HEALTH, school_year_of_origin=2022),
    RecordFacts("r3", "stu-1", RecordType.LEGAL_NAME),
    RecordFacts("r4", "stu-3", RecordType.ROUTINE_DISCIPLINE),
    RecordFacts("r5", "stu-1", RecordType.IEP, school_year_of_origin=2021),
    RecordFacts("r6", "stu-9", RecordType.DIRECTORY_INFORMATION),
]
HOLDS = [Hold(HoldKind.PENDING_CHALLENGE, "challenge under review", "principal",
              date(2025, 6, 1), record_id="r5", student_id="stu-1"),
         Hold(HoldKind.AUDIT, "state audit", "auditor", date(2025, 6, 1), record_id="r4",
              student_id="stu-1")]  # names the wrong student: must not reach r4


def test_plan_yields_one_disposition_per_record_in_order(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    out = list(plan(RECORDS, STUDENTS, HOLDS, TODAY, schedule, school_calendar))
    assert [d.record_id for d in out] == ["r1", "r2", "r3", "r4", "r5", "r6"]
    assert [d.kind for d in out] == [K.ELIGIBLE, K.NOT_YET, K.KEEP, K.ELIGIBLE, K.HELD,
                                     K.NO_RULE]
    assert out[4].holds == (HOLDS[0],)


def test_plan_agrees_with_dispose_and_takes_a_mapping_of_students(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    by_id = {s.student_id: s for s in STUDENTS}
    streamed = list(plan(iter(RECORDS), by_id, iter(HOLDS), TODAY, schedule, school_calendar))
    one_by_one = [dispose(r, by_id.get(r.student_id), HOLDS, TODAY, schedule, school_calendar)
                  for r in RECORDS]
    assert streamed == one_by_one


def test_plan_is_lazy(schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    endless = (RecordFacts(f"r{i}", "stu-1", RecordType.HEALTH, school_year_of_origin=2022)
               for i in itertools.count())
    first = list(itertools.islice(plan(endless, STUDENTS, [], TODAY, schedule,
                                       school_calendar), 3))
    assert [d.record_id for d in first] == ["r0", "r1", "r2"]


def _records(n: int) -> Iterator[RecordFacts]:
    types = [RecordType.HEALTH, RecordType.LEGAL_NAME, RecordType.ROUTINE_DISCIPLINE]
    for i in range(n):
        yield RecordFacts(f"rec-{i}", f"stu-{i % 3 + 1}", types[i % 3],
                          school_year_of_origin=2022)


def _peak(n: int, schedule: RetentionSchedule, calendar: SchoolCalendar) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        summary = PlanSummary()
        for _ in summary.counting(plan(_records(n), STUDENTS, HOLDS, TODAY, schedule,
                                       calendar)):
            pass
        assert summary.total == n
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_in_the_number_of_records(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    small = _peak(1_000, schedule, school_calendar)
    large = _peak(20_000, schedule, school_calendar)
    # Twenty times the records must not cost anything like twenty times the memory.
    assert large < small * 2 + 64 * 1024, (small, large)


def test_contradictory_student_facts_stop_the_run_before_it_starts(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    twice = [*STUDENTS, StudentFacts("stu-2", left_district_on=date(2024, 1, 1))]
    with pytest.raises(ValueError, match="stu-2"):
        plan(RECORDS, twice, [], TODAY, schedule, school_calendar)
    same_twice = [*STUDENTS, StudentFacts("stu-2")]
    assert len(list(plan(RECORDS, same_twice, [], TODAY, schedule, school_calendar))) == 6


def test_a_datetime_today_is_refused_when_plan_is_called(
        schedule: RetentionSchedule, school_calendar: SchoolCalendar) -> None:
    with pytest.raises(TypeError):
        plan(RECORDS, STUDENTS, [], datetime(2025, 7, 1), schedule, school_calendar)


def test_the_summary_counts_every_kind(schedule: RetentionSchedule,
                                       school_calendar: SchoolCalendar) -> None:
    summary = summarize(plan(RECORDS, STUDENTS, HOLDS, TODAY, schedule, school_calendar))
    assert summary.as_dict() == {"keep": 1, "not_yet": 1, "eligible": 2, "held": 1,
                                 "no_rule": 1, "total": 6}
    assert summary.by_rule["interim_third_school_year"] == 3
    assert summary.by_rule["not_a_student_record"] == 1


def test_counting_passes_dispositions_through(schedule: RetentionSchedule,
                                              school_calendar: SchoolCalendar) -> None:
    summary = PlanSummary()
    passed = list(summary.counting(plan(RECORDS, STUDENTS, HOLDS, TODAY, schedule,
                                        school_calendar)))
    assert len(passed) == summary.total == 6
    assert summary.by_kind[K.HELD] == 1
