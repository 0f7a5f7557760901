"""Benchmark: retention plan and destruction run over up to a million records.

For each backend (SQLite file, PostgreSQL throwaway database on 127.0.0.1) and each size,
a fresh migrated database gets the fixture rows by bulk insert (10 records a student:
half the students left in 2022, so their 3 interim and 3 permitted records are eligible,
30% of all records; the rest are permanent or not yet eligible). Then, each in its own
process so that its peak resident memory (ru_maxrss) is its own:

- plan: the schedule over every record, plan items stored (``RetentionService.plan``);
- review: a custodian approves the whole plan;
- run: every approved record crypto-shredded in batches, certificate written.

Goals (issue 5): plan < 30 s, run < 120 s at 1M records, memory flat in the number of
records (the ratio of peak memory 1M / 100k near 1). Baselines, timed in the same command
on the same database: for the plan, the pure rules (``gateway.retention.plan``) over a
sample of the records in Python, as the plan did them before it went set-based; for the
run, ``RecordRepository.shred`` one record at a time.

The plan is made ``--repeat`` times per size (median reported; each is a new plan over
the same records); review and run once (a run destroys what it measures). The whole
command stops at ``--budget`` seconds: a step still running is killed, and every
database it made is dropped (SQLite files go with their temporary directory).

    .venv/bin/python bench/retention.py --sizes 100000 1000000 --markdown \
        --write-doc docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from gateway.policy.facts import (  # noqa: E402
    RecordCategory,  # noqa: E402
    RecordType,
    RequesterCategory,
)
from gateway.services.retention import RetentionService  # noqa: E402
from gateway.store import migrate  # noqa: E402
from gateway.store.crypto import KeyEncryptionKeys  # noqa: E402
from gateway.store.db import make_engine, make_session_factory  # noqa: E402
from gateway.store.models import Requester, Student, StudentRecord  # noqa: E402
from gateway.store.uow import UnitOfWork  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ZONE = ZoneInfo("America/Los_Angeles")
NOW = datetime(2025, 7, 1, 17, 0, tzinfo=timezone.utc)
KEK = "bench-kek-1"
# Per student: 4 kept (permanent), 3 interim, 3 permitted.
TYPES = ([RecordType.LEGAL_NAME] + [RecordType.COURSES_AND_MARKS] * 3
         + [RecordType.HEALTH] * 3 + [RecordType.ROUTINE_DISCIPLINE] * 3)
INSERT_CHUNK = 10_000
SECTION = "## Retention"


def _keys() -> KeyEncryptionKeys:
    # A fixed key so that the child processes open what the parent sealed.
    return KeyEncryptionKeys.load(None, f"{KEK}:{'A' * 43}=")


def _service(url: str) -> tuple[RetentionService, object]:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    keys = _keys()
    return RetentionService.from_config(lambda: UnitOfWork(sessions, keys),
                                        REPOSITORY / "config", lambda: NOW, ZONE), engine


def fill(url: str, records: int, budget: Budget) -> str:
    """Bulk-insert the fixture; returns the custodian's id."""
    engine = make_engine(url)
    students = records // len(TYPES)
    blob, nonce, wrapped = os.urandom(96), os.urandom(12), os.urandom(40)
    custodian = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(insert(Requester), [{
            "id": custodian, "issuer": "https://id.example", "subject": "custodian",
            "display_name": "Custodian", "category": RequesterCategory.CUSTODIAN,
            "volunteer": False, "active": True, "created_at": NOW}])
    left = date(2022, 5, 1)
    for start in range(0, students, INSERT_CHUNK // len(TYPES)):
        budget.left()
        count = min(INSERT_CHUNK // len(TYPES), students - start)
        student_rows, record_rows = [], []
        for n in range(start, start + count):
            sid = uuid.uuid4()
            leaver = n % 2 == 0
            student_rows.append({
                "id": sid, "sis_id": f"B{n:08d}", "status": "withdrawn" if leaver else "enrolled",
                "left_district_on": left if leaver else None,
                "withdrawn_on": left if leaver else None, "created_at": NOW, "updated_at": NOW})
            for record_type in TYPES:
                record_rows.append({
                    "id": uuid.uuid4(), "student_id": sid, "record_type": record_type,
                    "category": record_type.category, "school_year_of_origin": 2019,
                    "originator": "bench", "signed_by_originator": False,
                    "anecdotal_or_assessment": False, "media_type": "text/plain",
                    "ciphertext": blob, "nonce": nonce, "wrapped_key": wrapped,
                    "kek_id": KEK, "created_at": NOW})
        with engine.begin() as conn:
            conn.execute(insert(Student), student_rows)
            conn.execute(insert(StudentRecord), record_rows)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    engine.dispose()
    return str(custodian)


def child(step: str, url: str, arg: str) -> None:
    """One step in this process; prints seconds and peak memory as JSON."""
    service, engine = _service(url)
    started = time.perf_counter()
    out: dict[str, object] = {}
    if step == "plan":
        made = service.plan(created_by="bench")
        out = {"plan_id": str(made.id), "summary": made.summary}
    elif step == "review":
        plan_id, custodian = arg.split(",")
        out = {"items": service.review(uuid.UUID(plan_id), custodian=custodian,
                                       approve=True).items}
    elif step == "run":
        report = service.run(uuid.UUID(arg), started_by="bench")
        out = {"destroyed": report.destroyed}
    elif step == "pure-rules":
        # The pre-set-based plan's per-record work: fetch the facts, apply the pure rules.
        with UnitOfWork(make_session_factory(engine), _keys()) as uow:  # type: ignore[arg-type]
            started = time.perf_counter()
            batch = next(uow.retention.live_record_batches(
                int(arg), except_categories=(RecordCategory.MANDATORY_PERMANENT,)))
            today = NOW.astimezone(ZONE).date()
            decided = list(service._dispose(batch, service._hold_facts(uow, today), today))
        out = {"decided": len(decided)}
    elif step == "shred-one-by-one":
        sessions = make_session_factory(engine)  # type: ignore[arg-type]
        with UnitOfWork(sessions, _keys()) as uow:
            ids = list(uow.session.scalars(text(
                "SELECT id FROM student_records WHERE destroyed_at IS NULL "
                f"AND record_type = 'legal_name' LIMIT {int(arg)}")))
            started = time.perf_counter()
            for record_id in ids:
                uow.records.shred(uuid.UUID(str(record_id)), NOW)
            uow.commit()
        out = {"shredded": len(ids)}
    out["seconds"] = time.perf_counter() - started
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine.dispose()  # type: ignore[attr-defined]
    print(json.dumps(out))


class OutOfTime(Exception):
    pass


class Budget:
    """The whole command's time limit; every step gets what is left of it."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise OutOfTime("the --budget ran out")
        return left


def _step(budget: Budget, step: str, url: str, arg: str = "") -> dict[str, object]:
    try:  # subprocess.run kills the child when its timeout expires
        done = subprocess.run([sys.executable, __file__, "--child", step, url, arg],
                              capture_output=True, text=True, timeout=budget.left(),
                              env={**os.environ, "GATEWAY_LOG_FORMAT": "json"})
    except subprocess.TimeoutExpired:
        raise OutOfTime(f"{step} did not finish within the --budget") from None
    if done.returncode != 0:
        raise SystemExit(f"{step} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Database:
    def __init__(self, backend: str, directory: Path) -> None:
        self.backend = backend
        name = f"bench_retention_{uuid.uuid4().hex[:10]}"
        if backend == "sqlite":
            self.url = f"sqlite:///{directory / name}.sqlite"
        else:
            self._admin(f'CREATE DATABASE "{name}"')
            self.url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
        self.name = name

    @staticmethod
    def _admin(statement: str) -> None:
        engine = make_engine(POSTGRES, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()

    def drop(self) -> None:
        if self.backend == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def measure(backend: str, size: int, directory: Path, sample: int, repeat: int,
            budget: Budget) -> dict[str, object]:
    database = Database(backend, directory)
    try:
        migrate.upgrade(database.url)
        started = time.perf_counter()
        custodian = fill(database.url, size, budget)
        fill_seconds = time.perf_counter() - started
        plans = [_step(budget, "plan", database.url) for _ in range(repeat)]
        planned = dict(plans[-1])
        planned["runs"] = [p["seconds"] for p in plans]
        planned["seconds"] = statistics.median(planned["runs"])
        planned["maxrss_mb"] = max(p["maxrss_mb"] for p in plans)
        pure = _step(budget, "pure-rules", database.url, str(sample))
        reviewed = _step(budget, "review", database.url, f"{planned['plan_id']},{custodian}")
        ran = _step(budget, "run", database.url, str(planned["plan_id"]))
        one_by_one = _step(budget, "shred-one-by-one", database.url, str(sample))
        return {"backend": backend, "records": size, "fill_s": fill_seconds,
                "plan": planned, "pure_rules": pure, "review": reviewed, "run": ran,
                "one_by_one": one_by_one, "load": os.getloadavg()[0]}
    finally:
        database.drop()


def markdown(results: list[dict[str, object]], sample: int, repeat: int,
             command: str) -> str:
    lines = [
        SECTION, "",
        "`bench/retention.py`: `RetentionService.plan`, the review (approve all) and `run` "
        "over a fresh database per backend and size, fixture rows bulk-inserted (10 records "
        "a student; 60% of records not permanent, 30% eligible). Each step in its own "
        "process; memory is its peak resident set (ru_maxrss). Plan: median of "
        f"{repeat} plans over the same records (range in brackets); review and run once "
        "(a run destroys what it measures). Baselines, same database, same command: the "
        f"pure rules in Python over {sample} non-permanent records, fetch included (the "
        "plan's per-record work before it went set-based; \"pure ÷ plan\" is that cost "
        "for all non-permanent records over the plan's time), and `RecordRepository.shred` "
        f"one record at a time ({sample} records). Goals: plan < 30 s, run < 120 s at 1M "
        "records, memory flat.", "",
        f"Command: `{command}`.", "",
        "| backend | records | plan s | plan MB | pure µs/record | pure ÷ plan | review s "
        "| destroyed | run s | run MB | run µs/record | one-by-one µs/record "
        "| one-by-one ÷ run | load |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for r in results:
        plan, pure, review, run, one = (r["plan"], r["pure_rules"], r["review"], r["run"],
                                        r["one_by_one"])
        per = run["seconds"] / max(run["destroyed"], 1) * 1e6
        per_one = one["seconds"] / max(one["shredded"], 1) * 1e6
        per_pure = pure["seconds"] / max(pure["decided"], 1) * 1e6
        considered = plan["summary"]["total"] - plan["summary"]["keep"]
        runs = plan["runs"]
        lines.append(
            f"| {r['backend']} | {r['records']:,} | {plan['seconds']:.1f} "
            f"({min(runs):.1f}–{max(runs):.1f}) | {plan['maxrss_mb']:.0f} | {per_pure:.0f} | "
            f"{per_pure * considered / 1e6 / plan['seconds']:.1f}× | {review['seconds']:.1f} "
            f"| {run['destroyed']:,} | {run['seconds']:.1f} | {run['maxrss_mb']:.0f} | "
            f"{per:.0f} | {per_one:.0f} | {per_one / per:.1f}× | {r['load']:.1f} |")
    lines.append("")
    for backend in sorted({r["backend"] for r in results}):
        rows = sorted((r for r in results if r["backend"] == backend),
                      key=lambda r: r["records"])
        if len(rows) >= 2:
            small, big = rows[0], rows[-1]
            lines.append(
                f"- {backend}: {big['records'] // small['records']}× the records: plan "
                f"memory {big['plan']['maxrss_mb'] / small['plan']['maxrss_mb']:.2f}×, run "
                f"memory {big['run']['maxrss_mb'] / small['run']['maxrss_mb']:.2f}×; plan time "
                f"{big['plan']['seconds'] / small['plan']['seconds']:.1f}×, run time "
                f"{big['run']['seconds'] / small['run']['seconds']:.1f}×.")
    lines.append("- load: the 1-minute load average when the size was done (2.0 is both "
                 "cores busy).")
    return "\n".join(lines) + "\n"


def write_doc(path: Path, section: str) -> None:
    """Replace (or append) this benchmark's section; other sections stay as they are."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if SECTION in current:
        before, _, rest = current.partition(SECTION)
        following = rest.find("\n## ")
        after = rest[following + 1:] if following != -1 else ""
        current = before + section + ("\n" + after if after else "")
    else:
        current = current.rstrip("\n") + "\n\n" + section
    path.write_text(current, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--sample", type=int, default=5000,
                        help="records shredded one at a time for the baseline")
    parser.add_argument("--repeat", type=int, default=3, help="plans per size (median)")
    parser.add_argument("--budget", type=float, default=3600,
                        help="seconds for the whole command; then stop and clean up")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--write-doc", type=Path)
    parser.add_argument("--child", nargs=3, metavar=("STEP", "URL", "ARG"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    # A SIGTERM unwinds like Ctrl-C, so that the databases are dropped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    budget = Budget(args.budget)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-retention-") as directory:
        for backend in args.backends:
            for size in args.sizes:
                result = measure(backend, size, Path(directory), args.sample, args.repeat,
                                 budget)
                print(json.dumps(result), file=sys.stderr, flush=True)
                results.append(result)
    command = "python bench/retention.py " + " ".join(sys.argv[1:])
    section = markdown(results, args.sample, args.repeat, command)
    if args.markdown:
        print(section)
    if args.write_doc:
        write_doc(args.write_doc, section)


if __name__ == "__main__":
    main()
