"""Envelope encryption, on its own: keys, sealing, tampering (no database needed)."""

from __future__ import annotations

import base64
import json
import os
import pickle
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.policy.facts import RecordType
from gateway.store.crypto import (
    ContentIntegrityError,
    KeyEncryptionKeys,
    KeySourceError,
    KeyUnavailable,
    rewrap,
    seal,
    unseal,
)

RECORD = uuid.uuid4()


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@pytest.fixture
def keks() -> KeyEncryptionKeys:
    return KeyEncryptionKeys.generate("2025-01")


@given(content=st.binary(max_size=4096), record_type=st.sampled_from(RecordType))
def test_sealed_content_opens_to_itself(content: bytes, record_type: RecordType) -> None:
    keks = KeyEncryptionKeys.generate("k")
    envelope = seal(keks, RECORD, record_type, content)
    assert unseal(keks, RECORD, record_type, envelope) == content
    if len(content) >= 16:
        assert content not in envelope.ciphertext


def test_each_record_has_its_own_data_key_and_nonce(keks: KeyEncryptionKeys) -> None:
    first = seal(keks, RECORD, RecordType.HEALTH, b"same content")
    second = seal(keks, RECORD, RecordType.HEALTH, b"same content")
    assert first.wrapped_key != second.wrapped_key
    assert first.nonce != second.nonce and first.ciphertext != second.ciphertext


def test_tampered_content_does_not_open(keks: KeyEncryptionKeys) -> None:
    envelope = seal(keks, RECORD, RecordType.HEALTH, b"asthma action plan")
    flipped = bytes([envelope.ciphertext[0] ^ 1]) + envelope.ciphertext[1:]
    for tampered in (replace(envelope, ciphertext=flipped),
                     replace(envelope, nonce=os.urandom(12)),
                     replace(envelope, ciphertext=envelope.ciphertext[:-1])):
        with pytest.raises(ContentIntegrityError):
            unseal(keks, RECORD, RecordType.HEALTH, tampered)


def test_content_bound_to_another_record_or_type_does_not_open(
        keks: KeyEncryptionKeys) -> None:
    envelope = seal(keks, RECORD, RecordType.HEALTH, b"asthma action plan")
    with pytest.raises(ContentIntegrityError):
        unseal(keks, uuid.uuid4(), RecordType.HEALTH, envelope)  # moved to another row
    with pytest.raises(ContentIntegrityError):
        unseal(keks, RECORD, RecordType.DIRECTORY_INFORMATION, envelope)  # relabelled


def test_a_tampered_wrapped_key_does_not_open(keks: KeyEncryptionKeys) -> None:
    envelope = seal(keks, RECORD, RecordType.IEP, b"goals")
    broken = bytes([envelope.wrapped_key[0] ^ 1]) + envelope.wrapped_key[1:]
    with pytest.raises(ContentIntegrityError):
        unseal(keks, RECORD, RecordType.IEP, replace(envelope, wrapped_key=broken))


def test_another_districts_kek_under_the_same_id_does_not_open(
        keks: KeyEncryptionKeys) -> None:
    envelope = seal(keks, RECORD, RecordType.IEP, b"goals")
    with pytest.raises(ContentIntegrityError):
        unseal(KeyEncryptionKeys.generate("2025-01"), RECORD, RecordType.IEP, envelope)


def test_rewrap_moves_the_data_key_to_the_active_kek_and_the_old_can_retire(
        keks: KeyEncryptionKeys) -> None:
    envelope = seal(keks, RECORD, RecordType.IEP, b"goals")
    rotated = keks.with_active("2026-01", os.urandom(32))
    kek_id, wrapped = rewrap(rotated, envelope.kek_id, envelope.wrapped_key)
    assert kek_id == "2026-01"
    retired = rotated.retire("2025-01")
    assert unseal(retired, RECORD, RecordType.IEP,
                  replace(envelope, kek_id=kek_id, wrapped_key=wrapped)) == b"goals"
    with pytest.raises(KeyUnavailable, match="2025-01"):
        unseal(retired, RECORD, RecordType.IEP, envelope)
    with pytest.raises(KeySourceError):
        retired.retire("2026-01")  # the active key stays


def test_keys_from_a_file_of_lines_the_last_is_active(tmp_path: Path) -> None:
    old, new = os.urandom(32), os.urandom(32)
    path = tmp_path / "keks"
    path.write_text(f"# district KEKs\n2024-01:{b64(old)}\n\n"
                    f"2025-01:{base64.urlsafe_b64encode(new).decode()}  # current\n")
    keks = KeyEncryptionKeys.from_file(path)
    assert keks.active_id == "2025-01" and keks.ids == {"2024-01", "2025-01"}
    envelope = seal(KeyEncryptionKeys({"2024-01": old}, "2024-01"), RECORD, RecordType.SEX, b"F")
    assert unseal(keks, RECORD, RecordType.SEX, envelope) == b"F"


def test_keys_from_json_and_from_a_value(tmp_path: Path) -> None:
    key = os.urandom(32)
    document = json.dumps({"active": "a", "keys": {"a": b64(key), "b": b64(os.urandom(32))}})
    (tmp_path / "keks.json").write_text(document)
    assert KeyEncryptionKeys.from_file(tmp_path / "keks.json").active_id == "a"
    from_value = KeyEncryptionKeys.load(None, f"b:{b64(os.urandom(32))},a:{b64(key)}")
    assert from_value.active_id == "a" and from_value.ids == {"a", "b"}


@pytest.mark.parametrize("text, problem", [
    ("", "no key-encryption key"),
    ("k1", "id:base64"),
    ("k1:not base64!", "not valid base64"),
    (f"k1:{b64(b'short')}", "not 32 bytes"),
    (f"k1:{b64(bytes(32))}\nk1:{b64(bytes(32))}", "given twice"),
    (f"bad id:{b64(bytes(32))}", "id is"),
    ('{"active": "x", "keys": {}}', "not given"),
    ('{"keys": "nope"', "not valid JSON"),
])
def test_bad_key_sources_are_refused_without_echoing_keys(text: str, problem: str) -> None:
    with pytest.raises(KeySourceError, match=problem) as refused:
        KeyEncryptionKeys.parse(text)
    for part in text.replace(":", " ").replace(",", " ").split():
        if len(part) >= 16:
            assert part not in str(refused.value)


def test_exactly_one_source_of_keys(tmp_path: Path) -> None:
    with pytest.raises(KeySourceError):
        KeyEncryptionKeys.load(None, None)
    with pytest.raises(KeySourceError):
        KeyEncryptionKeys.load(tmp_path / "keks", "a:" + b64(bytes(32)))
    with pytest.raises(KeySourceError, match="cannot read"):
        KeyEncryptionKeys.from_file(tmp_path / "missing")


def test_keys_never_appear_in_a_repr_or_a_pickle(keks: KeyEncryptionKeys) -> None:
    key = os.urandom(32)
    keks = keks.with_active("2026-01", key)
    shown = repr(keks) + str(keks)
    assert "2026-01" in shown and b64(key) not in shown and key.hex() not in shown
    assert repr(key) not in shown
    with pytest.raises(TypeError):
        pickle.dumps(keks)
    envelope = seal(keks, RECORD, RecordType.IEP, b"goals")
    assert "wrapped_key=" not in repr(envelope) and "ciphertext=" not in repr(envelope)
