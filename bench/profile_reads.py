"""Where an audited read spends its time: cProfile of the Flask test client, in-process.

    .venv/bin/python bench/profile_reads.py [--backend sqlite|postgresql] [--reads 500]
        [--sort tottime|cumulative] [--top 40] [--timing]

The same set-up as bench/http_reads.py (the demo's data in a throwaway database, the
development OpenID provider, a real client-credentials token), without gunicorn or the
network: the test client reads one record --reads times (after 50 untimed reads) under
cProfile, then prints the mean time per read and the top functions. For finding what
to make faster; bench/http_reads.py is the measure.

--timing instead times, without the profiler, --reads reads interleaved with as many
/healthz requests (each timed alone), and prints the medians and their ratio (a quick
before/after check that shares the machine's noise between the two), the mean CPU time
of each, and the median wall time of each step of the read service (``PHASES``).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_reads import (  # noqa: E402
    DEFAULT_POSTGRES,
    READ_PATH,
    READ_QUERY,
    Database,
    fetch_token,
)
from gateway import create_app  # noqa: E402
from gateway.cli import prepare_demo_database  # noqa: E402
from gateway.identity.devidp import start_dev_provider  # noqa: E402
from gateway.settings import load_settings  # noqa: E402


def _phases() -> dict[str, list[float]]:
    """Time each step of an audited read (wall clock), by wrapping the methods it calls."""
    from gateway.services.access import RecordAccessService
    from gateway.store.access_log import AccessLogRepository
    from gateway.store.repositories import ReadFactsRepository, RecordRepository
    from gateway.store.uow import UnitOfWork

    steps = [(RecordAccessService, "read", "the read service, in all"),
             (UnitOfWork, "read_snapshot", "begin the read snapshot"),
             (ReadFactsRepository, "for_read", "the facts query"),
             (RecordAccessService, "_question", "the facts, checked (query included)"),
             (RecordRepository, "read", "open the record (unwrap, decrypt)"),
             (UnitOfWork, "start_writing", "end the snapshot, begin writing"),
             (RecordRepository, "hold_for_disclosure", "the record held"),
             (AccessLogRepository, "append", "the access-log entry"),
             (UnitOfWork, "commit", "the commit")]
    times: dict[str, list[float]] = {label: [] for _, _, label in steps}
    def timed(method: Any, spent: list[float]) -> Any:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent.append(time.perf_counter() - started)
        return wrapper

    for owner, name, label in steps:
        setattr(owner, name, timed(getattr(owner, name), times[label]))
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--reads", type=int, default=500)
    ap.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--timing", action="store_true",
                    help="medians of reads and /healthz, interleaved, no profiler")
    ap.add_argument("--postgres-url", default=os.environ.get("GATEWAY_TEST_POSTGRES_URL")
                    or DEFAULT_POSTGRES)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="records-gateway-profile-") as workdir, \
            start_dev_provider(port=0, timeout=90) as provider:
        database = Database(args.backend, Path(workdir), args.postgres_url)
        app = None
        try:
            settings = load_settings(environ={}, overrides={
                "database_url": database.url, "oidc_issuer": provider.issuer,
                "data_dir": Path(workdir), "log_format": "json"})
            seeded = prepare_demo_database(settings)
            sis_id, _kind, record_id = seeded.records[0]
            url = READ_PATH.format(sis=sis_id, record=record_id) + "?" + READ_QUERY
            app = create_app(settings=settings)
            client = app.test_client()
            headers = {"Authorization": f"Bearer {fetch_token(provider)}"}
            # The request lines go to standard output; keep them out of the report.
            stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
            try:
                for _ in range(50):
                    assert client.get(url, headers=headers).status_code == 200
                if args.timing:
                    phases = _phases()
                    reads, health, read_cpu, health_cpu = [], [], [], []
                    for _ in range(args.reads):
                        started, cpu = time.perf_counter(), time.process_time()
                        client.get(url, headers=headers)
                        reads.append(time.perf_counter() - started)
                        read_cpu.append(time.process_time() - cpu)
                        started, cpu = time.perf_counter(), time.process_time()
                        client.get("/healthz")
                        health.append(time.perf_counter() - started)
                        health_cpu.append(time.process_time() - cpu)
                profiler = cProfile.Profile()
                started = time.perf_counter()
                profiler.enable()
                for _ in range(0 if args.timing else args.reads):
                    client.get(url, headers=headers)
                profiler.disable()
                elapsed = time.perf_counter() - started
            finally:
                sys.stdout.close()
                sys.stdout = stdout
            if args.timing:
                read_ms = statistics.median(reads) * 1000
                health_ms = statistics.median(health) * 1000
                print(f"{args.backend}: {args.reads} reads interleaved with /healthz, medians: "
                      f"read {read_ms:.2f} ms, /healthz {health_ms:.2f} ms, "
                      f"read / healthz {read_ms / health_ms:.1f}x; CPU time, mean: read "
                      f"{statistics.fmean(read_cpu) * 1000:.2f} ms, /healthz "
                      f"{statistics.fmean(health_cpu) * 1000:.2f} ms")
                for label, spent in phases.items():
                    print(f"  {label}: {statistics.median(spent) * 1000:.3f} ms")
                return 0
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
            print(f"{args.backend}: {args.reads} reads, {elapsed / args.reads * 1000:.2f} ms "
                  f"a read under the profiler")
            print(out.getvalue())
        finally:
            if app is not None:
                services = app.extensions["gateway"]
                services.database.dispose()
                if services.tokens is not None:
                    services.tokens.close()
            database.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
