"""Fixtures for the retention schedule tests: the shipped schedule and calendar."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.retention import RetentionSchedule, SchoolCalendar, load_calendar, load_schedule

CONFIG = Path(__file__).resolve().parents[3] / "config" / "retention"


@pytest.fixture(scope="session")
def schedule() -> RetentionSchedule:
    return load_schedule(CONFIG / "schedule.toml")


@pytest.fixture(scope="session")
def school_calendar() -> SchoolCalendar:
    return load_calendar(CONFIG / "calendar.toml")
