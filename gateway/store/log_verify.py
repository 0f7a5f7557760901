"""Verifying the access log where it is stored, fast, with the offline verifier's findings.

One pass over the entries in seq order checks that each leaf is a well-formed stored
entry in its RFC 8785 form, that seqs run 0, 1, 2... with each ``prev_hash`` the leaf
hash of the entry before, that the search columns say what the leaf says (``student_id``
and ``requester_id`` against the identifying part, opened where the student's content key
still exists), and that the Merkle tree over the leaves has the head's size and root and
every signed checkpoint's root at the checkpoint's size.

Speed comes from the shape of our entries: a leaf is parsed with orjson and re-encoded
with sorted keys, which for entries of exactly our shape (ASCII keys, strings, small
integers, null; checked before) is byte for byte the RFC 8785 form (audit/canonical.py
argues it for the standard encoder, tests/integration/store/test_access_log_verify.py
checks orjson against rfc8785). Rows come from the driver as tuples, a page at a time;
a page of sealed entries has its shape, seqs, chain and search columns checked by
passes in C over the whole page (``_fast_page``), and its sealed parts opened in one
loop with each student's cipher made once (``_SealedParts``). A page with anything else
in it is read entry by entry (``_fast_entry``, and audit.events for a leaf off that
path, which decides). Leaf hashes are folded into the tree 4096 at a time.

When anything is wrong, the log is read again through ``audit.verify.verify_log``, the
offline verifier an auditor runs on an export, so both name the same first bad entry.
"""

from __future__ import annotations

import binascii
import ctypes
import functools
import gc
import hashlib
import multiprocessing
import os
import re
import signal
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from itertools import chain, repeat
from operator import eq, itemgetter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from audit._codec import b64decode
from audit.checkpoint import Checkpoint, CheckpointError, VerifierKey, parse_and_verify
from audit.events import CLEAR_FIELDS, FORMAT_VERSION, EntryError, EventType, StoredEntry
from audit.merkle import (
    EMPTY_ROOT,
    NodeId,
    ProofError,
    _range_nodes,
    verify_inclusion,
)
from audit.sealing import NONCE_SIZE, SealError, open_sealed, sealing_aad
from audit.verify import VerificationReport, verify_log
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.models import AccessLogCheckpoint, AccessLogEntry, AccessLogHead

if TYPE_CHECKING:
    from gateway.store.access_log import AccessLogRepository

try:
    import orjson

    _loads = orjson.loads
    _OPTIONS = orjson.OPT_SORT_KEYS

    def _dumps(value: Any) -> bytes:
        return orjson.dumps(value, option=_OPTIONS)
except ImportError:  # pragma: no cover - orjson is a dependency; the stdlib is exact too
    import json

    _loads = json.loads
    _encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                               check_circular=False).encode

    def _dumps(value: Any) -> bytes:
        return _encode(value).encode("utf-8")

# Fewer entries than this to read are read in the one process: starting another costs
# about as much as reading 50,000 entries.
PARALLEL_FROM = 100_000
CHUNK_LEVEL = 12
CHUNK = 1 << CHUNK_LEVEL
_entries = AccessLogEntry.__table__
_head = AccessLogHead.__table__
_checkpoints = AccessLogCheckpoint.__table__
_SEALED_KEYS = frozenset({"v", "prev_hash", "sealed", *CLEAR_FIELDS})
_EVENTS = frozenset(e.value for e in EventType)
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z\Z")
# Canonical padded base64 (the decoder in audit/_codec.py accepts nothing else): the
# last character before the padding leaves its unused bits zero.
_PAD_ONE = frozenset("AEIMQUYcgkosw048")
_PAD_TWO = frozenset("AQgw")
_MIN_SEALED_CHARS = 40  # base64 of a 12-byte nonce and a 16-byte tag, at least


_sha = hashlib.sha256
_b64_bytes = functools.partial(binascii.b2a_base64, newline=False)
_strict_b64 = functools.partial(binascii.a2b_base64, strict_mode=True)


def _b64(digest: bytes) -> str:
    return binascii.b2a_base64(digest, newline=False).decode("ascii")


def _text_or_none(value: object) -> bool:
    return value is None or (type(value) is str and value != "")


def _texts(value: object) -> bool:
    return type(value) is list and all(type(v) is str and v != "" for v in value)


_OPTIONAL_TEXTS = itemgetter("requester_category", "action", "decision", "clause",
                             "request_id", "policy_version", "outcome")
_TEXT_OR_NULL = frozenset({str, type(None)})


