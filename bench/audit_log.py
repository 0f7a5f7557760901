"""Benchmark: the database-backed access log.

    .venv/bin/python bench/audit_log.py [--backend postgresql|sqlite|both]
        [--appends 400] [--verify-entries 200000] [--workers N] [--checkpoint-every 0.5]
        [--markdown]

For each backend, in one run and one database:

- appends per second, one writer and four (processes), each entry its own transaction,
  against plain INSERTs of the same rows (same columns and indexes, no triggers) into a
  copy of the entries table, with the same durability (each its own commit, the
  server's default synchronous_commit / SQLite WAL); rounds alternate the two, medians;
- one writer statement by statement: the median time of each statement an append and a
  plain insert send, of their commits and of the whole transaction;
- verification from the database (``AccessLogRepository.verify``) of a log of
  --verify-entries entries (bulk-loaded: built in memory with the same code, then
  inserted), in entries per second, on one process and (alternating with it) on
  --workers processes (default: the CPUs), as `audit verify --workers N` reads; also
  from the latest checkpoint;
- inclusion and consistency proof sizes;
- time from an append's commit to a signed checkpoint covering it, with the
  checkpointer's loop (`records-gateway audit checkpoint --every S`, S from
  --checkpoint-every, default 0.5 as deploy/audit runs it) running beside it.

PostgreSQL is the server named by GATEWAY_TEST_POSTGRES_URL (default 127.0.0.1:5432);
a throwaway database is created and dropped.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

import sqlalchemy as sa  # noqa: E402

from audit.checkpoint import generate_key  # noqa: E402
from audit.events import Entry, EventType, RecordRef, Requester, utc_time  # noqa: E402
from audit.merkle import MerkleTree  # noqa: E402
from audit.sealing import new_content_key, store_entry  # noqa: E402
from gateway.cli_audit import checkpoint_loop  # noqa: E402
from gateway.store import migrate  # noqa: E402
from gateway.store.access_log import LogSigner, _Edge, requester_id_of  # noqa: E402
from gateway.store.crypto import KeyEncryptionKeys  # noqa: E402
from gateway.store.db import make_engine, make_session_factory  # noqa: E402
from gateway.store.models import AccessLogEntry  # noqa: E402
from gateway.store.uow import UnitOfWork  # noqa: E402

T0 = datetime(2026, 3, 2, 17, 0, tzinfo=timezone.utc)
STUDENTS = 200
WRITER_PROGRAM = """
import sys, time, uuid, json
sys.path.insert(0, sys.argv[5])
from bench.audit_log import worker
print(json.dumps(worker(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))))
"""


def entry_args(n: int, students: list[uuid.UUID]) -> dict[str, object]:
    return dict(at=T0 + timedelta(seconds=n), student_id=students[n % len(students)],
                requester=Requester(f"Ms. Reyes {n % 17} [{uuid.UUID(int=n % 17)}]",
                                    "school_official"),
                records=[RecordRef(str(uuid.uuid4()), "courses_and_marks")],
                action="access", purpose="educational_interest",
                stated_interest="plans the student's reading group",
                request_id=uuid.uuid4().hex, policy_version="ar5125-2013",
                outcome="disclosed")


def kek_text() -> str:
    return f"bench:{base64.b64encode(os.urandom(32)).decode()}"


def plain_table(engine: sa.Engine, create: bool = True) -> sa.Table:
    """A copy of access_log_entries: same columns and indexes, no triggers."""
    metadata = sa.MetaData()
    source = AccessLogEntry.__table__
    table = sa.Table("bench_plain_entries", metadata,
                     *[sa.Column(c.name, c.type, primary_key=c.primary_key,
                                 autoincrement=False, nullable=c.nullable)
                       for c in source.columns])
    for index in source.indexes:
        sa.Index(f"bench_{index.name}", *[table.c[c.name] for c in index.columns])
    if create:
        metadata.drop_all(engine)
        metadata.create_all(engine)
    return table


def worker(url: str, mode: str, kek: str, count: int) -> dict[str, float]:
    """Append (or plain-insert) ``count`` entries, one transaction each."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    keys = KeyEncryptionKeys.parse(kek)
    students = [uuid.uuid4() for _ in range(STUDENTS)]
    table = plain_table(engine, create=False)
    base = int.from_bytes(os.urandom(4), "big") << 16  # plain seqs no other worker uses
    started = time.perf_counter()
    for n in range(count):
        if mode == "append":
            with UnitOfWork(sessions, keys) as uow:
                uow.access_log.append(EventType.DISCLOSURE, **entry_args(n, students))
                uow.commit()
        else:
            row = plain_row(n, students, base + n)
            with engine.begin() as conn:
                conn.execute(table.insert().values(**row))
    elapsed = time.perf_counter() - started
    engine.dispose()
    return {"count": count, "seconds": elapsed, "ended": time.time()}


