"""Base64 and JSON reading shared by the audit modules, strict on purpose.

A verifier that accepts two spellings of one value lets an attacker change bytes
without changing meaning (or the other way round), so every decoder here accepts
exactly one spelling: standard padded base64 (RFC 4648 section 4) and JSON with
no duplicate keys, no floats and no NaN.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: object, *, length: int | None = None, what: str = "value") -> bytes:
    """Decode canonical standard base64; ValueError names ``what`` otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a base64 string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"{what} is not valid base64") from None
    # Non-zero padding bits decode fine but re-encode differently: refuse them.
    if b64encode(data) != text:
        raise ValueError(f"{what} is not canonical base64")
    if length is not None and len(data) != length:
        raise ValueError(f"{what} must be {length} bytes, not {len(data)}")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_float(text: str) -> Any:
    raise ValueError(f"numbers must be integers, not {text}")


def load_json(text: str | bytes) -> Any:
    """Parse JSON, refusing duplicate keys, floats, NaN and Infinity (ValueError)."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_float=_no_float, parse_constant=_no_float)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
