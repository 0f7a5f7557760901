"""School years and calendar months: the date arithmetic the retention rules need.

Pure: no clock, no files. A school year is named by the calendar year it starts in,
so the California year 2022-23 (July 1, 2022 - June 30, 2023) is 2022.
"""

from __future__ import annotations

import calendar as _gregorian
from dataclasses import dataclass
from datetime import date, timedelta

# Education Code 37200: the school year begins on July 1 and ends on June 30.
CALIFORNIA_START_MONTH = 7
CALIFORNIA_START_DAY = 1


def boundary_problem(start_month: object, start_day: object) -> tuple[str, str] | None:
    """(key, problem) if this month/day cannot begin every school year, else None."""
    if isinstance(start_month, bool) or not isinstance(start_month, int):
        return ("start_month", "a whole number from 1 to 12 is required")
    if not 1 <= start_month <= 12:
        return ("start_month", f"{start_month} is not a month (1-12)")
    if isinstance(start_day, bool) or not isinstance(start_day, int):
        return ("start_day", "a whole number is required")
    # February 29 exists only in leap years; a boundary must exist every year.
    longest = 28 if start_month == 2 else _gregorian.monthrange(2001, start_month)[1]
    if not 1 <= start_day <= longest:
        return ("start_day", f"{start_day} is not a day of month {start_month} in every "
                f"year (1-{longest})")
    return None


@dataclass(frozen=True, slots=True)
class SchoolCalendar:
    """Where one school year ends and the next begins (default: July 1, California)."""

    start_month: int = CALIFORNIA_START_MONTH
    start_day: int = CALIFORNIA_START_DAY

    def __post_init__(self) -> None:
        problem = boundary_problem(self.start_month, self.start_day)
        if problem:
            raise ValueError(f"{problem[0]}: {problem[1]}")

    def school_year_of(self, day: date) -> int:
        """The school year (by its starting calendar year) that contains ``day``."""
        starts_this_year = (day.month, day.day) >= (self.start_month, self.start_day)
        return day.year if starts_this_year else day.year - 1

    def first_day(self, school_year: int) -> date:
        return date(school_year, self.start_month, self.start_day)

    def last_day(self, school_year: int) -> date:
        # The day before the next year starts: Feb 28 or 29 falls out for a March start.
        return self.first_day(school_year + 1) - timedelta(days=1)

    def label(self, school_year: int) -> str:
        """How schools write it: 2022 -> "2022-23" (a January start: "2022")."""
        if (self.start_month, self.start_day) == (1, 1):
            return str(school_year)
        return f"{school_year}-{(school_year + 1) % 100:02d}"


CALIFORNIA = SchoolCalendar()


def add_calendar_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, to the same day of the month.

    When the target month is shorter the result is its last day (Aug 31 + 6 months
    is Feb 28, or Feb 29 in a leap year): the period never spills into the next month.
    """
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = _gregorian.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))
