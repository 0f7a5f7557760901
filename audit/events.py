"""What one access-log entry says, and the form the access log stores it in.

An ``Entry`` is the event in the regulation's words. It splits in two:

- the *identifying* part (student_ref, records, purpose, stated_interest, the
  requester's identity), which is sealed under the student's content key, so
  that destroying the key destroys it (Ed Code 49062.5; 5 CCR 437);
- the *clear* part (seq, time, event, requester category, action, decision,
  clause, citations, obligations, log_required, request_id, policy_version,
  outcome), which a custodian or auditor can read without any key.

A ``StoredEntry`` is what the log keeps and exports, one JSON object a line::

    {"v": 1, <clear part>, "prev_hash": <base64 | null>, "sealed": <base64>}

(or ``"identifying": {...}`` in place of ``"sealed"`` for an entry about no
student). Its RFC 8785 canonical bytes are the Merkle leaf, so the tree commits
to the ciphertext, not the plaintext: destroying a key loses content but no proof.

``prev_hash`` is the RFC 6962 leaf hash of the entry before. The Merkle root
alone says *that* an entry changed; the chain lets the verifier say *which*.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from audit import canonical
from audit._codec import b64decode, b64encode, load_json

FORMAT_VERSION = 1
HASH_SIZE = 32
# AES-GCM: a 12-byte nonce and a 16-byte tag around at least an empty plaintext.
MIN_SEALED_SIZE = 12 + 16


class EventType(enum.StrEnum):
    """The closed list of things the access log records."""

    DISCLOSURE = "disclosure"
    DENIAL = "denial"
    PENDING = "pending"
    ACCESS_LOG_VIEW = "access_log_view"
    CONSENT_GIVEN = "consent_given"
    CONSENT_REVOKED = "consent_revoked"
    DIRECTORY_RESTRICTION = "directory_restriction"  # set or lifted (Ed Code 49073)
    CHALLENGE = "challenge"
    RECORD_ADDED = "record_added"
    DESTRUCTION_CERTIFICATE = "destruction_certificate"
    KEY_DESTROYED = "key_destroyed"
    CHECKPOINT = "checkpoint"


class EntryError(ValueError):
    """An entry, or its stored form, is not well formed."""


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 (JCS) bytes of a JSON value: the one spelling all verifiers agree on."""
    try:
        return canonical.canonical_bytes(value)
    except canonical.CanonicalizationError as exc:
        raise EntryError(f"cannot canonicalize: {exc}") from None


_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z\Z")


def utc_time(moment: datetime) -> str:
    """``moment`` as UTC ISO 8601 with a Z, the form an entry's time takes."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise EntryError("the time of an entry must be timezone-aware")
    moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds") + "Z"


def _check_time(value: object) -> str:
    if not isinstance(value, str) or not _TIME.match(value):
        raise EntryError(f"time must be UTC ISO 8601 ending in Z, not {value!r}")
    try:
        datetime.fromisoformat(value[:-1])
    except ValueError:
        raise EntryError(f"time {value!r} is not a real date and time") from None
    return value


def _check_seq(value: object) -> int:
    # bool is an int to Python but not to an auditor reading the JSON.
    if type(value) is not int or value < 0:
        raise EntryError(f"seq must be a non-negative integer, not {value!r}")
    return value


def _check_text(name: str, value: object, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise EntryError(f"{name} must be a non-empty string{' or null' if optional else ''}")
    return value


def _check_flag(name: str, value: object) -> None:
    # Exactly true, false or null: 1 and 0 are not booleans to an auditor reading the JSON.
    if value is not None and type(value) is not bool:
        raise EntryError(f"{name} must be true, false or null")


def _check_texts(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise EntryError(f"{name} must be a list of strings")
    items = tuple(value)
    for item in items:
        _check_text(name, item, optional=False)
    return items


def _check_event(value: object) -> EventType:
    try:
        return EventType(value)
    except ValueError:
        raise EntryError(f"unknown event type {value!r}") from None


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked: an identity (sealed) and an AR 5125 requester category (clear)."""

    identity: str
    category: str

    def __post_init__(self) -> None:
        _check_text("requester identity", self.identity, optional=False)
        _check_text("requester category", self.category, optional=False)


@dataclass(frozen=True, slots=True)
class RecordRef:
    """One student record the event touched: its id and record type."""

    id: str
    type: str

    def __post_init__(self) -> None:
        _check_text("record id", self.id, optional=False)
        _check_text("record type", self.type, optional=False)

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "type": self.type}


def _record(value: object) -> RecordRef:
    if isinstance(value, RecordRef):
        return value
    if isinstance(value, Mapping) and set(value) == {"id", "type"}:
        return RecordRef(value["id"], value["type"])
    raise EntryError("each record must be {id, type}")


CLEAR_FIELDS = ("seq", "time", "event", "requester_category", "action", "decision", "clause",
                "citations", "obligations", "log_required", "request_id", "policy_version",
                "outcome")
