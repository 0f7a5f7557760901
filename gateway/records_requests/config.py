"""Reading the district's calendar of closures and its copy charges from TOML.

A broken file fails at start-up with a message naming the place:
``<file>: [<table>] <key>: <problem>``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from gateway.records_requests.calendar import DistrictCalendar
from gateway.records_requests.fees import FeeSchedule


class RequestsConfigError(ValueError):
    """The file cannot be used; the message names the file, the table and the key."""


@dataclass(frozen=True, slots=True)
class RequestsConfig:
    calendar: DistrictCalendar
    fees: FeeSchedule


def load_requests_config(path: str | Path) -> RequestsConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RequestsConfigError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RequestsConfigError(f"{path}: not UTF-8 text") from None
    return parse_requests_config(text, source=str(path))


def parse_requests_config(text: str, *, source: str = "<records requests>") -> RequestsConfig:
    def fail(table: str, key: str, problem: str) -> RequestsConfigError:
        return RequestsConfigError(f"{source}: [{table}] {key}: {problem}")

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RequestsConfigError(f"{source}: {exc}") from None
    for table in data:
        if table not in ("calendar", "fees"):
            raise fail(table, "-", "unknown table (expected [calendar] and [fees])")
    calendar: dict[str, Any] = _table(data, "calendar", fail)
    fees: dict[str, Any] = _table(data, "fees", fail)
    for table, values, known in (("calendar", calendar, {"closures"}),
                                 ("fees", fees, {"charge_per_page_cents",
                                                 "actual_cost_per_page_cents"})):
        for key in values.keys() - known:
            raise fail(table, key, "unknown key")
    closures = calendar.get("closures", [])
    if not isinstance(closures, list):
        raise fail("calendar", "closures", "a list of dates (YYYY-MM-DD) is required")
    for day in closures:
        # TOML dates are dates; a datetime or a string is a mistake worth naming.
        if not isinstance(day, date) or hasattr(day, "hour"):
            raise fail("calendar", "closures", f"{day!r} is not a date (YYYY-MM-DD)")
    for key in ("charge_per_page_cents", "actual_cost_per_page_cents"):
        if key not in fees:
            raise fail("fees", key, "required")
    try:
        schedule = FeeSchedule(fees["charge_per_page_cents"], fees["actual_cost_per_page_cents"])
    except ValueError as exc:
        key, _, problem = str(exc).partition(": ")
        raise fail("fees", key, problem) from None
    return RequestsConfig(DistrictCalendar.closed_on(closures), schedule)


def _table(data: dict[str, Any], name: str, fail) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise fail(name, "-", "must be a table")
    return value
