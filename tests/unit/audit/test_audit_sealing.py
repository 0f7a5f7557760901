"""Sealing the identifying part; destroying a student's key loses content, not proofs."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from audit.checkpoint import parse_and_verify
from audit.events import Entry, EntryError, EventType, StoredEntry
from audit.merkle import leaf_hash, verify_inclusion
from audit.sealing import (
    KEY_SIZE,
    SealError,
    new_content_key,
    open_entry,
    open_sealed,
    seal,
    sealing_aad,
    store_entry,
)
from audit.verify import verify_log, verify_proof_bundle

MakeEntry = Callable[..., Entry]
PAYLOAD = {"student_ref": "stu-0001", "purpose": "subpoena", "records": []}


def test_seal_and_open_round_trip() -> None:
    key = new_content_key()
    assert len(key) == KEY_SIZE and key != new_content_key()
    aad = sealing_aad(7, EventType.DISCLOSURE)
    sealed = seal(key, PAYLOAD, aad)
    assert open_sealed(key, sealed, aad) == PAYLOAD
    assert b"stu-0001" not in sealed
    assert seal(key, PAYLOAD, aad) != sealed  # a fresh nonce every time


def test_the_wrong_key_entry_or_bytes_do_not_open() -> None:
    key = new_content_key()
    aad = sealing_aad(7, EventType.DISCLOSURE)
    sealed = seal(key, PAYLOAD, aad)
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    for k, s, a in [(new_content_key(), sealed, aad),
                    (key, sealed, sealing_aad(8, EventType.DISCLOSURE)),
                    (key, sealed, sealing_aad(7, EventType.DENIAL)),
                    (key, flipped, aad), (key, sealed[:20], aad)]:
        with pytest.raises(SealError):
            open_sealed(k, s, a)
    with pytest.raises(SealError):
        seal(b"short key", PAYLOAD, aad)
    with pytest.raises(ValueError):
        sealing_aad(7, "export")


def test_an_entry_round_trips_through_its_sealed_form(entry_factory: MakeEntry) -> None:
    key = new_content_key()
    entry = entry_factory(3, stated_interest="attendance review")
    stored = store_entry(entry, key, b"\x00" * 32)
    line = stored.leaf().decode()
    for secret in ("stu-0001", "rec-3", "subpoena", "attendance review", "det.ramirez"):
        assert secret not in line
    assert json.loads(line)["requester_category"] == "law_enforcement"
    assert open_entry(StoredEntry.from_json_line(line), key) == entry
    with pytest.raises(SealError):
        open_entry(stored)
    with pytest.raises(SealError):
        open_entry(stored, new_content_key())


def test_a_sealed_part_moved_to_another_entry_does_not_open(entry_factory: MakeEntry) -> None:
    key = new_content_key()
    one = store_entry(entry_factory(3), key, b"\x00" * 32)
    other = store_entry(entry_factory(4), key, b"\x00" * 32)
    swapped = StoredEntry(other.clear, other.prev_hash, sealed=one.sealed)
    with pytest.raises(SealError):
        open_entry(swapped, key)


def test_an_entry_about_a_student_is_never_stored_open(entry_factory: MakeEntry) -> None:
    with pytest.raises(EntryError):
        store_entry(entry_factory(1), None, b"\x00" * 32)
    about_no_one = entry_factory(0, None)
    stored = store_entry(about_no_one, None, None)
    assert stored.sealed is None and open_entry(stored) == about_no_one


def test_destroying_a_students_key_keeps_the_log_and_proofs_verifiable(small_log) -> None:
    log = small_log.log
    note = log.checkpoint(small_log.signer)
    checkpoint = parse_and_verify(note, small_log.vkey)
    destroyed = "stu-0001"
    del small_log.keys[destroyed]  # crypto-shredding: the only copy of the key is gone
    seqs = [seq for seq in range(log.next_seq) if seq % 5 != 4 and seq % 3 == 1]

    for seq in seqs:
        stored = log.entries[seq]
        for key in small_log.keys.values():
            with pytest.raises(SealError):
                open_entry(stored, key)
        # The leaf is the sealed form: the proof needs no key.
        verify_inclusion(seq, log.tree.size, leaf_hash(stored.leaf()),
                         log.tree.inclusion_proof(seq), checkpoint.root_hash)
        assert verify_proof_bundle(log.proof_bundle(seq, note, log.tree.size), small_log.vkey).ok

    report = verify_log(small_log.lines(), checkpoint)
    assert report.ok and report.size == 20, report.problem
    # Other students' entries still open.
    still = log.entries[0]
    assert open_entry(still, small_log.keys["stu-0000"]).student_ref == "stu-0000"


def test_the_sealed_field_is_base64_of_nonce_and_ciphertext(entry_factory: MakeEntry) -> None:
    key = new_content_key()
    stored = store_entry(entry_factory(0), key, None)
    raw = base64.b64decode(stored.to_json()["sealed"])
    assert raw == stored.sealed and len(raw) > 12 + 16
