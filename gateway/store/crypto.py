"""Envelope encryption of student record content.

Each record gets its own random 256-bit data key. The content is sealed with AES-256-GCM
under that key, with associated data binding the record's id and type, so ciphertext
moved to another row, or relabelled as another type of record, fails to open. The data
key is stored wrapped (AES key wrap, RFC 3394) by a key-encryption key (KEK) that never
enters the database, named by its id. Hence:

- rotation re-wraps the small data keys under a new KEK, never touching the content;
- crypto-shredding deletes the wrapped key and the ciphertext, after which nothing the
  district holds opens the record (backups included, once the KEK that wrapped the key
  in them is retired).

Key material never appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from gateway.policy.facts import RecordType

KEY_BYTES = 32  # AES-256, for data keys and key-encryption keys alike
NONCE_BYTES = 12
_AAD_LABEL = "records-gateway/student-record/v1"
_KEK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class CryptoError(Exception):
    """Content or keys that cannot be used; the message never holds key material."""


class KeySourceError(CryptoError, ValueError):
    """A key file or key value that cannot be read."""


class KeyUnavailable(CryptoError):
    """No key-encryption key with this id is loaded (retired, or never given)."""

    def __init__(self, kek_id: str) -> None:
        super().__init__(f"no key-encryption key {kek_id!r} is loaded")
        self.kek_id = kek_id


class ContentIntegrityError(CryptoError):
    """Sealed content or a wrapped key failed authentication: tampered, or not this record's."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the database holds for a record's content."""

    ciphertext: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    wrapped_key: bytes = field(repr=False)
    kek_id: str


class KeyEncryptionKeys:
    """The loaded key-encryption keys: one active (wraps), older ones (unwrap only).

    Read from a key file or from the value of an environment variable (read by
    ``gateway.settings``), in either of two forms:

    - JSON: ``{"active": "2025-01", "keys": {"2024-01": "<base64>", "2025-01": "<base64>"}}``
    - lines (or comma-separated entries) of ``id:base64``; ``#`` starts a comment; the
      last key listed is the active one, so rotating is appending a line.

    Each key is 32 random bytes in base64 (standard or URL-safe alphabet).
    """

    __slots__ = ("_keys", "_active")

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        for kek_id, key in keys.items():
            if not _KEK_ID.match(kek_id):
                raise KeySourceError("a key-encryption key id is 1-64 letters, digits, '.', "
                                     "'_' or '-'")
            if len(key) != KEY_BYTES:
                raise KeySourceError(f"key-encryption key {kek_id!r} is not {KEY_BYTES} bytes")
        if active not in keys:
            raise KeySourceError(f"the active key-encryption key {active!r} is not given")
        self._keys = dict(keys)
        self._active = active

    # -- loading ---------------------------------------------------------------

    @classmethod
    def from_file(cls, path: Path | str) -> KeyEncryptionKeys:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KeySourceError(f"{path}: cannot read the key file ({type(exc).__name__})") \
                from None
        try:
            return cls.parse(text)
        except KeySourceError as exc:
            raise KeySourceError(f"{path}: {exc}") from None

    @classmethod
    def from_value(cls, value: str) -> KeyEncryptionKeys:
        """From the value of GATEWAY_KEK (the caller reads the environment, not this)."""
        return cls.parse(value)

    @classmethod
    def load(cls, key_file: Path | str | None, value: str | None) -> KeyEncryptionKeys:
        """From the settings' ``key_file`` or ``kek``: exactly one must be given."""
        if (key_file is None) == (value is None):
            raise KeySourceError("give the key-encryption keys as a file or a value (one)")
        return cls.from_file(key_file) if key_file is not None else cls.from_value(value or "")

    @classmethod
    def parse(cls, text: str) -> KeyEncryptionKeys:
        stripped = text.strip()
        if not stripped:
            raise KeySourceError("no key-encryption key is given")
        if stripped.startswith("{"):
            return cls._parse_json(stripped)
        return cls._parse_entries(stripped)

    @classmethod
    def _parse_json(cls, text: str) -> KeyEncryptionKeys:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            # The position only: the document holds keys.
            raise KeySourceError(f"not valid JSON (line {exc.lineno}, column {exc.colno})") \
                from None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), dict) \
                or not isinstance(data.get("active"), str):
            raise KeySourceError('JSON keys are {"active": id, "keys": {id: base64, ...}}')
        keys = {str(kek_id): _decode_key(str(kek_id), value)
                for kek_id, value in data["keys"].items()}
        return cls(keys, data["active"])

    @classmethod
    def _parse_entries(cls, text: str) -> KeyEncryptionKeys:
        keys: dict[str, bytes] = {}
        last = ""
        for entry in _entries(text):
            kek_id, sep, encoded = entry.partition(":")
            kek_id = kek_id.strip()
            if not sep or not kek_id:
                raise KeySourceError("each key is given as id:base64")
            if kek_id in keys:
                raise KeySourceError(f"key-encryption key {kek_id!r} is given twice")
            keys[kek_id] = _decode_key(kek_id, encoded.strip())
            last = kek_id
        if not keys:
            raise KeySourceError("no key-encryption key is given")
        return cls(keys, last)

    @classmethod
    def generate(cls, kek_id: str) -> KeyEncryptionKeys:
        """A fresh single key, for development and tests."""
        return cls({kek_id: os.urandom(KEY_BYTES)}, kek_id)

    # -- managing --------------------------------------------------------------

    @property
    def active_id(self) -> str:
        return self._active

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def __contains__(self, kek_id: object) -> bool:
        return kek_id in self._keys

    def with_active(self, kek_id: str, key: bytes) -> KeyEncryptionKeys:
        """These keys plus a new active one (the old ones still unwrap)."""
        return KeyEncryptionKeys({**self._keys, kek_id: key}, kek_id)

    def retire(self, kek_id: str) -> KeyEncryptionKeys:
        """These keys without ``kek_id``; the active key cannot be retired."""
        if kek_id == self._active:
            raise KeySourceError("the active key-encryption key cannot be retired")
        return KeyEncryptionKeys({k: v for k, v in self._keys.items() if k != kek_id},
                                 self._active)

    def __repr__(self) -> str:
        return f"KeyEncryptionKeys(active={self._active!r}, ids={sorted(self._keys)!r})"

    def __reduce__(self) -> None:  # type: ignore[override]
        raise TypeError("key-encryption keys are not pickled")

    # -- wrapping --------------------------------------------------------------

    def wrap(self, data_key: bytes) -> tuple[str, bytes]:
        """Wrap a data key under the active KEK: (kek id, wrapped key)."""
        return self._active, aes_key_wrap(self._keys[self._active], data_key)

    def unwrap(self, kek_id: str, wrapped_key: bytes) -> bytes:
        try:
            kek = self._keys[kek_id]
        except KeyError:
            raise KeyUnavailable(kek_id) from None
        try:
            return aes_key_unwrap(kek, wrapped_key)
        except (InvalidUnwrap, ValueError):
            raise ContentIntegrityError("the wrapped data key does not open under its "
                                        f"key-encryption key {kek_id!r}") from None


