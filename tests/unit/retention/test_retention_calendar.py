"""School years and calendar months at their edges."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.retention import CALIFORNIA, SchoolCalendar, add_calendar_months


def test_the_shipped_calendar_is_californias(school_calendar: SchoolCalendar) -> None:
    assert school_calendar == CALIFORNIA == SchoolCalendar(7, 1)


@pytest.mark.parametrize(("day", "year"), [
    (date(2022, 7, 1), 2022), (date(2023, 6, 30), 2022), (date(2023, 7, 1), 2023),
    (date(2023, 1, 1), 2022), (date(2024, 2, 29), 2023), (date(2022, 6, 30), 2021),
])
def test_school_year_of_a_day_in_california(day: date, year: int) -> None:
    assert CALIFORNIA.school_year_of(day) == year


def test_first_and_last_day_of_a_california_school_year() -> None:
    assert CALIFORNIA.first_day(2022) == date(2022, 7, 1)
    assert CALIFORNIA.last_day(2022) == date(2023, 6, 30)
    assert CALIFORNIA.label(2022) == "2022-23"
    assert CALIFORNIA.label(1999) == "1999-00"


def test_a_configurable_boundary() -> None:
    august = SchoolCalendar(start_month=8, start_day=15)
    assert august.school_year_of(date(2024, 8, 14)) == 2023
    assert august.school_year_of(date(2024, 8, 15)) == 2024
    assert august.first_day(2024) == date(2024, 8, 15)
    assert august.last_day(2024) == date(2025, 8, 14)


def test_a_march_boundary_ends_on_february_29_in_leap_years() -> None:
    march = SchoolCalendar(start_month=3, start_day=1)
    assert march.last_day(2023) == date(2024, 2, 29)
    assert march.last_day(2024) == date(2025, 2, 28)
    assert march.school_year_of(date(2024, 2, 29)) == 2023


def test_a_january_boundary_is_the_calendar_year() -> None:
    january = SchoolCalendar(1, 1)
    assert january.school_year_of(date(2024, 12, 31)) == 2024
    assert january.last_day(2024) == date(2024, 12, 31)
    assert january.label(2024) == "2024"


@pytest.mark.parametrize(("month", "day", "key"), [
    (2, 29, "start_day"), (4, 31, "start_day"), (13, 1, "start_month"), (0, 1, "start_month"),
    (7, 0, "start_day"), (True, 1, "start_month"),
])
def test_a_boundary_that_does_not_exist_every_year_is_refused(month: int, day: int,
                                                              key: str) -> None:
    with pytest.raises(ValueError, match=key):
        SchoolCalendar(month, day)


@pytest.mark.parametrize(("start", "months", "end"), [
    (date(2024, 6, 10), 6, date(2024, 12, 10)),
    (date(2024, 8, 31), 6, date(2025, 2, 28)),
    (date(2023, 8, 31), 6, date(2024, 2, 29)),  # leap year: Feb 29 exists
    (date(2023, 8, 29), 6, date(2024, 2, 29)),
    (date(2023, 8, 30), 6, date(2024, 2, 29)),
    (date(2024, 2, 29), 6, date(2024, 8, 29)),
    (date(2023, 12, 31), 6, date(2024, 6, 30)),
    (date(2024, 2, 29), 12, date(2025, 2, 28)),
    (date(2024, 1, 31), 1, date(2024, 2, 29)),
])
def test_calendar_months_to_the_day_with_month_end_clamping(start: date, months: int,
                                                            end: date) -> None:
    assert add_calendar_months(start, months) == end


days = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))
boundaries = st.tuples(st.integers(1, 12), st.integers(1, 28))


@given(days, boundaries)
def test_every_day_lies_in_exactly_its_school_year(day: date, boundary: tuple[int, int]) -> None:
    cal = SchoolCalendar(*boundary)
    year = cal.school_year_of(day)
    assert cal.first_day(year) <= day <= cal.last_day(year)
    assert cal.last_day(year) + timedelta(days=1) == cal.first_day(year + 1)


@given(days, st.integers(0, 240))
def test_calendar_months_never_spill_into_the_next_month(day: date, months: int) -> None:
    later = add_calendar_months(day, months)
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months
    assert later.day == day.day or (later.day < day.day
                                    and (later + timedelta(days=1)).day == 1)
