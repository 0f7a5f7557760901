"""Ed Code 49069 (five business days) and 49065 (fees), at their edges."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.records_requests.calendar import DistrictCalendar
from gateway.records_requests.config import RequestsConfigError, parse_requests_config
from gateway.records_requests.fees import FeeSchedule, RequestKind, fee_for

THANKSGIVING = DistrictCalendar.closed_on([date(2026, 11, 26), date(2026, 11, 27)])
TEN_CENTS = FeeSchedule(charge_per_page_cents=10, actual_cost_per_page_cents=12)


@pytest.mark.parametrize(("asked", "due"), [
    (date(2026, 11, 16), date(2026, 11, 23)),  # a Monday: the next Monday
    (date(2026, 11, 20), date(2026, 12, 1)),   # a Friday, over the holidays
    (date(2026, 11, 21), date(2026, 12, 1)),   # a Saturday counts from Monday
    (date(2026, 11, 26), date(2026, 12, 4)),   # asked on a closure
])
def test_a_request_is_due_five_business_days_after_it_is_made(asked, due) -> None:
    assert THANKSGIVING.due_date(asked) == due


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
       st.sets(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 3, 1)),
               max_size=40))
def test_exactly_five_business_days_lie_after_the_request_up_to_the_due_date(
        asked, closures) -> None:
    calendar = DistrictCalendar.closed_on(closures)
    due = calendar.due_date(asked)
    between = [asked + timedelta(days=n) for n in range(1, (due - asked).days + 1)]

    assert calendar.is_business_day(due)
    assert sum(calendar.is_business_day(d) for d in between) == 5


def test_a_calendar_closed_for_a_year_is_refused_not_waited_on() -> None:
    start = date(2027, 1, 1)
    shut = DistrictCalendar.closed_on(start + timedelta(days=n) for n in range(800))
    with pytest.raises(ValueError, match="no business day"):
        shut.due_date(start)


def test_inspecting_is_free_whatever_the_pages() -> None:
    assert fee_for(TEN_CENTS, RequestKind.INSPECT, 40, former_student=False,
                   free_ones_given=0).free


def test_copies_cost_the_charge_per_page() -> None:
    fee = fee_for(TEN_CENTS, RequestKind.COPIES, 7, former_student=True, free_ones_given=0)
    assert fee.cents == 70 and "49065" in fee.basis


@pytest.mark.parametrize("kind", [RequestKind.TRANSCRIPT, RequestKind.VERIFICATION])
def test_a_former_student_gets_two_transcripts_and_two_verifications_free(kind) -> None:
    free = [fee_for(TEN_CENTS, kind, 3, former_student=True, free_ones_given=n)
            for n in range(3)]
    assert [f.cents for f in free] == [0, 0, 30]


def test_a_current_student_pays_for_a_transcript() -> None:
    assert fee_for(TEN_CENTS, RequestKind.TRANSCRIPT, 2, former_student=False,
                   free_ones_given=0).cents == 20


def test_a_charge_above_the_actual_cost_is_refused() -> None:
    with pytest.raises(ValueError, match="actual cost"):
        FeeSchedule(charge_per_page_cents=15, actual_cost_per_page_cents=12)


def test_the_shipped_file_loads() -> None:
    from gateway.records_requests.config import load_requests_config
    from gateway.settings import DEFAULT_CONFIG_DIR

    config = load_requests_config(DEFAULT_CONFIG_DIR / "records-requests.toml")
    assert not config.calendar.is_business_day(date(2026, 11, 26))
    assert config.fees.charge_per_page_cents <= config.fees.actual_cost_per_page_cents


@pytest.mark.parametrize(("text", "message"), [
    ("[fees]\ncharge_per_page_cents = 20\nactual_cost_per_page_cents = 10",
     "[fees] charge_per_page_cents: may not exceed"),
    ("[fees]\ncharge_per_page_cents = 5", "[fees] actual_cost_per_page_cents: required"),
    ("[calendar]\nclosures = ['2026-11-26']\n[fees]\ncharge_per_page_cents = 1\n"
     "actual_cost_per_page_cents = 1", "[calendar] closures: '2026-11-26' is not a date"),
    ("[fee]\n", "[fee] -: unknown table"),
    ("[fees]\ncharge_per_page_cents = -1\nactual_cost_per_page_cents = 1",
     "[fees] charge_per_page_cents: a whole number"),
    ("[fees\n", "district.toml: "),
])
def test_a_broken_file_names_the_place(text, message) -> None:
    with pytest.raises(RequestsConfigError) as refused:
        parse_requests_config(text, source="district.toml")
    assert message in str(refused.value)