def _fast_entry(obj: Any, seq: int, prev: str | None) -> bytes | None:
    """The sealed part's bytes if ``obj`` is a sealed entry of our exact shape, at ``seq``
    after ``prev``.

    (Whether its leaf is its canonical form is checked a page at a time.) None sends
    the entry to audit.events, which says exactly what is wrong, if anything.
    """
    if type(obj) is not dict or obj.keys() != _SEALED_KEYS:
        return None
    v, s, sealed, t, event = obj["v"], obj["seq"], obj["sealed"], obj["time"], obj["event"]
    texts = _OPTIONAL_TEXTS(obj)
    citations, obligations, log_required = (obj["citations"], obj["obligations"],
                                            obj["log_required"])
    # Each optional text null or a non-empty string: the set of their types and one
    # membership test instead of seven checks.
    if not (type(v) is int and v == FORMAT_VERSION and type(s) is int and s == seq
            and obj["prev_hash"] == prev and type(event) is str and event in _EVENTS
            and type(t) is str and _TIME.match(t) is not None
            and _TEXT_OR_NULL.issuperset(map(type, texts)) and "" not in texts
            and (citations == [] or _texts(citations))
            and (obligations == [] or _texts(obligations))
            and (log_required is None or type(log_required) is bool)
            and type(sealed) is str and len(sealed) >= _MIN_SEALED_CHARS):
        return None
    # Canonical base64 only (audit/_codec.py): strict alphabet and padding, zero pad bits.
    try:
        raw = binascii.a2b_base64(sealed, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    if ((sealed[-1] == "=" and sealed[-2] != "=" and sealed[-2] not in _PAD_ONE)
            or (sealed[-2:] == "==" and sealed[-3] not in _PAD_TWO)):
        return None
    return raw


_ROW_SEQ, _ROW_LEAF, _ROW_TIME = itemgetter(0), itemgetter(1), itemgetter(2)
_ROW_COLUMNS = itemgetter(3, 4, 5, 6, 7)
_ROW_IDS = itemgetter(8), itemgetter(9)
_LEAF_COLUMNS = itemgetter("event", "requester_category", "decision", "clause", "request_id")
_FIELDS = itemgetter("v", "seq", "prev_hash", "event", "time", "citations", "obligations",
                     "log_required", "sealed")
_LISTS_OF_TEXTS = frozenset({list})
_TEXT = frozenset({str})
_FLAG_OR_NULL = frozenset({bool, type(None)})
_INT = frozenset({int})


def _fast_page(rows: list[tuple[Any, ...]], objs: list[Any], leaves: list[bytes], start: int,
               prev: str | None, sealed_parts: _SealedParts) -> list[bytes] | None:
    """The leaf hashes of a page of sealed entries of our exact shape, whose leaves are
    their canonical form, at seqs ``start``... after ``prev``, with search columns that
    say what they say; the sealed parts handed to ``sealed_parts``. None if anything is
    off: the page is then read entry by entry, which names what.

    _fast_entry's and _check_columns' checks, each a pass over the page in C (map,
    itemgetter, set and list comparisons) rather than Python code an entry.
    """
    n = len(rows)
    seqs = list(range(start, start + n))
    try:
        if (list(map(_ROW_SEQ, rows)) != seqs
                or not all(map(eq, map(dict.keys, objs), repeat(_SEALED_KEYS)))):
            return None
        v, s, prevs, events, times, citations, obligations, flags, sealed = zip(
            *map(_FIELDS, objs))
        if not (_INT.issuperset(map(type, v)) and v.count(FORMAT_VERSION) == n
                and _INT.issuperset(map(type, s)) and list(s) == seqs
                and _EVENTS.issuperset(events) and all(map(_TIME.match, times))
                and _TEXT_OR_NULL.issuperset(map(type, texts := list(
                    chain.from_iterable(map(_OPTIONAL_TEXTS, objs)))))
                and "" not in texts
                and _LISTS_OF_TEXTS.issuperset(map(type, citations))
                and _LISTS_OF_TEXTS.issuperset(map(type, obligations))
                and _TEXT.issuperset(map(type, items := list(
                    chain.from_iterable(chain(citations, obligations)))))
                and "" not in items
                and _FLAG_OR_NULL.issuperset(map(type, flags))
                and _TEXT.issuperset(map(type, sealed))
                and min(map(len, sealed)) >= _MIN_SEALED_CHARS):
            return None
        # Strictly decoded, each the length its bytes encode to; so the joined canonical
        # encodings equal the joined texts only if each text is its canonical encoding.
        raws = list(map(_strict_b64, sealed))
        if b"".join(map(_b64_bytes, raws)) != "".join(sealed).encode("ascii"):
            return None
        digests = [_sha(b"\x00" + leaf).digest() for leaf in leaves]
        if list(prevs) != [prev, *map(_b64, digests[:-1])]:
            return None
        if list(map(_LEAF_COLUMNS, objs)) != list(map(_ROW_COLUMNS, rows)):
            return None
        stored = list(map(_ROW_TIME, rows))
        if type(stored[0]) is str:
            # SQLite keeps naive UTC as text, always with six fraction digits.
            said = [f"{t[:10]} {t[11:19]}.{t[20:-1].ljust(6, '0') if len(t) > 20 else '000000'}"
                    for t in times]
        else:
            said = list(map(datetime.fromisoformat, times))
        if said != stored:
            return None
    except (TypeError, ValueError, binascii.Error):
        return None  # something not of our shape: the entry-by-entry reading says what
    sealed_parts.extend(zip(seqs, events, raws, map(_ROW_IDS[0], rows), map(_ROW_IDS[1], rows)))
    return digests


class _Tree:
    """Leaf hashes folded into the RFC 9162 tree: whole aligned chunks level by level,
    the rest one at a time. Keeps only the right edge."""

    def __init__(self, size: int = 0, edge: Sequence[tuple[int, bytes]] = ()) -> None:
        self.size = size
        self.edge: list[tuple[int, bytes]] = list(edge)

    def _push(self, level: int, digest: bytes) -> None:
        edge = self.edge
        sha = hashlib.sha256
        while edge and edge[-1][0] == level:
            digest = sha(b"\x01" + edge.pop()[1] + digest).digest()
            level += 1
        edge.append((level, digest))

    def extend(self, hashes: Sequence[bytes]) -> None:
        sha = hashlib.sha256
        i, n = 0, len(hashes)
        while i < n:
            if self.size % CHUNK == 0 and n - i >= CHUNK:
                level = hashes[i:i + CHUNK]
                while len(level) > 1:
                    pairs = iter(level)
                    level = [sha(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs)]
                self._push(CHUNK_LEVEL, level[0])
                self.size += CHUNK
                i += CHUNK
            else:
                self._push(0, hashes[i])
                self.size += 1
                i += 1

    def root(self) -> bytes:
        if not self.edge:
            return EMPTY_ROOT
        acc = self.edge[-1][1]
        for _, digest in reversed(self.edge[:-1]):
            acc = hashlib.sha256(b"\x01" + digest + acc).digest()
        return acc

    def edge_bytes(self) -> bytes:
        return b"".join(digest for _, digest in self.edge)


class _Findings:
    def __init__(self) -> None:
        self.seq: int | None = None
        self.problem: str | None = None
        self.needs_full_read = False  # the offline verifier's reading says it best

    def __bool__(self) -> bool:
        return self.problem is not None

    def note(self, seq: int | None, problem: str, *, full_read: bool = False) -> None:
        if self.problem is None or (seq is not None and self.seq is not None
                                    and seq < self.seq):
            self.seq, self.problem = seq, problem
        self.needs_full_read |= full_read


def verify_database(repo: AccessLogRepository, vkey: VerifierKey | str | None, *,
                    checkpoint_note: str | None = None, from_checkpoint: bool = False,
                    latest_checkpoint_only: bool = False, workers: int = 1,
                    batch: int = 20_000) -> VerificationReport:
    """Verify the stored log (see the module's docstring).

    ``vkey`` authenticates the stored checkpoints (and ``checkpoint_note``, one kept
    outside the database, which is how a truncated log with its checkpoints removed is
    still caught). ``from_checkpoint`` trusts the entries the latest verified
    checkpoint covers as far as the stored tree nodes match it, and reads only the rest;
    with ``latest_checkpoint_only`` only that checkpoint's signature is checked, so the
    cost grows with the entries since it and not with the checkpoints signed (the API's
    integrity status; ``audit verify`` checks them all). With ``workers`` > 1, a read of
    at least PARALLEL_FROM entries is split into that many seq ranges, the first read
    here and each other by a process of its own, which hands back its leaf hashes only
    if every entry in its range checked out; a range it cannot vouch for is read here.
    """
    # The pass allocates millions of short-lived, acyclic objects (parsed entries, row
    # tuples), which reference counting frees; left on, the cycle collector ran every
    # few hundred of them and scanned the page each time: about a third of the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _verify_database(repo, vkey, checkpoint_note=checkpoint_note,
                                from_checkpoint=from_checkpoint,
                                latest_checkpoint_only=latest_checkpoint_only,
                                workers=workers, batch=batch)
    finally:
        if collecting:
            gc.enable()


