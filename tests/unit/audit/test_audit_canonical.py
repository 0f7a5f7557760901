"""The fast canonical form is RFC 8785's, byte for byte, and defers to rfc8785 outside it."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from audit.canonical import MAX_SAFE_INTEGER, CanonicalizationError, canonical_bytes, restricted

# Strings with every kind of character JCS treats specially: controls, quotes,
# backslashes, DEL, line separators, BMP and astral characters.
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
keys = st.text(alphabet=st.characters(max_codepoint=127), max_size=8)
scalars = (st.none() | st.booleans() | texts
           | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(keys, inner, max_size=4), max_leaves=20)


@given(values)
def test_the_fast_form_is_the_rfc8785_form(value: object) -> None:
    assert restricted(value)
    assert canonical_bytes(value) == rfc8785.dumps(value)


@given(st.dictionaries(st.text(max_size=4), st.integers() | st.floats(allow_nan=False)
                       | texts, max_size=4))
def test_outside_the_fast_shape_rfc8785_decides(value: dict[str, object]) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError):
        with pytest.raises(CanonicalizationError):
            canonical_bytes(value)
    else:
        assert canonical_bytes(value) == expected


def test_keys_beyond_ascii_sort_by_utf16_code_units() -> None:
    # U+FF61 sorts after U+1F600 in UTF-8 but before it in UTF-16: JCS wants the latter.
    value = {"\U0001F600": 1, "\uFF61": 2}
    assert not restricted(value)
    assert canonical_bytes(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [float("nan"), "\ud800", {1: "not a string key"}])
def test_values_without_a_canonical_form_are_refused(value: object) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_bytes(value)