_KEY = new_content_key()


def plain_row(n: int, students: list[uuid.UUID], seq: int) -> dict[str, object]:
    """The row an append of entry n writes, built the same way (sealed, canonical)."""
    args = entry_args(n, students)
    entry = Entry(seq=seq, time=utc_time(args["at"]), event=EventType.DISCLOSURE,
                  requester=args["requester"], student_ref=str(args["student_id"]),
                  records=args["records"], action="access", purpose="educational_interest",
                  stated_interest="plans the student's reading group",
                  request_id=args["request_id"], policy_version="ar5125-2013",
                  outcome="disclosed")
    stored = store_entry(entry, _KEY, None if seq == 0 else b"\0" * 32)
    return dict(seq=seq, leaf=stored.leaf(), time=args["at"], event=EventType.DISCLOSURE,
                requester_category="school_official", decision=None, clause=None,
                student_id=args["student_id"], request_id=args["request_id"])


def bench_writers(url: str, writers: int, per_writer: int, rounds: int) -> dict[str, object]:
    kek = kek_text()
    rates: dict[str, list[float]] = {"append": [], "plain": []}
    for _ in range(rounds):
        for mode in ("append", "plain"):
            procs = [subprocess.Popen([sys.executable, "-c", WRITER_PROGRAM, url, mode, kek,
                                       str(per_writer), str(REPOSITORY)],
                                      stdout=subprocess.PIPE, text=True)
                     for _ in range(writers)]
            try:
                results = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
            finally:
                for p in procs:
                    p.kill()
            # Each process times its own loop (start-up excluded); they ran together.
            slowest = max(r["seconds"] for r in results)
            rates[mode].append(writers * per_writer / slowest)
    append, plain = statistics.median(rates["append"]), statistics.median(rates["plain"])
    return {"writers": writers, "append_per_s": append, "plain_per_s": plain,
            "ratio": append / plain, "rounds": rounds}