def _verify_database(repo: AccessLogRepository, vkey: VerifierKey | str | None, *,
                     checkpoint_note: str | None, from_checkpoint: bool,
                     latest_checkpoint_only: bool, workers: int,
                     batch: int) -> VerificationReport:
    session = repo.session
    found = _Findings()
    head = session.execute(sa.select(_head).where(_head.c.id == 1)).mappings().one_or_none()
    checkpoints = _verified_checkpoints(session, vkey, checkpoint_note, found,
                                        latest_only=latest_checkpoint_only)
    start, tree, prev = 0, _Tree(), None
    if from_checkpoint and checkpoints and not found:
        resumed = _resume(repo, checkpoints[-1], found)
        if resumed is not None:
            start, tree, prev = resumed
    want = sorted({cp.size for cp in checkpoints if cp.size > start})
    roots: dict[int, bytes] = {}
    if 0 in want:
        roots[0] = EMPTY_ROOT
    pending: list[bytes] = []

    def flush() -> None:
        nonlocal pending
        done = tree.size
        for target in want:
            if done < target <= done + len(pending):
                tree.extend(pending[:target - done])
                roots[target] = tree.root()
                pending, done = pending[target - done:], target
        tree.extend(pending)
        pending = []

    # Only the entries the head counted when the verification began: on a live log,
    # disclosures commit while it reads (PostgreSQL reads each page as committed then).
    # What lies beyond the head is looked at once, at the end (_check_tail).
    end = head["size"] if head is not None else None
    reader = _Reader(repo, found, start, prev)
    global _FORKED_KEYS
    children: list[tuple[int, int, Future[tuple[str, str, bytes] | None]]] = []
    pool = None
    try:
        if (workers > 1 and end is not None and end - start >= PARALLEL_FROM and not found
                and _fork_is_safe()
                and (url := _shareable_url(session)) is not None):
            # The first range is read here; each of the others by a forked process, which
            # has the key-encryption keys from this one's memory (they are never pickled;
            # the reference is dropped once they are forked, or in the finally below).
            _FORKED_KEYS = repo._keys
            bounds = [start + (end - start) * k // workers for k in range(workers + 1)]
            pool = ProcessPoolExecutor(workers - 1,
                                       mp_context=multiprocessing.get_context("fork"),
                                       initializer=_start_reader, initargs=(os.getpid(),))
            try:
                children = [(a, b, pool.submit(_read_range, url, a, b, batch))
                            for a, b in zip(bounds[1:-1], bounds[2:])]
            except (OSError, BrokenProcessPool):  # no process to fork: read it all here
                children = []
            _FORKED_KEYS = None  # the children were forked with it, at the first submit
        for digests in reader.pages(session, batch, children[0][0] if children else end):
            pending.extend(digests)
            flush()
        for a, b, child in children:
            vouched = _result(child) if reader.size == a and not found else None
            if vouched is None or vouched[0] != reader.prev:
                break  # the rest is read here, which names what is wrong, if anything
            reader.prev, blob = vouched[1:]
            for at in range(0, len(blob), 32 * batch):
                chunk = blob[at:at + 32 * batch]
                pending.extend(chunk[i:i + 32] for i in range(0, len(chunk), 32))
                flush()
            reader.size = b
        for digests in reader.pages(session, batch, end):
            pending.extend(digests)
            flush()
    except BaseException:
        # Ctrl-C, a lost database: the readers stop now rather than finish their ranges.
        if pool is not None:
            _stop_readers(pool)
        raise
    finally:
        _FORKED_KEYS = None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    flush()
    size, prev = reader.size, reader.prev

    root = tree.root()
    _check_head(head, size, root, tree, prev, found)
    if end is not None:
        _check_tail(session, end, found)
    for cp in checkpoints:
        if cp.size > size:
            found.note(size, f"the log is truncated: a checkpoint signed {cp.size} entries, "
                       f"the database holds {size}", full_read=True)
        elif cp.size in roots and roots[cp.size] != cp.root_hash:
            found.note(max(cp.size - 1, 0), f"the first {cp.size} entries do not hash to the "
                       "root signed at that size", full_read=True)
    latest = checkpoints[-1] if checkpoints else None
    if found.needs_full_read:
        return _full_read(repo, latest, found)
    return VerificationReport(ok=found.problem is None, size=size, root=root,
                              first_bad_seq=found.seq, problem=found.problem,
                              checkpoint=latest)


class _Reader:
    """One pass over the stored entries in seq order, from ``start`` (after ``prev``, the
    leaf hash of the entry before it), checking each as the module's docstring says.
    ``pages()`` yields each page's leaf hashes; ``size`` and ``prev`` say how far it got."""

    def __init__(self, repo: AccessLogRepository, found: _Findings, start: int,
                 prev: str | None) -> None:
        self.found, self.size, self.prev = found, start, prev
        self._sealed_parts = _SealedParts(repo, found)

    def pages(self, session: Any, batch: int, stop: int | None) -> Iterator[list[bytes]]:
        """Read on from ``size`` up to (not including) seq ``stop``."""
        found, sealed_parts = self.found, self._sealed_parts
        size, prev = self.size, self.prev
        sha, b2a = hashlib.sha256, binascii.b2a_base64
        for rows in _pages(session, self.size, batch, stop):
            page: list[bytes] = []
            leaves = list(map(_ROW_LEAF, rows))
            try:
                objs: list[Any] = list(map(_loads, leaves))
            except ValueError:
                objs = []
                for leaf in leaves:
                    try:
                        objs.append(_loads(leaf))
                    except ValueError:
                        objs.append(None)
            # Each leaf parsed as its object; if the objects' canonical forms joined are the
            # leaves joined, each leaf is its canonical form (the top-level commas, which no
            # leaf holds, split both alike). One encoder call a page instead of one an entry.
            canonical_page = _dumps(objs) == b"[" + b",".join(leaves) + b"]"
            # Runs of sealed entries go to _fast_page; what is between them (an entry about no
            # student keeps its identifying part in the clear), or a run it refuses, is read
            # entry by entry. Anything found already: all of it entry by entry, as before.
            n = len(rows)
            if canonical_page and not found:
                breaks = [k for k, obj in enumerate(objs)
                          if type(obj) is not dict or "sealed" not in obj]
            else:
                breaks = list(range(n))
            i = 0
            for cut in (*breaks, n):
                if cut > i:
                    digests = _fast_page(rows[i:cut], objs[i:cut], leaves[i:cut], size, prev,
                                         sealed_parts)
                    if digests is not None:
                        page.extend(digests)
                        prev = _b64(digests[-1])
                        size += cut - i
                        i = cut
                end = min(cut + 1, n)
                add_sealed = sealed_parts.add_sealed
                for row, obj in zip(rows[i:end], objs[i:end]):
                    seq, leaf = row[0], row[1]
                    if seq != size:
                        found.note(size, f"entry {size} is missing", full_read=True)
                    raw = _fast_entry(obj, size, prev)
                    if raw is None or not (canonical_page or _dumps(obj) == leaf):
                        obj, raw = _slow_entry(leaf, size, prev, found), None
                    if obj is not None and not found.needs_full_read:
                        _check_columns(row, obj, found)
                        if raw is not None:  # the sealed part, decoded already
                            add_sealed((seq, obj["event"], raw, row[8], row[9]))
                        else:
                            sealed_parts.add(row, obj)
                    digest = sha(b"\x00" + leaf).digest()
                    page.append(digest)
                    prev = b2a(digest, newline=False).decode()  # _b64, without a call an entry
                    size += 1
                i = end
            sealed_parts.check()
            self.size, self.prev = size, prev
            yield page


def _fork_is_safe() -> bool:
    """Only this thread runs: a fork copies no lock another thread holds (as in the CLI)."""
    return threading.active_count() == 1


def _shareable_url(session: Any) -> str | None:
    """The database's URL for another process to read, or None if it cannot (an
    in-memory SQLite database)."""
    url = session.get_bind().engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return url.render_as_string(hide_password=False)


_FORKED_KEYS: KeyEncryptionKeys | None = None  # what _read_range opens content keys with
_PR_SET_PDEATHSIG = 1


def _start_reader(parent: int) -> None:
    """First, in each forked reader. Ctrl-C reaches the whole process group: the parent
    answers it (and stops the readers), so a reader ignores it rather than print a
    traceback of its own. A reader ends with the parent however that ends (a SIGTERM, a
    SIGKILL; on Linux): an orphan would wait for its next range forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent:  # it ended before the line above
        os._exit(1)


def _stop_readers(pool: ProcessPoolExecutor) -> None:
    """End the forked readers at once (shutting the pool down waits for their ranges;
    Python 3.14 has ProcessPoolExecutor.terminate_workers for this)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()


def _read_range(url: str, start: int, stop: int,
                batch: int) -> tuple[str, str, bytes] | None:
    """In a forked process: read entries [start, stop) as _Reader does. If every one
    is what the log committed to, (the leaf hash of entry start - 1 it began from, that
    of entry stop - 1, the leaf hashes joined); None if anything is off (the caller
    reads the range itself, which names it)."""
    from sqlalchemy.pool import NullPool

    from gateway.store.db import make_engine, make_session_factory
    from gateway.store.uow import UnitOfWork

    keys = _FORKED_KEYS
    if keys is None:
        return None
    # A new engine: the connections the parent's pool holds are never used here.
    engine = make_engine(url, poolclass=NullPool)
    try:
        with UnitOfWork(make_session_factory(engine), keys) as uow:
            uow.read_snapshot()
            session = uow.session
            before = session.execute(sa.select(_entries.c.leaf)
                                     .where(_entries.c.seq == start - 1)).scalar()
            if before is None:
                return None
            first = _b64(hashlib.sha256(b"\x00" + bytes(before)).digest())
            found = _Findings()
            reader = _Reader(uow.access_log, found, start, first)
            blob = b"".join(chain.from_iterable(reader.pages(session, batch, stop)))
            if found or reader.size != stop:
                return None
            return first, reader.prev, blob
    finally:
        engine.dispose()


def _result(child: Future[tuple[str, str, bytes] | None]) -> tuple[str, str, bytes] | None:
    try:
        return child.result()
    except Exception:  # noqa: BLE001 - a child that could not read: the range is read here
        return None


def _pages(session: Any, start: int, batch: int,
           stop: int | None = None) -> Iterator[list[tuple[Any, ...]]]:
    """Pages of (seq, leaf, time, event, requester_category, decision, clause, request_id,
    student_id, requester_id) as the driver gives them, seqs from ``start`` and under
    ``stop``: no ORM rows, no type processing (most of the time a row would otherwise
    take). Keyset pages, each a short query in the session's transaction.
    """
    dbapi = session.connection().connection.dbapi_connection
    sqlite = session.get_bind().dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    # PostgreSQL's driver makes a uuid.UUID of each uuid value, in Python; as text they
    # are one string each, parsed once per distinct value (_SealedParts, _uuid).
    ids = "student_id, requester_id" if sqlite else "student_id::text, requester_id::text"
    bound = "" if stop is None else f" AND seq < {int(stop)}"
    sql = ("SELECT seq, leaf, time, event, requester_category, decision, clause, request_id, "
           f"{ids} FROM access_log_entries WHERE seq > {mark}{bound} ORDER BY seq "
           f"LIMIT {mark}")
    after = start - 1
    cursor = dbapi.cursor()
    # psycopg: binary results, so a leaf comes as its bytes, not as hex text to decode.
    options = {} if sqlite else {"binary": True}
    try:
        while True:
            cursor.execute(sql, (after, batch), **options)
            rows = cursor.fetchall()
            if rows:
                if type(rows[0][1]) is not bytes:
                    rows = [(r[0], bytes(r[1]), *r[2:]) for r in rows]
                yield rows
                after = rows[-1][0]
            if len(rows) < batch:
                return
    finally:
        cursor.close()


def _slow_entry(leaf: bytes, position: int, prev: str | None,
                found: _Findings) -> dict[str, Any] | None:
    """audit.events' reading of a leaf off the fast path; None if it is not an entry."""
    try:
        stored = StoredEntry.from_json_line(leaf)
    except EntryError as exc:
        found.note(position, f"entry {position} cannot be read: {exc}", full_read=True)
        return None
    if stored.leaf() != leaf:
        found.note(position, f"entry {position} is not in its canonical (RFC 8785) form",
                   full_read=True)
    obj = stored.to_json()
    if obj["seq"] != position or obj["prev_hash"] != prev:
        found.note(position, f"entry {position} does not follow entry {position - 1}",
                   full_read=True)
    return obj


def _check_columns(row: tuple[Any, ...], obj: dict[str, Any], found: _Findings) -> None:
    leaf_says = (obj["event"], obj["requester_category"], obj["decision"], obj["clause"],
                 obj["request_id"])
    stored_time, t = row[2], obj["time"]
    if type(stored_time) is str:
        # SQLite keeps naive UTC as text, always with six fraction digits.
        same_time = stored_time == (f"{t[:10]} {t[11:19]}."
                                    f"{t[20:-1].ljust(6, '0') if len(t) > 20 else '000000'}")
    else:
        try:
            same_time = datetime.fromisoformat(t) == stored_time
        except ValueError:
            found.note(row[0], f"entry {row[0]} has no real time", full_read=True)
            return
    if leaf_says != row[3:8] or not same_time:
        names = ("event", "requester_category", "decision", "clause", "request_id")
        wrong = [n for n, a, b in zip(names, leaf_says, row[3:8]) if a != b]
        wrong += [] if same_time else ["time"]
        found.note(row[0], f"entry {row[0]}'s search columns ({', '.join(wrong)}) do not "
                   "say what the entry says: they were changed")


def _uuid(value: Any) -> uuid.UUID | None | str:
    """A uuid column as the driver gives it (SQLite: hex text); unreadable: the text."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return str(value)


_UNREADABLE = object()  # a student_id column that names no student


class _SealedParts:
    """Checks ``student_id`` and ``requester_id`` against each entry's identifying part:
    at once where it is in the clear, a page at a time where it is sealed, opened with the
    student's content key (keys destroyed with the records leave those columns unchecked:
    nothing can open them any more).

    Per entry only what must be: one AES-GCM open and one parse. Each student's key is
    unwrapped, and its cipher made, once per verification; what a column value or a
    requester identity stands for is worked out once per distinct value. The payloads
    are read with orjson; a page's payloads are then checked to be their canonical form
    (as the seal wrote them), which refuses what audit._codec's strict reader refuses
    (duplicate keys, floats). A page that fails any of it is read again the exact way.
    """

    def __init__(self, repo: AccessLogRepository, found: _Findings) -> None:
        self._repo, self._found = repo, found
        # student_id column as the driver gives it -> (cipher or None, its uuid as text)
        self._students: dict[Any, Any] = {}
        self._requesters: dict[Any, Any] = {}  # requester_id column -> _uuid of it
        self._identities: dict[str, uuid.UUID | None] = {}  # identity -> requester_id_of
        self._aad: dict[str, bytes] = {}  # event -> sealing_aad up to the seq's digits
        self._page: list[tuple[int, str, bytes, Any, Any]] = []
        # (seq, event, the sealed part's bytes, student_id, requester_id as read)
        self.add_sealed = self._page.append
        self.extend = self._page.extend

    def add(self, row: tuple[Any, ...], obj: dict[str, Any]) -> None:
        if "identifying" in obj:
            part = obj["identifying"]
            self._compare(row[0], _uuid(row[8]), _uuid(row[9]), part["student_ref"],
                          part["requester_identity"])
        else:
            try:
                sealed = b64decode(obj["sealed"], what="sealed")
            except ValueError:
                self._changed(row[0], ["student_id"])  # as open_sealed's caller had it
                return
            self.add_sealed((row[0], obj["event"], sealed, row[8], row[9]))

    def _learn_students(self, wanted: set[Any]) -> None:
        ids = {raw: _uuid(raw) for raw in wanted}
        opened = self._repo._opening_keys({sid for sid in ids.values()
                                           if isinstance(sid, uuid.UUID)})
        for raw, sid in ids.items():
            if not isinstance(sid, uuid.UUID):
                self._students[raw] = _UNREADABLE  # a sealed entry is about a student
                continue
            key = opened.get(sid)
            try:
                cipher = None if key is None else AESGCM(key)
            except (TypeError, ValueError):
                cipher = _UNREADABLE  # not a content key: nothing opens with it
            self._students[raw] = (cipher, str(sid))

    def _aad_prefix(self, event: str) -> bytes:
        # sealing_aad's bytes end in the seq's decimal digits and "}" (RFC 8785 sorts
        # "event" before "seq"); everything before them depends on the event alone.
        whole = sealing_aad(0, event)
        prefix = self._aad[event] = whole[:-2]
        return prefix

    def check(self) -> None:
        page, self._page = self._page, []
        self.add_sealed = self._page.append
        self.extend = self._page.extend
        students, requesters, identities = self._students, self._requesters, self._identities
        wanted = {item[3] for item in page} - students.keys()
        if wanted:
            self._learn_students(wanted)
        if len(identities) > 100_000:  # bounded memory on a log of ever-new requesters
            identities.clear()
        aads, loads = self._aad, _loads
        from gateway.store.access_log import requester_id_of

        plains: list[bytes] = []
        parts: list[Any] = []
        exact: list[tuple[int, str, bytes, Any, Any]] = []  # for the exact reading
        for item in page:
            seq, event, raw, student_raw, requester_raw = item
            student = students[student_raw]
            if student is _UNREADABLE:
                self._changed(seq, ["student_id"])
                continue
            cipher, ref = student
            if cipher is None:
                continue  # the key was destroyed: nothing can open it any more
            aad = aads.get(event) or self._aad_prefix(event)
            try:
                if cipher is _UNREADABLE or len(raw) < NONCE_SIZE + 16:
                    raise InvalidTag
                plain = cipher.decrypt(raw[:NONCE_SIZE], raw[NONCE_SIZE:],
                                       aad + b"%d}" % seq)
                part = loads(plain)
            except (InvalidTag, ValueError):
                exact.append(item)  # open_sealed says what is wrong
                continue
            if type(part) is not dict:
                exact.append(item)
                continue
            plains.append(plain)
            parts.append(part)
            identity = part.get("requester_identity")
            requester = requesters.get(requester_raw, _UNREADABLE)
            if requester is _UNREADABLE:
                requester = requesters[requester_raw] = _uuid(requester_raw)
            if type(identity) is str:
                said = identities.get(identity, _UNREADABLE)
                if said is _UNREADABLE:
                    said = identities[identity] = requester_id_of(identity)
            else:
                said = None
            if part.get("student_ref") != ref or requester != said:
                exact.append(item)
        if parts and _dumps(parts) != b"[" + b",".join(plains) + b"]":
            exact = page  # some payload is not as sealed: read them all the exact way
        for seq, event, raw, student_raw, requester_raw in exact:
            self._check_exactly(seq, event, raw, student_raw, requester_raw)

    def _check_exactly(self, seq: int, event: str, sealed: bytes, student_raw: Any,
                       requester_raw: Any) -> None:
        student_id = _uuid(student_raw)
        if not isinstance(student_id, uuid.UUID):
            self._changed(seq, ["student_id"])
            return
        key = self._repo._opening_keys({student_id}).get(student_id)
        if key is None:
            return
        try:
            part = open_sealed(key, sealed, sealing_aad(seq, event))
        except (SealError, ValueError):
            # The student's live key does not open it: the column names another student.
            self._changed(seq, ["student_id"])
            return
        self._compare(seq, student_id, _uuid(requester_raw), part.get("student_ref"),
                      part.get("requester_identity"))

    def _compare(self, seq: int, student_id: Any, requester_id: Any, student_ref: Any,
                 identity: Any) -> None:
        from gateway.store.access_log import requester_id_of

        wrong = []
        if (str(student_id) if student_id is not None else None) != student_ref:
            wrong.append("student_id")
        if requester_id != requester_id_of(identity if isinstance(identity, str) else None):
            wrong.append("requester_id")
        if wrong:
            self._changed(seq, wrong)

    def _changed(self, seq: int, columns: list[str]) -> None:
        self._found.note(seq, f"entry {seq}'s search columns ({', '.join(columns)}) do not "
                         "say what the entry says: they were changed")


def _check_head(head: Any, size: int, root: bytes, tree: _Tree, prev: str | None,
                found: _Findings) -> None:
    if head is None:
        found.note(None, "the tree head is missing")
        return
    if head["size"] > size:
        found.note(size, f"the log is truncated: the tree head counts {head['size']} entries, "
                   f"the database holds {size}", full_read=True)
    elif head["root"] != root or head["edge"] != tree.edge_bytes() or (
            (_b64(head["last_leaf_hash"]) if head["last_leaf_hash"] else None) != prev):
        found.note(max(size - 1, 0), "the entries do not hash to the tree head's root",
                   full_read=True)


def _check_tail(session: Any, stop: int, found: _Findings) -> None:
    """Entries past the head: the head and the last seq as they are now, in one
    statement (one snapshot). Those the head has come to count since ``stop`` were
    appended during the verification; any past it were added behind the log's back."""
    size_now, last = session.execute(sa.select(
        sa.select(_head.c.size).where(_head.c.id == 1).scalar_subquery(),
        sa.select(sa.func.max(_entries.c.seq)).scalar_subquery())).one()
    counted = stop if size_now is None else max(size_now, stop)
    if last is not None and last >= counted:
        found.note(counted, f"entries {counted}..{last} are not in the tree head: they were "
                   "added behind the log's back", full_read=True)


