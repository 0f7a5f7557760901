"""The access log in the database: append, search, open, checkpoint, prove, verify.

``uow.access_log`` works in the unit of work's transaction like every repository: an
entry is written with the action it records and nothing is committed until
``uow.commit()``. Appends are serialized by the one-row tree head (PostgreSQL:
``SELECT ... FOR UPDATE``; SQLite has one writer at a time), which holds the tree's
size, root, the last leaf hash (the next entry's ``prev_hash``) and its right edge, so
an append reads one row and writes one entry, its new tree nodes and the head.

The identifying part of an entry about a student is sealed under the student's content
key (audit/sealing.py), made on first use and kept wrapped by the key-encryption key.
``destroy_student_key`` crypto-shreds it: the entries stay and every proof still
verifies, but nothing opens their content. Entries about a student whose key is
destroyed are sealed under a key that is never stored: they are born unreadable.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    VerifierKey,
    parse_and_verify,
    sign_checkpoint,
    verifier_key,
)
from audit.events import (
    Entry,
    EntryError,
    EventType,
    RecordRef,
    Requester,
    StoredEntry,
    utc_time,
)
from audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleTree,
    NodeId,
    ProofError,
    leaf_hash,
    node_hash,
    verify_consistency,
)
from audit.sealing import SealError, new_content_key, open_entry, store_entry
from audit.verify import VerificationReport, proof_bundle
from gateway.policy.decision import Decision
from gateway.store.crypto import CryptoError, KeyEncryptionKeys
from gateway.store.db import BEGINS_IMMEDIATE
from gateway.store.models import (
    AccessLogCheckpoint,
    AccessLogEntry,
    AccessLogHead,
    AccessLogNode,
    StudentContentKey,
)

HEAD_ID = 1
_entries = AccessLogEntry.__table__
_nodes = AccessLogNode.__table__
_head = AccessLogHead.__table__
_keys = StudentContentKey.__table__
_checkpoints = AccessLogCheckpoint.__table__
_IN_CHUNK = 400  # node ids per query: under SQLite's bound-parameter limit

# The append's statements, built once: SQLAlchemy then neither rebuilds them nor
# recomputes their cache keys on every append (that was most of an append's time).
_TAKE_SQLITE_WRITE_LOCK = _head.update().where(sa.false()).values(size=_head.c.size)
_HEAD_AND_KEY = (
    sa.select(_head.c.size, _head.c.last_leaf_hash, _head.c.edge,
              _keys.c.student_id.label("key_student_id"), _keys.c.wrapped_key,
              _keys.c.kek_id, _keys.c.destroyed_at)
    .select_from(_head.outerjoin(_keys, _keys.c.student_id == sa.bindparam(
        "student_id", type_=_keys.c.student_id.type)))  # None: no key row (= NULL)
    .where(_head.c.id == HEAD_ID).with_for_update(of=_head))
_KEY_ROW = sa.select(_keys.c.student_id.label("key_student_id"), _keys.c.wrapped_key,
                     _keys.c.kek_id, _keys.c.destroyed_at).where(
    _keys.c.student_id == sa.bindparam("student_id", type_=_keys.c.student_id.type))
_INSERT_KEY = _keys.insert()
_INSERT_ENTRY = _entries.insert()
_INSERT_NODES = _nodes.insert()
_MOVE_HEAD = _head.update().where(
    _head.c.id == HEAD_ID, _head.c.size == sa.bindparam("old_size", type_=_head.c.size.type)
).values(size=sa.bindparam("new_size", type_=_head.c.size.type),
         root=sa.bindparam("new_root", type_=_head.c.root.type),
         last_leaf_hash=sa.bindparam("new_last_leaf_hash", type_=_head.c.last_leaf_hash.type),
         edge=sa.bindparam("new_edge", type_=_head.c.edge.type))


@functools.lru_cache(maxsize=16)
def _postgresql_append(entry_columns: tuple[str, ...], key_columns: tuple[str, ...]) -> Any:
    """The head's UPDATE with the entry, its nodes (arrays, unnested) and a new content
    key (if ``key_columns``) inserted by CTEs; parameters e_*, n_*, k_* and the head's."""
    move = _MOVE_HEAD
    if key_columns:
        move = move.add_cte(_keys.insert().values(
            {c: sa.bindparam(f"k_{c}", type_=_keys.c[c].type) for c in key_columns}
        ).cte("write_key"))
    move = move.add_cte(_entries.insert().values(
        {c: sa.bindparam(f"e_{c}", type_=_entries.c[c].type) for c in entry_columns}
    ).cte("write_entry"))
    nodes = sa.select(*(
        sa.func.unnest(sa.bindparam(f"n_{c}", type_=sa.ARRAY(_nodes.c[c].type)))
        for c in ("level", "index", "hash")))
    return move.add_cte(_nodes.insert().from_select(["level", "index", "hash"], nodes)
                        .cte("write_nodes"))


