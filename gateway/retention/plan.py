"""Dispositions for many records, one at a time.

``plan`` reads the records lazily and yields each disposition as soon as it is known,
so memory does not grow with the number of records: a job can stream a million rows
from the database and act on (or write out) each disposition before the next is read.
Students and holds are looked up by id; holds are few and indexed up front, students
may be given as a ``Mapping`` (for example one backed by the database) or as an
iterable, which is indexed by student id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import date

from gateway.retention.calendar import SchoolCalendar
from gateway.retention.schedule import (
    Disposition,
    DispositionKind,
    Hold,
    RecordFacts,
    RetentionSchedule,
    StudentFacts,
    dispose,
    require_day,
)


def plan(records: Iterable[RecordFacts],
         students: Mapping[str, StudentFacts] | Iterable[StudentFacts],
         holds: Iterable[Hold], today: date, schedule: RetentionSchedule,
         calendar: SchoolCalendar) -> Iterator[Disposition]:
    """Yield the disposition of each record in ``records``, in order, lazily.

    Raises (before yielding anything) if ``today`` is not a date or the same student
    is given twice with different facts: a run on contradictory input must not start.
    """
    require_day(today)
    by_student = students if isinstance(students, Mapping) else _index_students(students)
    index = _HoldIndex(holds)
    return _stream(records, by_student, index, today, schedule, calendar)


def _stream(records: Iterable[RecordFacts], students: Mapping[str, StudentFacts],
            holds: _HoldIndex, today: date, schedule: RetentionSchedule,
            calendar: SchoolCalendar) -> Iterator[Disposition]:
    for record in records:
        yield dispose(record, students.get(record.student_id), holds.for_record(record),
                      today, schedule, calendar)


def _index_students(students: Iterable[StudentFacts]) -> dict[str, StudentFacts]:
    index: dict[str, StudentFacts] = {}
    for student in students:
        seen = index.setdefault(student.student_id, student)
        if seen != student:
            raise ValueError(f"student {student.student_id!r} is given twice with different "
                             "facts")
    return index


class _HoldIndex:
    """Holds by the record or student they reach; holds that reach everything apart."""

    def __init__(self, holds: Iterable[Hold]) -> None:
        self.by_record: dict[str, list[Hold]] = {}
        self.by_student: dict[str, list[Hold]] = {}
        self.everywhere: list[Hold] = []
        for hold in holds:
            if hold.record_id is not None:
                self.by_record.setdefault(hold.record_id, []).append(hold)
            elif hold.student_id is not None:
                self.by_student.setdefault(hold.student_id, []).append(hold)
            else:
                self.everywhere.append(hold)

    def for_record(self, record: RecordFacts) -> list[Hold]:
        # dispose() checks applies_to() again, so a record-id hold naming another
        # student cannot leak across students.
        return [*self.by_record.get(record.record_id, ()),
                *self.by_student.get(record.student_id, ()), *self.everywhere]


class PlanSummary:
    """Running counts of dispositions, by kind and by rule.

    >>> summary = PlanSummary()
    >>> for disposition in summary.counting(plan(...)): ...  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self.by_kind: Counter[DispositionKind] = Counter()
        self.by_rule: Counter[str] = Counter()

    def add(self, disposition: Disposition) -> None:
        self.by_kind[disposition.kind] += 1
        self.by_rule[disposition.rule or "(none)"] += 1

    def counting(self, dispositions: Iterable[Disposition]) -> Iterator[Disposition]:
        """Pass ``dispositions`` through unchanged, counting each."""
        for disposition in dispositions:
            self.add(disposition)
            yield disposition

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def as_dict(self) -> dict[str, int]:
        """Every kind, zero included, in a fixed order; plus the total."""
        counts = {kind.value: self.by_kind[kind] for kind in DispositionKind}
        counts["total"] = self.total
        return counts


def summarize(dispositions: Iterable[Disposition]) -> PlanSummary:
    summary = PlanSummary()
    for disposition in dispositions:
        summary.add(disposition)
    return summary