def _verified_checkpoints(session: Any, vkey: VerifierKey | str | None,
                          note: str | None, found: _Findings, *,
                          latest_only: bool = False) -> list[Checkpoint]:
    """Stored checkpoints (and ``note``) whose signatures verify, smallest first."""
    if vkey is None:
        return []
    verified: dict[int, Checkpoint] = {}
    stmt = sa.select(_checkpoints.c.size, _checkpoints.c.root, _checkpoints.c.note)
    if latest_only:
        stmt = stmt.order_by(_checkpoints.c.size.desc()).limit(1)
    rows = session.execute(stmt.order_by(_checkpoints.c.size))
    for size, root, text in rows:
        try:
            cp = parse_and_verify(text, vkey)
        except CheckpointError as exc:
            found.note(None, f"the checkpoint stored for size {size} does not verify: {exc}")
            continue
        if cp.size != size or cp.root_hash != bytes(root):
            found.note(None, f"the checkpoint stored for size {size} is not what its note says")
            continue
        verified[cp.size] = cp
    if note is not None:
        try:
            cp = parse_and_verify(note, vkey)
        except CheckpointError as exc:
            found.note(None, f"the given checkpoint does not verify: {exc}")
        else:
            if cp.size in verified and verified[cp.size].root_hash != cp.root_hash:
                found.note(None, f"two signed checkpoints at size {cp.size} disagree: "
                           "the log was forked")
            verified.setdefault(cp.size, cp)
    return [verified[size] for size in sorted(verified)]


