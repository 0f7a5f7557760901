"""Experiment (PostgreSQL): would a sequencer lift four writers' appends to 0.7 of plain inserts?

    .venv/bin/python bench/sequencer_prototype.py [--appends 400] [--rounds 3]

Not the product: a measurement taken before building one (docs/audit-log.md describes
the design, docs/benchmarks.md the results). Today an append holds the tree head's lock
from reading the head to the end of its commit, so appends take turns through each
other's WAL flushes. Two ways out are measured here, each against plain inserts of the
same rows in the same run, rounds alternating, medians (as bench/audit_log.py does):

- ``opportunistic``: an append tries the head's lock without waiting; if it gets it, it
  appends as today (after draining any queued entries); if not, it queues the entry
  (its identifying part sealed under the student's content key, the queue row's random
  id as associated data) and, after its commit, waits for the lock and drains the queue;
- ``sequencer``: every append only queues its entry; one sequencer process drains the
  queue in batches (re-sealing each part with its seq, building leaves and nodes, moving
  the head). The rate counts an entry once it is in the tree: from the writers' start to
  the sequencer's last batch.

The queue table is made here, in a throwaway database; the log is verified at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

import sqlalchemy as sa  # noqa: E402

from audit.events import Entry, EventType, utc_time  # noqa: E402
from audit.merkle import leaf_hash  # noqa: E402
from audit.sealing import new_content_key, open_sealed, seal, store_entry  # noqa: E402
from bench.audit_log import (  # noqa: E402
    STUDENTS,
    T0,
    entry_args,
    kek_text,
    plain_row,
    plain_table,
    postgres_database,
)
from gateway.store import migrate  # noqa: E402
from gateway.store.access_log import (  # noqa: E402
    HEAD_ID,
    _Edge,
    _entries,
    _head,
    _keys,
    _nodes,
    requester_id_of,
)
from gateway.store.crypto import KeyEncryptionKeys  # noqa: E402
from gateway.store.db import make_engine, make_session_factory  # noqa: E402
from gateway.store.uow import UnitOfWork  # noqa: E402

QUEUE = """CREATE TABLE access_log_queue (
    n bigserial PRIMARY KEY, id uuid NOT NULL UNIQUE, student_id uuid NOT NULL,
    clear bytea NOT NULL, sealed bytea NOT NULL)"""
TRY_LOCK = sa.text("SELECT size, last_leaf_hash, edge, "
                   "EXISTS (SELECT 1 FROM access_log_queue) AS queued "
                   "FROM access_log_head WHERE id = 1 FOR UPDATE SKIP LOCKED")
LOCK = sa.text("SELECT size, last_leaf_hash, edge FROM access_log_head WHERE id = 1 FOR UPDATE")
KEY = sa.text("SELECT wrapped_key, kek_id FROM access_log_content_keys WHERE student_id = :s")
KEYS = sa.text("SELECT student_id, wrapped_key, kek_id FROM access_log_content_keys "
               "WHERE student_id = ANY(:ids)")
ENQUEUE = sa.text("INSERT INTO access_log_queue (id, student_id, clear, sealed) "
                  "VALUES (:id, :s, :c, :x)")
TAKE = sa.text("SELECT n, id, student_id, clear, sealed FROM access_log_queue ORDER BY n")
DELETE = sa.text("DELETE FROM access_log_queue WHERE n = ANY(:ns)")
AAD = b"records-gateway access log, queued part, v1\n"


def enqueue(conn: Any, keys: KeyEncryptionKeys, args: dict[str, Any]) -> None:
    entry = Entry(seq=0, time=utc_time(args["at"]), event=EventType.DISCLOSURE,
                  requester=args["requester"], student_ref=str(args["student_id"]),
                  records=tuple(args["records"]), action=args["action"],
                  purpose=args["purpose"], stated_interest=args["stated_interest"],
                  request_id=args["request_id"], policy_version=args["policy_version"],
                  outcome=args["outcome"])
    row = conn.execute(KEY, {"s": args["student_id"]}).one()
    key = keys.unwrap(row.kek_id, row.wrapped_key)
    queue_id = uuid.uuid4()
    clear = entry.clear_part()
    del clear["seq"]
    conn.execute(ENQUEUE, {"id": queue_id, "s": args["student_id"],
                           "c": json.dumps(clear).encode(),
                           "x": seal(key, entry.identifying_part(), AAD + queue_id.bytes)})


def drain(conn: Any, keys: KeyEncryptionKeys, head: Any) -> int:
    """Sequence every queued entry after the head (whose lock the caller holds)."""
    rows = conn.execute(TAKE).all()
    if not rows:
        return 0
    content = {r.student_id: keys.unwrap(r.kek_id, r.wrapped_key)
               for r in conn.execute(KEYS, {"ids": list({r.student_id for r in rows})})}
    seq, prev, edge = head.size, head.last_leaf_hash, _Edge.of_head(head.size, head.edge)
    entries, nodes = [], []
    for row in rows:
        key = content[row.student_id]
        clear = json.loads(row.clear)
        identifying = open_sealed(key, row.sealed, AAD + row.id.bytes)
        stored = store_entry(Entry.from_parts({**clear, "seq": seq}, identifying), key, prev)
        leaf = stored.leaf()
        digest = leaf_hash(leaf)
        completed = [(0, seq, digest)]
        edge.push(0, digest, completed, seq)
        nodes += [{"level": level, "index": i, "hash": h} for level, i, h in completed]
        entries.append(dict(
            seq=seq, leaf=leaf, time=datetime.fromisoformat(clear["time"]),
            event=EventType.DISCLOSURE, requester_category=clear["requester_category"],
            decision=None, clause=None, student_id=row.student_id,
            request_id=clear["request_id"],
            requester_id=requester_id_of(identifying["requester_identity"])))
        prev, seq = digest, seq + 1
    conn.execute(_entries.insert(), entries)
    conn.execute(_nodes.insert(), nodes)
    conn.execute(_head.update().where(_head.c.id == HEAD_ID).values(
        size=seq, root=edge.root(), last_leaf_hash=prev, edge=edge.encode()))
    conn.execute(DELETE, {"ns": [r.n for r in rows]})
    return len(rows)


def opportunistic_append(sessions: Any, keys: KeyEncryptionKeys, args: dict[str, Any],
                         counts: dict[str, int]) -> None:
    with UnitOfWork(sessions, keys) as uow:
        conn = uow.session.connection()
        head = conn.execute(TRY_LOCK).first()
        if head is not None:
            if head.queued:
                drain(conn, keys, head)
            uow.access_log.append(EventType.DISCLOSURE, **args)  # the head it holds
            uow.commit()
            counts["direct"] += 1
            return
        enqueue(conn, keys, args)
        uow.commit()
        counts["queued"] += 1
    with UnitOfWork(sessions, keys) as uow:
        conn = uow.session.connection()
        drain(conn, keys, conn.execute(LOCK).one())
        uow.commit()


def writer(url: str, mode: str, kek: str, count: int, students: list[uuid.UUID]
           ) -> dict[str, Any]:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    keys = KeyEncryptionKeys.parse(kek)
    table = plain_table(engine, create=False)
    counts = {"direct": 0, "queued": 0}
    base = int.from_bytes(os.urandom(4), "big") << 16  # plain seqs no other writer uses
    started = time.perf_counter()
    for n in range(count):
        args = entry_args(n, students)
        if mode == "opportunistic":
            opportunistic_append(sessions, keys, args, counts)
        elif mode == "sequencer":
            with UnitOfWork(sessions, keys) as uow:
                enqueue(uow.session.connection(), keys, args)
                uow.commit()
        else:
            with engine.begin() as conn:
                conn.execute(table.insert().values(**plain_row(n, students, base + n)))
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "started": time.time() - seconds, **counts}


def sequencer(url: str, kek: str, stop: str) -> dict[str, Any]:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    keys = KeyEncryptionKeys.parse(kek)
    batches, entries, last = 0, 0, None
    while True:
        with UnitOfWork(sessions, keys) as uow:
            conn = uow.session.connection()
            done = drain(conn, keys, conn.execute(LOCK).one())
            uow.commit()
        if done:
            batches, entries, last = batches + 1, entries + done, time.time()
        elif os.path.exists(stop):
            break
        else:
            time.sleep(0.002)
    engine.dispose()
    return {"batches": batches, "entries": entries, "last": last}


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                            text=True)


def measure(url: str, kek: str, students: str, mode: str, writers: int, per_writer: int,
            rounds: int, workdir: Path) -> dict[str, Any]:
    rates: dict[str, list[float]] = {mode: [], "plain": []}
    seen: dict[str, Any] = {}
    stop = workdir / "stop"
    for _ in range(rounds):
        for which in (mode, "plain"):
            stop.unlink(missing_ok=True)
            seq = spawn("sequencer", url, kek, str(stop)) if which == "sequencer" else None
            procs = [spawn("writer", url, which, kek, str(per_writer), students)
                     for _ in range(writers)]
            try:
                results = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
                seconds = max(r["seconds"] for r in results)
                if seq is not None:
                    stop.touch()
                    seen = json.loads(seq.communicate(timeout=600)[0])
                    # an entry counts once it is in the tree
                    seconds = max(seconds, seen["last"] - min(r["started"] for r in results))
                elif which != "plain":
                    seen = {k: sum(r[k] for r in results) for k in ("direct", "queued")}
            finally:
                for p in (*procs, *([seq] if seq else [])):
                    p.kill()
            rates[which].append(writers * per_writer / seconds)
    appended, plain = statistics.median(rates[mode]), statistics.median(rates["plain"])
    return {"mode": mode, "writers": writers, "append_per_s": appended, "plain_per_s": plain,
            "ratio": appended / plain, "last_round": seen}


def main() -> None:
    if sys.argv[1:2] == ["writer"]:
        url, mode, kek, count, students = sys.argv[2:]
        print(json.dumps(writer(url, mode, kek, int(count),
                                [uuid.UUID(s) for s in students.split(",")])))
        return
    if sys.argv[1:2] == ["sequencer"]:
        print(json.dumps(sequencer(*sys.argv[2:5])))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--appends", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    url, drop = postgres_database()
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        plain_table(engine)
        kek = kek_text()
        keys = KeyEncryptionKeys.parse(kek)
        students = [uuid.uuid4() for _ in range(STUDENTS)]
        with engine.begin() as conn:  # every student's content key made before
            conn.exec_driver_sql(QUEUE)
            for student in students:
                kek_id, wrapped = keys.wrap(new_content_key())
                conn.execute(_keys.insert().values(student_id=student, wrapped_key=wrapped,
                                                   kek_id=kek_id, created_at=T0))
        engine.dispose()
        ids = ",".join(map(str, students))
        with tempfile.TemporaryDirectory(prefix="sequencer-prototype-") as workdir:
            for mode in ("opportunistic", "sequencer"):
                for writers in (1, 4):
                    r = measure(url, kek, ids, mode, writers, args.appends // writers,
                                args.rounds, Path(workdir))
                    print(f"| {r['mode']} | {r['writers']} | {r['append_per_s']:.0f} | "
                          f"{r['plain_per_s']:.0f} | {r['ratio']:.2f} | {r['last_round']} |",
                          flush=True)
        engine = make_engine(url)
        with UnitOfWork(make_session_factory(engine), keys) as uow:
            queued = uow.session.connection().exec_driver_sql(
                "SELECT count(*) FROM access_log_queue").scalar_one()
            report = uow.access_log.verify(None)
        engine.dispose()
        print(f"left queued: {queued}; verify: {report.summary()}")
    finally:
        drop()


if __name__ == "__main__":
    main()
