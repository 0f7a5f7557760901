"""RFC 8785 (JCS) canonical JSON, fast for the values the access log writes.

The ``rfc8785`` package is exact for every JSON value but pure Python; it was most of
the cost of appending and verifying. For the restricted shape of our entries (objects
whose keys are ASCII, strings, integers of at most 53 bits, booleans, null, arrays)
the standard library's encoder with sorted keys, no spaces and no ASCII escaping
writes the very same bytes:

- JCS sorts keys by UTF-16 code units, which for ASCII keys is Python's string order;
- JCS escapes strings as ECMAScript's JSON.stringify does: ``\\"``, ``\\\\``, the short
  forms ``\\b \\f \\n \\r \\t``, other control characters as ``\\u00xx`` in lower-case
  hex, and everything else as itself (UTF-8), which is what ``json.dumps`` with
  ``ensure_ascii=False`` does;
- an integer of at most 53 bits is written by both as its decimal digits.

Anything outside that shape (a float, a larger integer, a non-ASCII key, a lone
surrogate) goes to ``rfc8785``, which decides. tests/unit/audit/test_audit_canonical.py
checks the two agree.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

MAX_SAFE_INTEGER = 2**53 - 1  # beyond it JCS writes an integer as a double would be
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                           allow_nan=False, check_circular=False).encode


class CanonicalizationError(ValueError):
    """The value has no RFC 8785 form (e.g. NaN, a lone surrogate, a non-string key)."""


def restricted(value: Any) -> bool:
    """Is ``value`` of the shape whose canonical form the standard encoder writes?"""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if kind is dict:
        return all(type(k) is str and k.isascii() and restricted(v) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(restricted(v) for v in value)
    return False


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 bytes of a JSON value."""
    if restricted(value):
        try:
            return _encode(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 says what is wrong with it
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalizationError(str(exc)) from None