def _resume(repo: AccessLogRepository, cp: Checkpoint, found: _Findings
            ) -> tuple[int, _Tree, str | None] | None:
    """The tree at a verified checkpoint, from the stored nodes, if they match it."""
    if cp.size == 0:
        return 0, _Tree(), None
    from gateway.store.access_log import DatabaseTreeStore

    store = DatabaseTreeStore(repo.session)
    ids = _range_nodes(0, cp.size)
    try:
        edge = list(zip((node.level for node in ids), store.get(ids)))
        last = store.get([NodeId(0, cp.size - 1)])[0]
        proof = repo.tree().inclusion_proof(cp.size - 1, cp.size)
        tree = _Tree(cp.size, edge)
        if tree.root() != cp.root_hash:
            raise ProofError("the stored nodes do not fold to the signed root")
        verify_inclusion(cp.size - 1, cp.size, last, proof, cp.root_hash)
    except (KeyError, ProofError) as exc:
        found.note(None, f"the stored tree does not match the checkpoint at size {cp.size} "
                   f"({exc}): verify the whole log", full_read=False)
        return None
    return cp.size, tree, _b64(last)


def _full_read(repo: AccessLogRepository, checkpoint: Checkpoint | None,
               found: _Findings) -> VerificationReport:
    """The offline verifier's report over every stored leaf, in stored seq order."""
    lines = (leaf for _seq, leaf in repo._leaves(0, None, 5000))
    report = verify_log(lines, checkpoint)
    if report.ok or (found.seq is not None and report.first_bad_seq is not None
                     and found.seq < report.first_bad_seq):
        return VerificationReport(ok=False, size=report.size, root=report.root,
                                  first_bad_seq=found.seq, problem=found.problem,
                                  checkpoint=checkpoint)
    return report