def _entries(text: str) -> Iterable[str]:
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        for entry in line.split(","):
            if entry.strip():
                yield entry.strip()


def _decode_key(kek_id: str, encoded: object) -> bytes:
    if not isinstance(encoded, str):
        raise KeySourceError(f"key-encryption key {kek_id!r} is not a base64 string")
    try:
        alphabet = "-_" if ("-" in encoded or "_" in encoded) else "+/"
        key = base64.b64decode(encoded, altchars=alphabet.encode(), validate=True)
    except (binascii.Error, ValueError):
        raise KeySourceError(f"key-encryption key {kek_id!r} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise KeySourceError(f"key-encryption key {kek_id!r} is not {KEY_BYTES} bytes")
    return key


def associated_data(record_id: uuid.UUID, record_type: RecordType) -> bytes:
    """What the ciphertext is bound to: this record, as this type of record."""
    return f"{_AAD_LABEL}|{record_id}|{RecordType(record_type).value}".encode()


def seal(keys: KeyEncryptionKeys, record_id: uuid.UUID, record_type: RecordType,
         plaintext: bytes) -> Envelope:
    """Encrypt a record's content under a new data key wrapped by the active KEK."""
    data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    nonce = os.urandom(NONCE_BYTES)  # a fresh key per record: one nonce per key
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext,
                                          associated_data(record_id, record_type))
    kek_id, wrapped = keys.wrap(data_key)
    return Envelope(ciphertext=ciphertext, nonce=nonce, wrapped_key=wrapped, kek_id=kek_id)


def unseal(keys: KeyEncryptionKeys, record_id: uuid.UUID, record_type: RecordType,
           envelope: Envelope) -> bytes:
    """Decrypt a record's content; fails if anything was changed or belongs elsewhere."""
    data_key = keys.unwrap(envelope.kek_id, envelope.wrapped_key)
    try:
        return AESGCM(data_key).decrypt(envelope.nonce, envelope.ciphertext,
                                        associated_data(record_id, record_type))
    except (InvalidTag, ValueError):
        raise ContentIntegrityError(f"the content of student record {record_id} failed "
                                    "authentication") from None


def rewrap(keys: KeyEncryptionKeys, kek_id: str, wrapped_key: bytes) -> tuple[str, bytes]:
    """Unwrap a data key and wrap it again under the active KEK (rotation)."""
    return keys.wrap(keys.unwrap(kek_id, wrapped_key))
