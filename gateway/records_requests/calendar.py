"""Business days on the district's calendar: when a request must be answered.

Ed Code 49069: access within five business days following the date of the request.
The day of the request does not count; Saturdays, Sundays and the days the district
names as closures (holidays, winter break) are not business days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

DAYS_TO_ANSWER = 5  # Ed Code 49069


@dataclass(frozen=True, slots=True)
class DistrictCalendar:
    closures: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def closed_on(cls, days: Iterable[date]) -> DistrictCalendar:
        return cls(frozenset(days))

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.closures

    def add_business_days(self, day: date, count: int) -> date:
        """The ``count``-th business day after ``day`` (``day`` itself not counted)."""
        if count < 1:
            raise ValueError("count must be at least one business day")
        # A run of closures longer than a year is a broken calendar, not a long wait.
        limit = day + timedelta(days=366 + 7 * count)
        while count:
            day += timedelta(days=1)
            if day > limit:
                raise ValueError("the district calendar has no business day for a year")
            if self.is_business_day(day):
                count -= 1
        return day

    def due_date(self, requested_on: date) -> date:
        """The last day on which access must have been granted (Ed Code 49069)."""
        return self.add_business_days(requested_on, DAYS_TO_ANSWER)