class AccessLogError(Exception):
    """The access log cannot do what was asked (e.g. no such entry, no checkpoint)."""


class CheckpointRefused(AccessLogError):
    """The stored log does not extend a checkpoint the signer signed: it will not sign."""


# --- The signer -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogSigner:
    """Who signs the log's checkpoints: the log's origin and its Ed25519 key."""

    origin: str
    key_name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    @property
    def verifier_key(self) -> str:
        """The public key as auditors are given it (``<name>+<id>+<base64 key>``)."""
        return verifier_key(self.key_name, self.private_key)


# --- What the repository hands out ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreeHead:
    size: int
    root: bytes


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: str  # the C2SP signed note, as auditors verify it
    key_name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    """An entry as found: its search columns and its stored (sealed) form."""

    seq: int
    time: datetime
    event: EventType
    requester_category: str | None
    decision: str | None
    clause: str | None
    student_id: uuid.UUID | None
    request_id: str | None
    requester_id: uuid.UUID | None
    stored: StoredEntry

    @property
    def log_required(self) -> bool:
        """Does the student's Ed Code 49064 log list this entry? (its decision said so)"""
        return self.stored.clear["log_required"] is True


@dataclass(frozen=True, slots=True)
class OpenedEntry:
    """An entry with its identifying part opened; ``entry`` is None once it cannot be
    (the student's content key was destroyed)."""

    logged: LoggedEntry
    entry: Entry | None

    @property
    def content_destroyed(self) -> bool:
        return self.entry is None


def requester_identity(requester_id: uuid.UUID, display_name: str) -> str:
    """How the log names a registered requester: the name a parent reads, and the id a
    custodian searches by."""
    return f"{display_name} [{requester_id}]"


_REQUESTER_ID = re.compile(r"\[([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})\]\Z")


def requester_id_of(identity: str | None) -> uuid.UUID | None:
    """The registered requester's id in an identity ``requester_identity`` wrote."""
    found = _REQUESTER_ID.search(identity) if identity else None
    return uuid.UUID(found.group(1)) if found else None


# --- The repository -------------------------------------------------------------------