def bench_round_trips(url: str, count: int) -> dict[str, dict[str, float]]:
    """Where one writer's time goes, append against plain insert alternating, in one
    process: each statement's median (the driver's execute, the first one with the BEGIN
    the driver sends before it), the commit, and the whole transaction."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    keys = KeyEncryptionKeys.parse(kek_text())
    students = [uuid.uuid4() for _ in range(STUDENTS)]
    table = plain_table(engine, create=False)
    times: dict[str, list[float]] = {}
    started: list[float] = []

    def timed(name: str, seconds: float) -> None:
        times.setdefault(name, []).append(seconds)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before(*_args: object) -> None:
        started.append(time.perf_counter())

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        kind = ("head read, FOR UPDATE" if "FOR UPDATE" in statement
                else "append statement (entry, nodes, head)" if statement.startswith("WITH")
                else " ".join(statement.split()[:3]))
        timed(kind, time.perf_counter() - started.pop())

    base = int.from_bytes(os.urandom(4), "big") << 16
    for n in range(count):
        begun = time.perf_counter()
        with UnitOfWork(sessions, keys) as uow:
            uow.access_log.append(EventType.DISCLOSURE, **entry_args(n, students))
            committing = time.perf_counter()
            uow.commit()
            timed("append commit", time.perf_counter() - committing)
        timed("append, whole", time.perf_counter() - begun)
        begun = time.perf_counter()
        row = plain_row(n, students, base + n)
        with engine.connect() as conn:
            conn.execute(table.insert().values(**row))
            committing = time.perf_counter()
            conn.commit()
            timed("plain commit", time.perf_counter() - committing)
        timed("plain, whole", time.perf_counter() - begun)
    engine.dispose()
    return {name: {"median_ms": statistics.median(t) * 1000, "count": len(t)}
            for name, t in times.items()}


def bulk_load(url: str, count: int, kek: str) -> tuple[float, LogSigner]:
    """A log of ``count`` entries, built in memory as append builds it, then inserted."""
    keys = KeyEncryptionKeys.parse(kek)
    students = [uuid.uuid4() for _ in range(STUDENTS)]
    content = {s: new_content_key() for s in students}
    tree = MerkleTree()
    entries, prev = [], None
    started = time.perf_counter()
    for n in range(count):
        args = entry_args(n, students)
        entry = Entry(seq=n, time=utc_time(args["at"]), event=EventType.DISCLOSURE,
                      requester=args["requester"], student_ref=str(args["student_id"]),
                      records=args["records"], action="access",
                      purpose="educational_interest",
                      stated_interest="plans the student's reading group",
                      request_id=args["request_id"], policy_version="ar5125-2013",
                      outcome="disclosed")
        stored = store_entry(entry, content[args["student_id"]], prev)
        leaf = stored.leaf()
        tree.append(leaf)
        prev = tree.leaf_hash(n)
        entries.append(dict(seq=n, leaf=leaf, time=args["at"], event=EventType.DISCLOSURE,
                            requester_category="school_official", decision=None,
                            clause=None, student_id=args["student_id"],
                            request_id=args["request_id"],
                            requester_id=requester_id_of(args["requester"].identity)))
    built = time.perf_counter() - started
    store = tree.store
    nodes = [{"level": level, "index": i, "hash": bytes(store._levels[level][i * 32:(i + 1) * 32])}
             for level in range(len(store._levels))
             for i in range(len(store._levels[level]) // 32)]
    edge = _Edge([])
    for n in range(count):
        edge.push(0, tree.leaf_hash(n))
    engine = make_engine(url)
    from gateway.store.models import AccessLogHead, AccessLogNode, StudentContentKey

    with engine.begin() as conn:
        for start in range(0, len(entries), 10_000):
            conn.execute(AccessLogEntry.__table__.insert(), entries[start:start + 10_000])
        for start in range(0, len(nodes), 20_000):
            conn.execute(AccessLogNode.__table__.insert(), nodes[start:start + 20_000])
        for student, key in content.items():
            kek_id, wrapped = keys.wrap(key)
            conn.execute(StudentContentKey.__table__.insert().values(
                student_id=student, wrapped_key=wrapped, kek_id=kek_id, created_at=T0))
        conn.execute(AccessLogHead.__table__.update().values(
            size=count, root=tree.root(), last_leaf_hash=tree.leaf_hash(count - 1),
            edge=edge.encode()))
    engine.dispose()
    return built, LogSigner("bench/access-log", "bench-access-log", generate_key())


def baseline_verifier(ref: str) -> object:
    """gateway/store/log_verify.py as it was at git ``ref``, to time against."""
    import importlib.util

    source = subprocess.run(["git", "-C", str(REPOSITORY), "show",
                             f"{ref}:gateway/store/log_verify.py"],
                            check=True, capture_output=True).stdout
    path = Path(tempfile.mkdtemp()) / "log_verify_baseline.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("log_verify_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_verify(url: str, count: int, repeats: int = 3, baseline: str | None = None,
                 workers: int = 1) -> dict[str, object]:
    old = baseline_verifier(baseline) if baseline else None
    kek = kek_text()
    built, signer = bulk_load(url, count, kek)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    keys = KeyEncryptionKeys.parse(kek)
    with UnitOfWork(sessions, keys) as uow:
        uow.access_log.checkpoint(signer, T0)
        uow.commit()
    times, incremental, old_times = [], [], []
    shared_times: list[float] = []
    for _ in range(repeats):  # alternating with the baseline, if any: same conditions
        with UnitOfWork(sessions, keys) as uow:
            uow.read_snapshot()  # as `audit verify` reads
            started = time.perf_counter()
            report = uow.access_log.verify(signer.verifier_key)
            times.append(time.perf_counter() - started)
            assert report.ok and report.size == count, report.summary()
        if workers > 1:  # `audit verify --workers N`, in the same conditions
            with UnitOfWork(sessions, keys) as uow:
                uow.read_snapshot()
                started = time.perf_counter()
                report = uow.access_log.verify(signer.verifier_key, workers=workers)
                shared_times.append(time.perf_counter() - started)
                assert report.ok and report.size == count, report.summary()
        if old is not None:
            with UnitOfWork(sessions, keys) as uow:
                started = time.perf_counter()
                report = old.verify_database(uow.access_log, signer.verifier_key)
                old_times.append(time.perf_counter() - started)
                assert report.ok and report.size == count, report.summary()
    with UnitOfWork(sessions, keys) as uow:  # ten more entries after the checkpoint
        students = [uuid.uuid4()]
        for n in range(10):
            uow.access_log.append(EventType.DISCLOSURE, **entry_args(n, students))
        uow.commit()
    for _ in range(repeats):
        with UnitOfWork(sessions, keys) as uow:
            started = time.perf_counter()
            report = uow.access_log.verify(signer.verifier_key, from_checkpoint=True)
            incremental.append(time.perf_counter() - started)
            assert report.ok and report.size == count + 10, report.summary()
    with UnitOfWork(sessions, keys) as uow:
        size = uow.access_log.head().size
        proofs = {seq: len(uow.access_log.inclusion_proof(seq)) * 32
                  for seq in (0, size // 2, size - 1)}
        consistency = len(uow.access_log.consistency_proof(count, size)) * 32
        lines = list(uow.access_log.export_lines(0, min(count, 20_000)))
    engine.dispose()
    from audit.verify import verify_log

    started = time.perf_counter()
    verify_log(lines)
    offline = len(lines) / (time.perf_counter() - started)
    seconds = statistics.median(times)
    old_seconds = statistics.median(old_times) if old_times else None
    shared = statistics.median(shared_times) if shared_times else None
    return {"entries": count, "seconds": seconds, "per_s": count / seconds,
            "workers": workers, "shared_seconds": shared,
            "shared_per_s": count / shared if shared else None,
            "baseline": baseline, "baseline_seconds": old_seconds,
            "from_checkpoint_s": statistics.median(incremental), "build_s": built,
            "inclusion_bytes": proofs, "tree_size": size,
            "consistency_bytes": consistency, "offline_verifier_per_s": offline}


def bench_checkpoint_latency(url: str, samples: int = 20, every: float = 1.0
                             ) -> dict[str, float]:
    kek = kek_text()
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    keys = KeyEncryptionKeys.parse(kek)
    signer = LogSigner("bench/access-log", "bench-access-log", generate_key())
    stop = threading.Event()
    checkpointer = threading.Thread(
        target=checkpoint_loop, args=(lambda: UnitOfWork(sessions, keys), signer, every, stop))
    checkpointer.start()
    lags: list[float] = []
    students = [uuid.uuid4() for _ in range(5)]
    try:
        for n in range(samples):
            with UnitOfWork(sessions, keys) as uow:
                seq = uow.access_log.append(EventType.DISCLOSURE, **entry_args(n, students)).seq
                uow.commit()
            committed = time.perf_counter()
            deadline = committed + 10
            while time.perf_counter() < deadline:
                with UnitOfWork(sessions, keys) as uow:
                    latest = uow.access_log.latest_checkpoint()
                if latest is not None and latest.size > seq:
                    break
                time.sleep(0.005)
            lags.append(time.perf_counter() - committed)
            time.sleep(every * (n % 3) / 3)  # appends land at different points of the cycle
    finally:
        stop.set()
        checkpointer.join(timeout=30)
        engine.dispose()
    return {"median_s": statistics.median(lags), "max_s": max(lags), "every_s": every,
            "samples": samples}


def postgres_database() -> tuple[str, callable]:
    server = sa.engine.make_url(os.environ.get("GATEWAY_TEST_POSTGRES_URL")
                                or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    name = f"bench_audit_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False), drop


def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    if backend == "sqlite":
        url, drop = f"sqlite:///{workdir / 'bench.sqlite'}", (lambda: None)
        verify_url = f"sqlite:///{workdir / 'verify.sqlite'}"
        cp_url = f"sqlite:///{workdir / 'cp.sqlite'}"
        drops = [drop]
    else:
        url, drop = postgres_database()
        verify_url, drop_v = postgres_database()
        cp_url, drop_c = postgres_database()
        drops = [drop, drop_v, drop_c]
    try:
        for u in (url, verify_url, cp_url):
            migrate.upgrade(u)
        if args.verify_only:
            return {"backend": backend, "verify": bench_verify(
                verify_url, args.verify_entries, baseline=args.baseline,
                workers=args.workers)}
        engine = make_engine(url)
        plain_table(engine)
        engine.dispose()
        result: dict[str, object] = {"backend": backend}
        result["one_writer"] = bench_writers(url, 1, args.appends, args.rounds)
        result["four_writers"] = bench_writers(url, 4, args.appends // 4, args.rounds)
        result["round_trips"] = bench_round_trips(url, args.appends)
        result["verify"] = bench_verify(verify_url, args.verify_entries, baseline=args.baseline,
                                        workers=args.workers)
        result["checkpoint"] = bench_checkpoint_latency(cp_url, every=args.checkpoint_every)
        return result
    finally:
        for d in drops:
            d()


def markdown(results: list[dict[str, object]], args: argparse.Namespace) -> str:
    lines = [f"Run: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, `{' '.join(sys.argv)}`, "
             f"{os.cpu_count()} CPUs.", "",
             "| backend | writers | appends/s | plain INSERTs/s | ratio (goal >= 0.7) |",
             "| --- | --- | --- | --- | --- |"]
    if not any("one_writer" in r for r in results):
        del lines[-3:]  # --verify-only
    for r in results:
        for key in ("one_writer", "four_writers") if "one_writer" in r else ():
            w = r[key]
            lines.append(f"| {r['backend']} | {w['writers']} | {w['append_per_s']:.0f} | "
                         f"{w['plain_per_s']:.0f} | {w['ratio']:.2f} |")
    if any("round_trips" in r for r in results):
        lines += ["", "One writer, statement by statement (median ms; the first statement "
                  "of each includes the driver's BEGIN):", "",
                  "| backend | step | median ms | count |", "| --- | --- | ---: | ---: |"]
        for r in results:
            for name, t in sorted(r.get("round_trips", {}).items()):
                lines.append(f"| {r['backend']} | {name} | {t['median_ms']:.3f} | "
                             f"{t['count']} |")
    lines += ["", "| backend | entries | verify from the database, 1 process | entries/s "
              f"| {args.workers} processes (`--workers {args.workers}`) | entries/s "
              "(goal >= 200,000) | speed-up | from the latest checkpoint (10 new) "
              "| offline verifier (audit.verify) |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        v = r["verify"]
        shared = (f"{v['shared_seconds']:.2f} s | {v['shared_per_s']:,.0f} | "
                  f"{v['seconds'] / v['shared_seconds']:.2f}x" if v["shared_seconds"]
                  else "- | - | -")
        lines.append(f"| {r['backend']} | {v['entries']:,} | {v['seconds']:.2f} s | "
                     f"{v['per_s']:,.0f} | {shared} | "
                     f"{v['from_checkpoint_s'] * 1000:.0f} ms | "
                     f"{v['offline_verifier_per_s']:,.0f}/s |")
    baselines = [r for r in results if r["verify"].get("baseline_seconds")]
    if baselines:
        lines += ["", "| backend | entries | verifier at baseline | entries/s | this code, "
                  "same run | entries/s | speed-up |", "| --- | ---: | --- | ---: | ---: | ---: "
                  "| ---: |"]
        for r in baselines:
            v = r["verify"]
            lines.append(f"| {r['backend']} | {v['entries']:,} | `{v['baseline']}`: "
                         f"{v['baseline_seconds']:.2f} s | "
                         f"{v['entries'] / v['baseline_seconds']:,.0f} | {v['seconds']:.2f} s "
                         f"| {v['per_s']:,.0f} | {v['baseline_seconds'] / v['seconds']:.2f}x |")
    if any("checkpoint" not in r for r in results):
        return "\n".join(lines)
    lines += ["", "| backend | inclusion proof bytes (seq: bytes) at size | consistency proof "
              f"| append -> signed checkpoint, median / max (checkpointer every "
              f"{args.checkpoint_every:g} s) |",
              "| --- | --- | --- | --- |"]
    for r in results:
        v, c = r["verify"], r["checkpoint"]
        proofs = ", ".join(f"{seq}: {size}" for seq, size in v["inclusion_bytes"].items())
        lines.append(f"| {r['backend']} | {proofs} at {v['tree_size']:,} | "
                     f"{v['consistency_bytes']} B | {c['median_s'] * 1000:.0f} ms / "
                     f"{c['max_s'] * 1000:.0f} ms |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--appends", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--verify-entries", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="also verify on this many processes, alternating with one")
    parser.add_argument("--checkpoint-every", type=float, default=0.5,
                        help="the checkpointer's period (deploy/audit: 1 s)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--verify-only", action="store_true",
                        help="only the verification measurements")
    parser.add_argument("--baseline", metavar="GIT_REF",
                        help="also time gateway/store/log_verify.py as of GIT_REF, alternating")
    args = parser.parse_args()
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for backend in backends:
            results.append(run_backend(backend, args, Path(workdir)))
            print(json.dumps(results[-1], default=str), file=sys.stderr)
    print(markdown(results, args) if args.markdown else json.dumps(results, default=str))


if __name__ == "__main__":
    main()
