"""Sealing the student-identifying part of an entry under the student's content key.

Each student has one content key (32 random bytes, AES-256-GCM). Destroying it
when the student's records are destroyed (5 CCR 437) makes every sealed part
about that student unreadable, while the Merkle tree, which commits to the
ciphertext, still verifies.

Nonces are 12 random bytes. The number of entries about one student stays far
below the 2**32 seals a random-nonce GCM key may make (NIST SP 800-38D 8.3).
The AAD binds the ciphertext to the entry's seq and event type, so a sealed part
cannot be moved onto another entry and still open.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from audit._codec import load_json
from audit.events import Entry, EntryError, EventType, StoredEntry, canonical_bytes

KEY_SIZE = 32
NONCE_SIZE = 12
_AAD_LABEL = b"records-gateway access log, sealed part, v1\n"


class SealError(ValueError):
    """A sealed part cannot be opened: wrong or destroyed key, wrong entry, or altered."""


def new_content_key() -> bytes:
    """A fresh per-student content key."""
    return secrets.token_bytes(KEY_SIZE)


def sealing_aad(seq: int, event: EventType | str) -> bytes:
    """The associated data of entry ``seq``'s sealed part."""
    return _AAD_LABEL + canonical_bytes({"seq": seq, "event": str(EventType(event))})


def _cipher(key: bytes) -> AESGCM:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise SealError(f"a content key is {KEY_SIZE} bytes")
    return AESGCM(key)


def seal(key: bytes, payload: Mapping[str, Any], aad: bytes) -> bytes:
    """nonce || AES-256-GCM(canonical JSON of ``payload``) with ``aad``."""
    nonce = secrets.token_bytes(NONCE_SIZE)
    return nonce + _cipher(key).encrypt(nonce, canonical_bytes(dict(payload)), aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> dict[str, Any]:
    """The payload ``seal`` sealed; SealError if key, aad or bytes do not match."""
    cipher = _cipher(key)
    if len(sealed) < NONCE_SIZE + 16:
        raise SealError("too short to be a sealed part")
    try:
        plain = cipher.decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], aad)
    except InvalidTag:
        raise SealError("the sealed part does not open with this key for this entry") from None
    try:
        payload = load_json(plain)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise SealError("the sealed part is not a JSON object")
    return payload


def store_entry(entry: Entry, key: bytes | None, prev_hash: bytes | None) -> StoredEntry:
    """The stored form of ``entry``: its identifying part sealed under ``key``.

    ``key`` may be None only for an entry about no student (no student_ref, no
    records): such an entry keeps its identifying part in the clear.
    ``prev_hash`` is the leaf hash of entry ``seq - 1`` (None for seq 0).
    """
    if key is None:
        if entry.about_a_student:
            raise EntryError("an entry about a student needs the student's content key")
        return StoredEntry(entry.clear_part(), prev_hash, identifying=entry.identifying_part())
    sealed = seal(key, entry.identifying_part(), sealing_aad(entry.seq, entry.event))
    return StoredEntry(entry.clear_part(), prev_hash, sealed=sealed)


def open_entry(stored: StoredEntry, key: bytes | None = None) -> Entry:
    """The full entry back from its stored form; SealError if the key cannot open it."""
    clear = dict(stored.to_json())
    identifying = clear.pop("identifying", None)
    if stored.sealed is not None:
        if key is None:
            raise SealError(f"entry {stored.seq} is sealed: its content key is needed")
        identifying = open_sealed(key, stored.sealed, sealing_aad(stored.seq, stored.event))
    for name in ("v", "prev_hash", "sealed"):
        clear.pop(name, None)
    return Entry.from_parts(clear, identifying)