class AccessLogRepository:
    def __init__(self, session: Session, keys: KeyEncryptionKeys) -> None:
        self.session = session
        self._keys = keys
        self._content_keys: dict[uuid.UUID, bytes | None] = {}  # this transaction's

    # -- appending -----------------------------------------------------------------

    def append(self, event: EventType, *, at: datetime, student_id: uuid.UUID | None = None,
               requester: Requester | None = None, records: Sequence[RecordRef] = (),
               action: str | None = None, purpose: str | None = None,
               stated_interest: str | None = None, decision: Decision | None = None,
               request_id: str | None = None, policy_version: str | None = None,
               outcome: str | None = None,
               obligations: Sequence[str] | None = None) -> StoredEntry:
        """Add an entry in the caller's transaction; it is the log's once committed.

        ``decision`` fills decision, clause, citations and (unless given) obligations and
        log_required (whether the student's Ed Code 49064 log lists the entry).
        Empty strings are taken as absent. EntryError if the entry is not well formed.
        """
        head = self._lock_head(student_id)
        seq = head["size"]
        entry = Entry(
            seq=seq, time=utc_time(at), event=EventType(event), requester=requester,
            student_ref=str(student_id) if student_id is not None else None,
            records=tuple(records), action=action or None, purpose=purpose or None,
            stated_interest=stated_interest or None,
            decision=decision.outcome.value if decision is not None else None,
            clause=decision.clause if decision is not None else None,
            citations=decision.citations if decision is not None else (),
            log_required=decision.log_required if decision is not None else None,
            obligations=tuple(obligations) if obligations is not None else (
                tuple(o.value for o in decision.obligations) if decision is not None else ()),
            request_id=request_id or None, policy_version=policy_version or None,
            outcome=outcome or None)
        key, new_key = None, None
        if entry.about_a_student:
            if student_id is None:
                raise EntryError("an entry naming records names their student too")
            key, new_key = self._content_key_for_sealing(student_id, head, at)
        stored = store_entry(entry, key, head["last_leaf_hash"])
        leaf = stored.leaf()
        digest = leaf_hash(leaf)
        edge = _Edge.of_head(seq, head["edge"])
        completed = [(0, seq, digest)]
        edge.push(0, digest, completed, seq)

        row = dict(
            seq=seq, leaf=leaf, time=at, event=entry.event,
            requester_category=requester.category if requester else None,
            decision=entry.decision, clause=entry.clause, student_id=student_id,
            request_id=entry.request_id,
            requester_id=requester_id_of(requester.identity) if requester else None)
        move = {"old_size": seq, "new_size": seq + 1, "new_root": edge.root(),
                "new_last_leaf_hash": digest, "new_edge": edge.encode()}
        connection = self.session.connection()
        if self._postgresql:
            # One round trip: the inserts ride along as data-modifying CTEs of the head's
            # UPDATE, one statement text whatever the entry (psycopg prepares it).
            params = {**{f"e_{k}": v for k, v in row.items()}, **move,
                      "n_level": [n[0] for n in completed],
                      "n_index": [n[1] for n in completed],
                      "n_hash": [n[2] for n in completed]}
            if new_key is not None:
                params.update({f"k_{k}": v for k, v in new_key.items()})
            moved = connection.execute(
                _postgresql_append(tuple(row), tuple(new_key or ())), params).rowcount
        else:
            if new_key is not None:
                connection.execute(_INSERT_KEY, new_key)
            connection.execute(_INSERT_ENTRY, row)
            connection.execute(_INSERT_NODES, [
                {"level": level, "index": index, "hash": h} for level, index, h in completed])
            moved = connection.execute(_MOVE_HEAD, move).rowcount
        if moved != 1:
            raise AccessLogError("the tree head moved under the lock")
        return stored

    @property
    def _postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def _lock_head(self, student_id: uuid.UUID | None = None) -> Any:
        """The head row, locked, with the student's content key row (if any) beside it."""
        connection = self.session.connection()
        if not self._postgresql and not connection.info.get(BEGINS_IMMEDIATE):
            # Take SQLite's write lock before reading the head (waiting out the busy
            # timeout if another writer has it), so that the head read is the latest.
            # It cannot help a transaction that has already read: its snapshot is taken,
            # and a writer that committed since makes this fail (fail closed) instead.
            # Our engines (gateway.store.db) begin IMMEDIATE: the lock is held already.
            connection.execute(_TAKE_SQLITE_WRITE_LOCK)
        return connection.execute(_HEAD_AND_KEY, {"student_id": student_id}).mappings().one()

    def _content_key_for_sealing(self, student_id: uuid.UUID, head: Any, at: datetime
                                 ) -> tuple[bytes, dict[str, Any] | None]:
        """(the key to seal with, the row to insert if it is new). Under the head lock, so
        two first entries about a student cannot both make a key."""
        new_row = None
        if (head["key_student_id"] is None and student_id not in self._content_keys
                and self._postgresql):
            # The join saw the key table as of the statement's start: if it waited for
            # the head lock while another append made this student's key, the key row
            # is not in ``head`` (PostgreSQL re-reads only the locked row), and a second
            # key would fail the commit. Now that the lock is held, look again.
            found = self.session.connection().execute(
                _KEY_ROW, {"student_id": student_id}).mappings().one_or_none()
            if found is not None:
                head = {**head, **found}
        if student_id in self._content_keys:
            key = self._content_keys[student_id]
        elif head["key_student_id"] is None:
            key = new_content_key()
            kek_id, wrapped = self._keys.wrap(key)
            new_row = {"student_id": student_id, "wrapped_key": wrapped, "kek_id": kek_id,
                       "created_at": at}
        elif head["destroyed_at"] is not None:
            key = None
        else:
            key = self._keys.unwrap(head["kek_id"], head["wrapped_key"])
        self._content_keys[student_id] = key
        # Destroyed: seal under a key nobody keeps, so the entry is born unreadable.
        return (key if key is not None else new_content_key()), new_row

    def destroy_student_key(self, student_id: uuid.UUID, at: datetime) -> bool:
        """Crypto-shred the student's content key (5 CCR 437, with their records).

        The entries stay, and the tree and every proof still verify; their identifying
        parts no longer open. Records a KEY_DESTROYED entry. False if the key was
        already destroyed (nothing changes); a student with no key yet is marked so
        that no key is ever made for them.
        """
        self._lock_head()  # serialized with appends that would make or use the key
        row = self.session.execute(
            sa.select(_keys.c.destroyed_at).where(_keys.c.student_id == student_id)
        ).one_or_none()
        if row is not None and row.destroyed_at is not None:
            return False
        if row is None:
            self.session.execute(_keys.insert().values(
                student_id=student_id, wrapped_key=None, kek_id=None, created_at=at,
                destroyed_at=at))
        else:
            self.session.execute(_keys.update().where(_keys.c.student_id == student_id)
                                 .values(wrapped_key=None, kek_id=None, destroyed_at=at))
        self._content_keys[student_id] = None
        # Sealed under a key nobody keeps (see above): searchable by student, never opened.
        self.append(EventType.KEY_DESTROYED, at=at, student_id=student_id,
                    outcome="content_key_destroyed")
        return True

    # -- key-encryption key rotation ---------------------------------------------------

    def content_keys_by_kek(self) -> dict[str, int]:
        """How many live content keys each KEK still wraps (a KEK absent can be retired)."""
        rows = self.session.execute(
            sa.select(_keys.c.kek_id, sa.func.count()).where(_keys.c.destroyed_at.is_(None))
            .group_by(_keys.c.kek_id))
        return {kek_id: count for kek_id, count in rows if kek_id is not None}

    def rewrap_content_keys(self, after: uuid.UUID | None, limit: int
                            ) -> tuple[int, uuid.UUID | None]:
        """Re-wrap up to ``limit`` content keys not under the active KEK, after ``after``:
        (how many, the last student id looked at or None when none is left)."""
        stmt = (sa.select(_keys.c.student_id, _keys.c.kek_id, _keys.c.wrapped_key)
                .where(_keys.c.destroyed_at.is_(None), _keys.c.kek_id != self._keys.active_id)
                .order_by(_keys.c.student_id).limit(limit).with_for_update(skip_locked=True))
        if after is not None:
            stmt = stmt.where(_keys.c.student_id > after)
        rows = self.session.execute(stmt).all()
        done = 0
        for student_id, kek_id, wrapped in rows:
            new_kek_id, new_wrapped = self._keys.wrap(self._keys.unwrap(kek_id, wrapped))
            done += self.session.execute(
                _keys.update().where(_keys.c.student_id == student_id,
                                     _keys.c.kek_id == kek_id, _keys.c.destroyed_at.is_(None))
                .values(kek_id=new_kek_id, wrapped_key=new_wrapped)).rowcount
        return done, (rows[-1][0] if rows else None)

    # -- reading -----------------------------------------------------------------------

    def head(self) -> TreeHead:
        row = self.session.execute(sa.select(_head.c.size, _head.c.root)
                                   .where(_head.c.id == HEAD_ID)).one()
        return TreeHead(row.size, row.root)

    def get(self, seq: int) -> LoggedEntry:
        found = self.search(after_seq=seq - 1, limit=1)
        if not found or found[0].seq != seq:
            raise AccessLogError(f"there is no entry {seq}")
        return found[0]

    def search(self, *, student_id: uuid.UUID | None = None,
               requester_category: str | None = None, event: EventType | None = None,
               decision: str | None = None, clause: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               request_id: str | None = None, requester_id: uuid.UUID | None = None,
               after_seq: int | None = None, limit: int = 100,
               newest_first: bool = False) -> list[LoggedEntry]:
        """Entries by their search columns, in seq order; ``since`` inclusive,
        ``until`` exclusive; ``after_seq`` pages on (before_seq when newest first)."""
        c = _entries.c
        stmt = sa.select(_entries)
        for column, value in ((c.student_id, student_id),
                              (c.requester_category, requester_category),
                              (c.event, EventType(event) if event is not None else None),
                              (c.decision, decision), (c.clause, clause),
                              (c.request_id, request_id), (c.requester_id, requester_id)):
            if value is not None:
                stmt = stmt.where(column == value)
        if since is not None:
            stmt = stmt.where(c.time >= since)
        if until is not None:
            stmt = stmt.where(c.time < until)
        if after_seq is not None:
            stmt = stmt.where(c.seq < after_seq if newest_first else c.seq > after_seq)
        stmt = stmt.order_by(c.seq.desc() if newest_first else c.seq).limit(max(0, limit))
        return [_logged(row) for row in self.session.execute(stmt)]

    def open(self, logged: Iterable[LoggedEntry]) -> list[OpenedEntry]:
        """The entries with their identifying parts opened where the key still exists."""
        logged = list(logged)
        keys = self._opening_keys({e.student_id for e in logged if e.student_id is not None})
        opened = []
        for item in logged:
            key = keys.get(item.student_id) if item.student_id is not None else None
            try:
                entry = open_entry(item.stored, key)
            except SealError:
                entry = None
            opened.append(OpenedEntry(item, entry))
        return opened

    def content_key_destroyed(self, student_id: uuid.UUID) -> bool:
        row = self.session.execute(sa.select(_keys.c.destroyed_at)
                                   .where(_keys.c.student_id == student_id)).one_or_none()
        return row is not None and row.destroyed_at is not None

    def _opening_keys(self, student_ids: set[uuid.UUID]) -> dict[uuid.UUID, bytes]:
        keys: dict[uuid.UUID, bytes] = {}
        ids = sorted(student_ids)
        for start in range(0, len(ids), _IN_CHUNK):
            rows = self.session.execute(
                sa.select(_keys.c.student_id, _keys.c.wrapped_key, _keys.c.kek_id)
                .where(_keys.c.student_id.in_(ids[start:start + _IN_CHUNK]),
                       _keys.c.destroyed_at.is_(None)))
            for row in rows:
                try:
                    keys[row.student_id] = self._keys.unwrap(row.kek_id, row.wrapped_key)
                except CryptoError:
                    continue  # a retired KEK: the content stays shut, the rest is readable
        return keys

    def export_lines(self, start: int = 0, stop: int | None = None,
                     batch: int = 5000) -> Iterator[bytes]:
        """The export: each entry's canonical JSON (its leaf) and a newline, in seq order."""
        for _seq, leaf in self._leaves(start, stop, batch):
            yield leaf + b"\n"

    def _leaves(self, start: int, stop: int | None, batch: int) -> Iterator[tuple[int, bytes]]:
        # Keyset pages, each its own short query: no cursor held open across a long read.
        after = start - 1
        while True:
            stmt = (sa.select(_entries.c.seq, _entries.c.leaf).where(_entries.c.seq > after)
                    .order_by(_entries.c.seq).limit(batch))
            if stop is not None:
                stmt = stmt.where(_entries.c.seq < stop)
            rows = self.session.execute(stmt).all()
            for seq, leaf in rows:
                yield seq, bytes(leaf)
            if len(rows) < batch:
                return
            after = rows[-1][0]

    # -- checkpoints and proofs --------------------------------------------------------

    def checkpoint(self, signer: LogSigner, at: datetime, *,
                   kept_note: str | None = None) -> SignedCheckpoint:
        """A signed checkpoint of the log as committed now; the latest one if it already
        covers every entry (so a timer may call this as often as it likes).

        A new one is signed only over a tree that extends the checkpoints the signer
        answers for: the latest in the database and ``kept_note``, the last it signed,
        which ``audit checkpoint`` keeps outside the database. A signer that signed
        whatever the database holds would sign over a log its owner rewrote (with the
        triggers off and the checkpoints deleted), and the rewritten log would verify.
        CheckpointRefused says what does not extend.
        """
        head = self.head()
        latest = self.latest_checkpoint()
        kept = self._signed_by(signer, kept_note) if kept_note is not None else None
        if (latest is not None and latest.size >= head.size
                and (kept is None or kept.size <= latest.size)):
            return latest
        if latest is not None:
            self._require_extension(head, latest.size, latest.root,
                                    "the latest checkpoint in the database")
        if kept is not None and (latest is None or (kept.size, kept.root_hash)
                                 != (latest.size, latest.root)):
            what = "the last checkpoint this signer signed"
            self._require_extension(head, kept.size, kept.root_hash, what)
            stored = self.checkpoint_at(kept.size)
            if stored is None or stored.root != kept.root_hash:
                raise CheckpointRefused(f"{what} (size {kept.size}) is missing from the "
                                        "database: checkpoints were deleted")
        note = sign_checkpoint(signer.origin, head.size, head.root, signer.private_key,
                               signer.key_name)
        row = {"size": head.size, "root": head.root, "note": note,
               "key_name": signer.key_name, "created_at": at}
        try:
            with self.session.begin_nested():
                self.session.execute(_checkpoints.insert().values(**row))
        except IntegrityError:
            # Another checkpointer signed this size first: theirs is as good.
            found = self.checkpoint_at(head.size)
            if found is None:
                raise
            return found
        return SignedCheckpoint(**row)

    @staticmethod
    def _signed_by(signer: LogSigner, note: str) -> Checkpoint:
        """The kept checkpoint ``note``, read once its signature is found to be ``signer``'s."""
        try:
            return parse_and_verify(note, signer.verifier_key, origin=signer.origin)
        except CheckpointError as exc:
            raise CheckpointRefused(f"the checkpoint kept outside the database is not one "
                                    f"this signer signed ({exc})") from None

    def _require_extension(self, head: TreeHead, size: int, root: bytes, what: str) -> None:
        """CheckpointRefused unless the stored tree is ``what`` (size, root) extended."""
        if size > head.size:
            raise CheckpointRefused(f"the log has {head.size} entries, fewer than the "
                                    f"{size} {what} covers: entries were removed")
        try:
            proof = self.tree().consistency_proof(size, head.size)
            verify_consistency(size, head.size, proof, root, head.root)
        except (ProofError, LookupError, ValueError):
            raise CheckpointRefused(f"the stored tree does not extend {what} (size "
                                    f"{size}): entries it covers were changed") from None

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        row = self.session.execute(sa.select(_checkpoints).order_by(_checkpoints.c.size.desc())
                                   .limit(1)).mappings().one_or_none()
        return SignedCheckpoint(**row) if row is not None else None

    def checkpoint_at(self, size: int) -> SignedCheckpoint | None:
        row = self.session.execute(sa.select(_checkpoints).where(_checkpoints.c.size == size)
                                   ).mappings().one_or_none()
        return SignedCheckpoint(**row) if row is not None else None

    def checkpoints(self) -> list[SignedCheckpoint]:
        rows = self.session.execute(sa.select(_checkpoints).order_by(_checkpoints.c.size))
        return [SignedCheckpoint(**row) for row in rows.mappings()]

    def tree(self) -> MerkleTree:
        """The log's Merkle tree at its committed size, over the stored nodes."""
        return MerkleTree(DatabaseTreeStore(self.session))

    def inclusion_proof(self, seq: int, size: int | None = None) -> list[bytes]:
        return self.tree().inclusion_proof(seq, size)

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        return self.tree().consistency_proof(old_size, size)

    def proof_bundle(self, seq: int, checkpoint: SignedCheckpoint | None = None
                     ) -> dict[str, Any]:
        """Entry ``seq`` and its inclusion proof against a signed checkpoint (the latest
        by default): what ``python -m audit.verify --proof`` checks."""
        checkpoint = checkpoint or self.latest_checkpoint()
        if checkpoint is None or checkpoint.size <= seq:
            raise AccessLogError(f"no checkpoint covers entry {seq} yet")
        stored = self.get(seq).stored
        proof = self.inclusion_proof(seq, checkpoint.size)
        return proof_bundle(stored, checkpoint.size, proof, checkpoint.note)

    # -- verifying ---------------------------------------------------------------------

    def verify(self, vkey: VerifierKey | str | None = None, *,
               checkpoint_note: str | None = None, from_checkpoint: bool = False,
               latest_checkpoint_only: bool = False, workers: int = 1,
               batch: int = 20_000) -> VerificationReport:
        """Verify the log as stored; see gateway/store/log_verify.py. ``workers`` > 1
        reads a long log in that many processes."""
        from gateway.store.log_verify import verify_database

        return verify_database(self, vkey, checkpoint_note=checkpoint_note,
                               from_checkpoint=from_checkpoint,
                               latest_checkpoint_only=latest_checkpoint_only,
                               workers=workers, batch=batch)


