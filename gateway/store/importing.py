"""Checking rows of a student import (from an SIS export) before any is written.

Rows come from CSV (every value a string) or JSON (typed values). Each row is checked
on its own and every problem is reported with its row number and field, never its
value. A key the gateway does not know is an error (named by its position, not its
text): a misspelt column must not be dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from gateway.policy.facts import StudentStatus
from gateway.store.errors import RowError

_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0", ""}


class _Bad(ValueError):
    pass


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad("a non-empty text is required")
    if len(value.strip()) > 64:
        raise _Bad("at most 64 characters")
    # An identifier has no control characters; PostgreSQL cannot store NUL at all, and a
    # lone surrogate cannot be encoded for either database.
    if any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise _Bad("no control characters")
    # What a byte that is not UTF-8 becomes in a URL path: every such id would be one.
    if "\ufffd" in value:
        raise _Bad("valid UTF-8 text is required")
    return value.strip()


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Bad("a date (YYYY-MM-DD) is required")


EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def _birth_date(value: Any) -> date | None:
    born = _date(value)
    # A day of margin: the district's today may be ahead of this server's.
    if born is not None and not EARLIEST_BIRTH_DATE <= born <= date.today() + timedelta(days=1):
        raise _Bad("a birth date between 1900-01-01 and today is required")
    return born


def _grade(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise _Bad("a whole number of grades (-1 to 16) is required") from None
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= 16:
        raise _Bad("a whole number of grades (-1 to 16) is required")
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if value is None:
        return False
    raise _Bad("true or false is required")


def _status(value: Any) -> StudentStatus:
    try:
        return StudentStatus(str(value).strip().lower())
    except ValueError:
        raise _Bad(f"one of {', '.join(s.value for s in StudentStatus)} is required") from None


FIELDS: dict[str, Callable[[Any], Any]] = {
    "sis_id": _text,
    "birth_date": _birth_date,
    "grade_completed": _grade,
    "status": _status,
    "attends_postsecondary": _flag,
    "tax_dependent": _flag,
    "incompetent_adult_with_disability": _flag,
    "disability": _flag,
    "expelled_or_suspended_for_pc245": _flag,
    "directory_opt_out": _flag,
    "left_district_on": _date,
    "program_completed_on": _date,
    "withdrawn_on": _date,
    "returned_on": _date,
}


def check_row(number: int, row: Mapping[str, Any]) -> tuple[dict[str, Any], list[RowError]]:
    """The row's values by column, and what is wrong with it (row numbers start at 1)."""
    values: dict[str, Any] = {}
    errors: list[RowError] = []
    if not isinstance(row, Mapping):
        return values, [RowError(number, "*", "a row is a mapping of column to value")]
    for position, key in enumerate(row, start=1):
        if key not in FIELDS:
            # By position: a file without its header row has student data for names.
            errors.append(RowError(number, f"column {position}",
                                   "not a column the gateway knows"))
    if "sis_id" not in row:
        errors.append(RowError(number, "sis_id", "a non-empty text is required"))
    for key, parse in FIELDS.items():
        if key in row:
            try:
                values[key] = parse(row[key])
            except _Bad as exc:
                errors.append(RowError(number, key, str(exc)))
    return values, errors