IDENTIFYING_FIELDS = ("requester_identity", "student_ref", "records", "purpose",
                      "stated_interest")
_OPTIONAL_TEXT_CLEAR = ("requester_category", "action", "decision", "clause", "request_id",
                        "policy_version", "outcome")


@dataclass(frozen=True, slots=True)
class Entry:
    """One event of the access log, in the clear: what the custodian writes."""

    seq: int  # 0-based position in the log
    time: str  # UTC ISO 8601 with Z; see utc_time()
    event: EventType
    requester: Requester | None = None
    student_ref: str | None = None  # opaque id of the student, never a name
    records: tuple[RecordRef, ...] = ()
    action: str | None = None
    purpose: str | None = None
    stated_interest: str | None = None  # the legitimate educational interest claimed
    decision: str | None = None  # permit | deny | pending, as the engine answered
    clause: str | None = None
    citations: tuple[str, ...] = ()
    obligations: tuple[str, ...] = ()
    # Ed Code 49064: does the student's access log list this request? (None: no decision)
    log_required: bool | None = None
    request_id: str | None = None
    policy_version: str | None = None
    outcome: str | None = None

    def __post_init__(self) -> None:
        # Frozen: normalise the containers once, so an Entry is a value.
        set_ = object.__setattr__
        _check_seq(self.seq)
        _check_time(self.time)
        set_(self, "event", _check_event(self.event))
        if self.requester is not None and not isinstance(self.requester, Requester):
            raise EntryError("requester must be a Requester or None")
        _check_text("student_ref", self.student_ref)
        if isinstance(self.records, (str, Mapping)) or not isinstance(self.records, Iterable):
            raise EntryError("records must be a list of {id, type}")
        set_(self, "records", tuple(_record(r) for r in self.records))
        for name in ("action", "purpose", "stated_interest", "decision", "clause",
                     "request_id", "policy_version", "outcome"):
            _check_text(name, getattr(self, name))
        set_(self, "citations", _check_texts("citations", self.citations))
        set_(self, "obligations", _check_texts("obligations", self.obligations))
        _check_flag("log_required", self.log_required)

    @property
    def about_a_student(self) -> bool:
        """Does the entry name a student or their records? Then it must be sealed."""
        return self.student_ref is not None or bool(self.records)

    def clear_part(self) -> dict[str, Any]:
        """What anyone holding the export may read."""
        return {
            "seq": self.seq,
            "time": self.time,
            "event": self.event.value,
            "requester_category": self.requester.category if self.requester else None,
            "action": self.action,
            "decision": self.decision,
            "clause": self.clause,
            "citations": list(self.citations),
            "obligations": list(self.obligations),
            "log_required": self.log_required,
            "request_id": self.request_id,
            "policy_version": self.policy_version,
            "outcome": self.outcome,
        }

    def identifying_part(self) -> dict[str, Any]:
        """What is sealed under the student's content key."""
        return {
            "requester_identity": self.requester.identity if self.requester else None,
            "student_ref": self.student_ref,
            "records": [r.as_dict() for r in self.records],
            "purpose": self.purpose,
            "stated_interest": self.stated_interest,
        }

    @classmethod
    def from_parts(cls, clear: Mapping[str, Any], identifying: Mapping[str, Any]) -> Entry:
        """Put an entry back together from its clear and (opened) identifying parts."""
        _exact_keys("clear part", clear, CLEAR_FIELDS)
        _exact_keys("identifying part", identifying, IDENTIFYING_FIELDS)
        category, identity = clear["requester_category"], identifying["requester_identity"]
        if (category is None) != (identity is None):
            raise EntryError("requester identity and category must be both present or both null")
        fields = {k: v for k, v in clear.items() if k != "requester_category"}
        fields.update((k, v) for k, v in identifying.items() if k != "requester_identity")
        requester = Requester(identity, category) if identity is not None else None
        try:
            return cls(requester=requester, **fields)
        except TypeError as exc:  # e.g. records of the wrong shape
            raise EntryError(str(exc)) from None


def _exact_keys(what: str, value: object, expected: tuple[str, ...]) -> None:
    if not isinstance(value, Mapping):
        raise EntryError(f"{what} must be a JSON object")
    missing = [k for k in expected if k not in value]
    extra = sorted(set(value) - set(expected))
    if missing or extra:
        said = ([f"missing {', '.join(missing)}"] if missing else []) + \
               ([f"unexpected {', '.join(extra)}"] if extra else [])
        raise EntryError(f"{what}: {'; '.join(said)}")


def _check_clear(clear: Mapping[str, Any]) -> None:
    _exact_keys("entry", clear, CLEAR_FIELDS)
    _check_seq(clear["seq"])
    _check_time(clear["time"])
    _check_event(clear["event"])
    for name in _OPTIONAL_TEXT_CLEAR:
        _check_text(name, clear[name])
    for name in ("citations", "obligations"):
        if not isinstance(clear[name], (list, tuple)):  # tuple: already frozen
            raise EntryError(f"{name} must be a list of strings")
        _check_texts(name, clear[name])
    _check_flag("log_required", clear["log_required"])