def _logged(row: Any) -> LoggedEntry:
    try:
        stored = StoredEntry.from_json_line(bytes(row.leaf))
    except EntryError as exc:
        raise AccessLogError(f"entry {row.seq} cannot be read: {exc}") from None
    return LoggedEntry(seq=row.seq, time=row.time, event=EventType(row.event),
                       requester_category=row.requester_category, decision=row.decision,
                       clause=row.clause, student_id=row.student_id,
                       request_id=row.request_id, requester_id=row.requester_id,
                       stored=stored)


# --- The tree in the database ---------------------------------------------------------


class _Edge:
    """The right edge of the tree: (level, hash) of each complete subtree, largest first."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[int, bytes]]) -> None:
        self.items = items

    @classmethod
    def of_head(cls, size: int, encoded: bytes) -> _Edge:
        levels = [level for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]
        if len(encoded) != HASH_SIZE * len(levels):
            raise AccessLogError("the tree head's right edge does not match its size")
        return cls([(level, encoded[i * HASH_SIZE:(i + 1) * HASH_SIZE])
                    for i, level in enumerate(levels)])

    def push(self, level: int, digest: bytes,
             completed: list[tuple[int, int, bytes]] | None = None, index: int = 0) -> None:
        items = self.items
        while items and items[-1][0] == level:
            digest = node_hash(items.pop()[1], digest)
            level += 1
            if completed is not None:
                completed.append((level, index >> level, digest))
        items.append((level, digest))

    def root(self) -> bytes:
        if not self.items:
            return EMPTY_ROOT
        acc = self.items[-1][1]
        for _, digest in reversed(self.items[:-1]):
            acc = node_hash(digest, acc)
        return acc

    def encode(self) -> bytes:
        return b"".join(digest for _, digest in self.items)


class DatabaseTreeStore:
    """The audit.merkle TreeStore over the access_log_nodes table, for proofs.

    Read-only: appends go through ``AccessLogRepository.append``, which writes the
    nodes and moves the head in one step under the head lock.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def size(self) -> int:
        return self.session.execute(sa.select(_head.c.size).where(_head.c.id == HEAD_ID)
                                    ).scalar_one()

    def get(self, ids: Sequence[NodeId]) -> list[bytes]:
        found: dict[tuple[int, int], bytes] = {}
        wanted = sorted(set(ids))
        sqlite = self.session.get_bind().dialect.name == "sqlite"
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start:start + _IN_CHUNK]
            if sqlite:
                # SQLite scans the whole table for a row-value IN list; an OR of key
                # lookups is one index search each (a proof on a long log: ms, not 0.3 s).
                which = sa.or_(*(sa.and_(_nodes.c.level == node.level,
                                         _nodes.c.index == node.index) for node in chunk))
            else:
                which = sa.tuple_(_nodes.c.level, _nodes.c.index).in_(
                    [tuple(node) for node in chunk])
            rows = self.session.execute(
                sa.select(_nodes.c.level, _nodes.c.index, _nodes.c.hash).where(which))
            for level, index, digest in rows:
                found[(level, index)] = bytes(digest)
        try:
            return [found[(level, index)] for level, index in ids]
        except KeyError as exc:
            raise KeyError(NodeId(*exc.args[0])) from None

    def add(self, size: int, nodes: Sequence[tuple[NodeId, bytes]]) -> None:
        raise AccessLogError("the stored tree grows only through AccessLogRepository.append")


__all__ = [
    "AccessLogError",
    "CheckpointRefused",
    "AccessLogRepository",
    "DatabaseTreeStore",
    "LogSigner",
    "LoggedEntry",
    "OpenedEntry",
    "SignedCheckpoint",
    "TreeHead",
    "requester_identity",
]
