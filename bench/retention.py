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
records (the ratio of peak memory 1M / 100k near 1). The baseline for the run is the
one-record-at-a-time path (``RecordRepository.shred`` per record), timed on a sample in
the same run.

    .venv/bin/python bench/retention.py --sizes 100000 1000000 --markdown \
        --write-doc docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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

from gateway.policy.facts import RecordType, RequesterCategory  # noqa: E402
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


def fill(url: str, records: int) -> str:
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


def _step(step: str, url: str, arg: str = "") -> dict[str, object]:
    done = subprocess.run([sys.executable, __file__, "--child", step, url, arg],
                          capture_output=True, text=True, timeout=3600,
                          env={**os.environ, "GATEWAY_LOG_FORMAT": "json"})
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


def measure(backend: str, size: int, directory: Path, sample: int) -> dict[str, object]:
    database = Database(backend, directory)
    try:
        migrate.upgrade(database.url)
        started = time.perf_counter()
        custodian = fill(database.url, size)
        fill_seconds = time.perf_counter() - started
        planned = _step("plan", database.url)
        reviewed = _step("review", database.url, f"{planned['plan_id']},{custodian}")
        ran = _step("run", database.url, str(planned["plan_id"]))
        one_by_one = _step("shred-one-by-one", database.url, str(sample))
        return {"backend": backend, "records": size, "fill_s": fill_seconds,
                "plan": planned, "review": reviewed, "run": ran, "one_by_one": one_by_one}
    finally:
        database.drop()


def markdown(results: list[dict[str, object]], sample: int) -> str:
    lines = [
        SECTION, "",
        "`bench/retention.py`: `RetentionService.plan`, the review (approve all) and `run` "
        "over a fresh database per backend and size, fixture rows bulk-inserted (10 records "
        "a student; 30% of records eligible). Each step in its own process; memory is its "
        "peak resident set (ru_maxrss). Baseline: `RecordRepository.shred` one record at a "
        f"time ({sample} records, same database, same run). One run each (not a median: "
        "a 1M-record fixture takes minutes to build). Goals: plan < 30 s, run < 120 s at "
        "1M records, memory flat.", "",
        "| backend | records | plan s | plan MB | review s | destroyed | run s | run MB "
        "| run µs/record | one-by-one µs/record | one-by-one / run |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        plan, review, run, one = r["plan"], r["review"], r["run"], r["one_by_one"]
        per = run["seconds"] / max(run["destroyed"], 1) * 1e6
        per_one = one["seconds"] / max(one["shredded"], 1) * 1e6
        lines.append(
            f"| {r['backend']} | {r['records']:,} | {plan['seconds']:.1f} | "
            f"{plan['maxrss_mb']:.0f} | {review['seconds']:.1f} | {run['destroyed']:,} | "
            f"{run['seconds']:.1f} | {run['maxrss_mb']:.0f} | {per:.0f} | {per_one:.0f} | "
            f"{per_one / per:.1f}× |")
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
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--write-doc", type=Path)
    parser.add_argument("--child", nargs=3, metavar=("STEP", "URL", "ARG"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-retention-") as directory:
        for backend in args.backends:
            for size in args.sizes:
                result = measure(backend, size, Path(directory), args.sample)
                print(json.dumps(result), file=sys.stderr, flush=True)
                results.append(result)
    section = markdown(results, args.sample)
    if args.markdown:
        print(section)
    if args.write_doc:
        write_doc(args.write_doc, section)


if __name__ == "__main__":
    main()
