"""Entries, their clear and identifying parts, and the stored form that is the leaf."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.events import (
    CLEAR_FIELDS,
    IDENTIFYING_FIELDS,
    Entry,
    EntryError,
    EventType,
    RecordRef,
    Requester,
    StoredEntry,
    canonical_bytes,
    utc_time,
)

MakeEntry = Callable[..., Entry]
PREV = b"\x07" * 32


def test_the_event_types_are_a_closed_list() -> None:
    assert [e.value for e in EventType] == [
        "disclosure", "denial", "pending", "access_log_view", "consent_given",
        "consent_revoked", "directory_restriction", "challenge", "record_added",
        "destruction_certificate", "key_destroyed", "checkpoint"]
    with pytest.raises(ValueError):
        EventType("export")


def test_an_entry_is_a_value(entry_factory: MakeEntry) -> None:
    entry = entry_factory(3)
    assert entry.records == (RecordRef("rec-3", "courses_and_marks"),)
    assert isinstance(entry.citations, tuple) and entry.event is EventType.DISCLOSURE
    assert entry == entry_factory(3) and hash(entry) == hash(entry_factory(3))
    with pytest.raises(AttributeError):
        entry.decision = "deny"  # type: ignore[misc]


@pytest.mark.parametrize("time", [
    "2026-03-02T17:00:00", "2026-03-02T17:00:00+00:00", "2026-03-02 17:00:00Z",
    "2026-13-02T17:00:00Z", "2026-02-30T17:00:00Z", "2026-03-02T17:00:00.1234567Z", "", 0])
def test_time_is_utc_iso_8601_with_z(entry_factory: MakeEntry, time: object) -> None:
    with pytest.raises(EntryError):
        entry_factory(0, time=time)


def test_utc_time_writes_aware_moments_in_utc() -> None:
    pacific = timezone(timedelta(hours=-8))
    assert utc_time(datetime(2026, 3, 2, 9, 0, tzinfo=pacific)) == "2026-03-02T17:00:00Z"
    assert utc_time(datetime(2026, 3, 2, 17, 0, 0, 250000, tzinfo=timezone.utc)) == \
        "2026-03-02T17:00:00.250000Z"
    with pytest.raises(EntryError):
        utc_time(datetime(2026, 3, 2, 17, 0))


@pytest.mark.parametrize("overrides", [
    {"seq": -1}, {"seq": True}, {"seq": "1"}, {"event": "export"}, {"student_ref": ""},
    {"records": [{"id": "r"}]}, {"records": "rec-1"}, {"records": [{"id": "r", "type": ""}]},
    {"citations": "Ed Code 49077"}, {"citations": [""]}, {"obligations": [1]},
    {"decision": ""}, {"requester": "det.ramirez"},
])
def test_malformed_entries_are_refused(entry_factory: MakeEntry, overrides: dict) -> None:
    with pytest.raises(EntryError):
        dataclasses.replace(entry_factory(1), **overrides)
    with pytest.raises(EntryError):
        Requester("", "law_enforcement")


def test_the_identifying_part_is_not_in_the_clear_part(entry_factory: MakeEntry) -> None:
    entry = entry_factory(5, stated_interest="attendance review")
    clear, identifying = entry.clear_part(), entry.identifying_part()
    assert tuple(clear) == CLEAR_FIELDS and tuple(identifying) == IDENTIFYING_FIELDS
    text = json.dumps(clear)
    for secret in ("stu-0001", "rec-5", "subpoena", "attendance review", "det.ramirez"):
        assert secret not in text
    assert clear["requester_category"] == "law_enforcement"
    assert Entry.from_parts(clear, identifying) == entry


def test_parts_must_agree_about_the_requester(entry_factory: MakeEntry) -> None:
    entry = entry_factory(5)
    identifying = {**entry.identifying_part(), "requester_identity": None}
    with pytest.raises(EntryError):
        Entry.from_parts(entry.clear_part(), identifying)
    with pytest.raises(EntryError):
        Entry.from_parts({**entry.clear_part(), "extra": 1}, entry.identifying_part())


def test_canonical_bytes_are_rfc_8785() -> None:
    value = {"b": [1, "é", None], "a": {"d": True, "c": "\n"}, "A": 10**15}
    assert canonical_bytes(value) == \
        b'{"A":1000000000000000,"a":{"c":"\\n","d":true},"b":[1,"\xc3\xa9",null]}'
    with pytest.raises(EntryError):
        canonical_bytes({"seq": 2**60})  # beyond what every JSON reader holds exactly
    with pytest.raises(EntryError):
        canonical_bytes({"x": object()})


def sealed_form(entry: Entry, prev: bytes | None = PREV) -> StoredEntry:
    return StoredEntry(entry.clear_part(), prev if entry.seq else None, sealed=b"\x01" * 60)


def test_the_stored_form_round_trips_and_its_line_is_the_leaf(entry_factory: MakeEntry) -> None:
    stored = sealed_form(entry_factory(4))
    obj = stored.to_json()
    assert obj["v"] == 1 and obj["prev_hash"] == "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="
    assert StoredEntry.from_json(obj) == stored
    assert StoredEntry.from_json_line(stored.leaf()) == stored
    # A parsed entry hashes what was read; that must be what it would write.
    reread = StoredEntry.from_json(obj)
    assert reread.leaf() == stored.leaf() == canonical_bytes(reread.to_json())
    # Any JSON spelling of the same object has the same leaf: what counts is the value.
    pretty = json.dumps(dict(reversed(obj.items())), indent=2)
    assert StoredEntry.from_json_line(pretty).leaf() == stored.leaf()
    assert b"\n" not in stored.leaf()


def test_an_entry_about_no_student_may_be_stored_open(entry_factory: MakeEntry) -> None:
    entry = entry_factory(0, None)
    stored = StoredEntry(entry.clear_part(), None, identifying=entry.identifying_part())
    assert stored.to_json()["identifying"]["requester_identity"] == "records-gateway"
    assert StoredEntry.from_json_line(stored.leaf()) == stored
    assert StoredEntry.from_json_line(stored.leaf()).leaf() == stored.leaf()
    student = entry_factory(1)
    with pytest.raises(EntryError, match="must be sealed"):
        StoredEntry(student.clear_part(), PREV, identifying=student.identifying_part())


@pytest.mark.parametrize("change", [
    lambda o: o.update(v=2),
    lambda o: o.pop("v"),
    lambda o: o.update(seq=True),
    lambda o: o.update(extra="x"),
    lambda o: o.pop("prev_hash"),
    lambda o: o.update(prev_hash=None),
    lambda o: o.update(prev_hash="BwcH"),
    lambda o: o.update(prev_hash="BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwd="),  # non-canonical
    lambda o: o.update(sealed="AQEB"),
    lambda o: o.update(sealed=None),
    lambda o: o.update(identifying={}),
    lambda o: o.pop("sealed"),
    lambda o: o.update(event="export"),
    lambda o: o.update(citations="Ed Code 49077"),
    lambda o: o.pop("outcome"),
])
def test_malformed_stored_entries_are_refused(entry_factory: MakeEntry, change) -> None:
    obj = sealed_form(entry_factory(4)).to_json()
    change(obj)
    with pytest.raises(EntryError):
        StoredEntry.from_json(obj)


@pytest.mark.parametrize("line", [
    '{"v": 1, "v": 1}', '{"v": 1.0}', '{"v": NaN}', "[1]", "not json", b"\xff\xfe{}", "",
])
def test_lines_that_are_not_one_plain_json_object_are_refused(line: str | bytes) -> None:
    with pytest.raises(EntryError):
        StoredEntry.from_json_line(line)


def test_the_first_entry_has_no_prev_hash(entry_factory: MakeEntry) -> None:
    entry = entry_factory(0)
    with pytest.raises(EntryError):
        StoredEntry(entry.clear_part(), PREV, sealed=b"\x01" * 60)
    with pytest.raises(EntryError):
        StoredEntry(entry_factory(1).clear_part(), None, sealed=b"\x01" * 60)


words = st.text(min_size=1, max_size=20)


@settings(max_examples=100, deadline=None)
@given(seq=st.integers(0, 2**40), action=words, clause=st.none() | words,
       citations=st.lists(words, max_size=3), outcome=st.none() | words)
def test_any_stored_entry_reads_back_to_the_same_leaf(seq: int, action: str, clause: str | None,
                                                      citations: list[str],
                                                      outcome: str | None) -> None:
    entry = Entry(seq=seq, time="2026-03-02T17:00:00Z", event=EventType.CHALLENGE,
                  action=action, clause=clause, citations=citations, outcome=outcome)
    stored = sealed_form(entry)
    line = stored.leaf()
    again = StoredEntry.from_json_line(line)
    assert again == stored and again.leaf() == line
    assert StoredEntry.from_json_line(json.dumps(stored.to_json())).leaf() == line