def _check_identifying(identifying: Mapping[str, Any]) -> None:
    _exact_keys("identifying part", identifying, IDENTIFYING_FIELDS)
    for name in ("requester_identity", "student_ref", "purpose", "stated_interest"):
        _check_text(name, identifying[name])
    if not isinstance(identifying["records"], list):
        raise EntryError("records must be a list of {id, type}")
    for record in identifying["records"]:
        _record(record)


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as the access log keeps and exports it; its canonical bytes are the leaf.

    Exactly one of ``sealed`` (nonce || AES-GCM ciphertext of the identifying
    part) and ``identifying`` (the part in the clear) is set; the second only
    for an entry about no student (a checkpoint, say).
    """

    clear: Mapping[str, Any]
    prev_hash: bytes | None  # leaf hash of entry seq-1; None for seq 0
    sealed: bytes | None = None
    identifying: Mapping[str, Any] | None = None
    _leaf: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_clear(self.clear)
        object.__setattr__(self, "clear", _freeze(self.clear))
        seq = self.clear["seq"]
        if seq == 0 and self.prev_hash is not None:
            raise EntryError("the first entry (seq 0) has no prev_hash")
        if seq > 0 and (not isinstance(self.prev_hash, bytes) or len(self.prev_hash) != HASH_SIZE):
            raise EntryError(f"prev_hash must be the {HASH_SIZE}-byte leaf hash of entry {seq - 1}")
        if (self.sealed is None) == (self.identifying is None):
            raise EntryError("an entry is either sealed or open, exactly one of the two")
        if self.sealed is not None:
            if not isinstance(self.sealed, bytes) or len(self.sealed) < MIN_SEALED_SIZE:
                raise EntryError("sealed must be nonce || ciphertext || tag")
        else:
            _check_identifying(self.identifying)
            if self.identifying["student_ref"] is not None or self.identifying["records"]:
                raise EntryError("an entry about a student must be sealed, not stored open")
            object.__setattr__(self, "identifying", _freeze(self.identifying))

    @property
    def seq(self) -> int:
        return self.clear["seq"]

    @property
    def event(self) -> EventType:
        return EventType(self.clear["event"])

    def to_json(self) -> dict[str, Any]:
        """The stored form as a JSON object (the thing the export writes)."""
        obj: dict[str, Any] = {"v": FORMAT_VERSION, **_thaw(self.clear)}
        obj["prev_hash"] = None if self.prev_hash is None else b64encode(self.prev_hash)
        if self.sealed is not None:
            obj["sealed"] = b64encode(self.sealed)
        else:
            obj["identifying"] = _thaw(self.identifying)
        return obj

    def leaf(self) -> bytes:
        """The Merkle leaf: RFC 8785 bytes of the stored form. Also a valid export line."""
        if self._leaf is None:
            object.__setattr__(self, "_leaf", canonical_bytes(self.to_json()))
        return self._leaf  # type: ignore[return-value]

    @classmethod
    def from_json(cls, obj: object) -> StoredEntry:
        """Read and check one stored entry; EntryError says what is wrong."""
        if not isinstance(obj, Mapping):
            raise EntryError("an entry must be a JSON object")
        if type(obj.get("v")) is not int or obj["v"] != FORMAT_VERSION:
            raise EntryError(f"unsupported entry format v={obj.get('v')!r}")
        extra = set(obj) - {"v", "prev_hash", "sealed", "identifying", *CLEAR_FIELDS}
        if extra:
            raise EntryError(f"entry: unexpected {', '.join(sorted(extra))}")
        if "prev_hash" not in obj:
            raise EntryError("entry: missing prev_hash")
        clear = {k: obj[k] for k in CLEAR_FIELDS if k in obj}
        try:
            prev = None if obj["prev_hash"] is None else b64decode(
                obj["prev_hash"], length=HASH_SIZE, what="prev_hash")
            sealed = None if "sealed" not in obj else b64decode(obj["sealed"], what="sealed")
        except ValueError as exc:
            raise EntryError(str(exc)) from None
        stored = cls(clear, prev, sealed, obj.get("identifying"))
        # Checked above, obj is exactly stored.to_json(): canonicalize it as read,
        # which spares the verifier rebuilding it (a third of its time per entry).
        object.__setattr__(stored, "_leaf", canonical_bytes(dict(obj)))
        return stored

    @classmethod
    def from_json_line(cls, line: str | bytes) -> StoredEntry:
        try:
            # Decode ourselves: json.loads would also guess UTF-16 and UTF-32.
            obj = load_json(line.decode("utf-8") if isinstance(line, bytes) else line)
        except ValueError as exc:  # includes JSONDecodeError and UnicodeDecodeError
            raise EntryError(f"not valid JSON: {exc}") from None
        return cls.from_json(obj)
