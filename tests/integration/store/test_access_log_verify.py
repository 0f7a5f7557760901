"""The database verifier's fast path: exact, and taken for every entry the log writes."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timezone

import orjson
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from audit.events import Entry, EventType, RecordRef, Requester, utc_time
from audit.sealing import new_content_key, store_entry
from gateway.store.log_verify import _dumps, _fast_entry

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(st.lists(texts, max_size=3), texts, st.integers(0, 2**53 - 1),
       st.one_of(st.none(), texts))
def test_orjson_with_sorted_keys_writes_what_rfc8785_writes_for_our_shape(
        citations: list[str], text: str, seq: int, optional: str | None) -> None:
    value = {"seq": seq, "v": 1, "clause": optional, "citations": citations, "outcome": text,
             "sealed": base64.b64encode(text.encode()).decode(), "prev_hash": None}
    assert _dumps(value) == rfc8785.dumps(value)


@given(st.binary(min_size=28, max_size=90))
def test_the_fast_path_takes_canonical_base64_only(data: bytes) -> None:
    entry = Entry(seq=0, time="2026-03-02T17:00:00Z", event=EventType.DENIAL,
                  student_ref="s", records=[RecordRef("r-1", "health")])
    obj = orjson.loads(store_entry(entry, new_content_key(), None).leaf())
    obj["sealed"] = base64.b64encode(data).decode()
    assert _fast_entry(obj, 0, None)
    if obj["sealed"].endswith("="):
        # The same bytes with non-zero padding bits decode alike; only one is canonical.
        encoded = obj["sealed"]
        i = len(encoded.rstrip("=")) - 1
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        obj["sealed"] = encoded[:i] + alphabet[alphabet.index(encoded[i]) | 1] + encoded[i + 1:]
        assert not _fast_entry(obj, 0, None)


@given(st.one_of(st.none(), texts.filter(bool)), st.lists(texts.filter(bool), max_size=3))
def test_every_entry_the_log_writes_takes_the_fast_path(interest: str | None,
                                                        citations: list[str]) -> None:
    entry = Entry(seq=5, time=utc_time(datetime(2026, 3, 2, 17, 0, 1, 5, timezone.utc)),
                  event=EventType.DISCLOSURE, requester=Requester("Ms. Ñúñez [1]", "parent"),
                  student_ref=str(uuid.uuid4()), records=[RecordRef("r-1", "health")],
                  stated_interest=interest, decision="permit", clause="c",
                  citations=citations, request_id="req")
    prev = b"\x07" * 32
    leaf = store_entry(entry, new_content_key(), prev).leaf()
    assert _fast_entry(orjson.loads(leaf), 5, base64.b64encode(prev).decode())
    assert _dumps(orjson.loads(leaf)) == leaf
    assert not _fast_entry(orjson.loads(leaf), 6, base64.b64encode(prev).decode())
