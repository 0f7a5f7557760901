"""Audited record reads per second under gunicorn, side by side with /healthz.

    .venv/bin/python bench/http_reads.py [--backends sqlite,postgresql] [--runs 5]
        [--duration 10] [--connections 8] [--variant NAME:VAR=VALUE,...] [--markdown]
        [--write-doc docs/benchmarks.md]

For each backend: a throwaway database (SQLite: a file under a temporary directory;
PostgreSQL: a database with a random name on the server at 127.0.0.1:5432, dropped at
the end), migrated and seeded with the demo's sample data (gateway.cli's
prepare_demo_database, as `records-gateway demo` does); the development OpenID provider
(deploy/dev-idp, the demo's clients) and gunicorn with deploy/gunicorn.conf.py and 2
workers, all on free 127.0.0.1 ports. One gunicorn server per variant (a variant is a
set of GATEWAY_* variables, e.g. a baseline without a tuning), all started at once, so
that every variant and both targets are measured in the same run. --baseline GIT_REF
adds a variant that runs that commit's code (exported with git archive, imported ahead
of the installed package) on the same database: a before/after in one command, for
commits whose schema is the same.

The load tool is wrk (Debian's package) with bench/http_reads.lua: the bearer token in
the Authorization header, non-2xx answers counted, latency percentiles from done().
After a warm-up, runs alternate: for each run, for each variant, /healthz (the
framework's ceiling on this server) and the audited read

    GET /v1/students/SIS-1001/records/<id>?purpose=educational_interest
        &legitimate_educational_interest=...

as the Aeries SIS integration (client credentials; a school official stating its
interest, AR 5125's school-official clause), whose every answer is an engine decision
and a disclosure committed with the read. The order of the targets flips each run.

Checks, any failure exits 1: no socket errors and no non-2xx answers (wrk's count and
the gateway's own request log); the disclosures written equal the reads the gateway
logged with 200, and at least the reads wrk saw complete.

Every process started is stopped (also on Ctrl-C or SIGTERM); every wrk run is bounded
by --duration, and the whole benchmark by --max-seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from gateway.cli import prepare_demo_database, start_gunicorn  # noqa: E402
from gateway.identity.devidp import DevProvider, DevProviderError, start_dev_provider  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from gateway.store.db import database_url as normalized_url  # noqa: E402
from gateway.store.db import make_engine  # noqa: E402

LUA = ROOT / "bench" / "http_reads.lua"
SECTION = "## HTTP: audited reads"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DISCLOSURE_TABLES = ("disclosures", "access_log_entries")
CLIENT = ("sis-aeries", "dev-secret-sis-aeries")  # deploy/dev-idp/dev-config.json
INTEREST = "teaches English 6"
READ_PATH = "/v1/students/{sis}/records/{record}"
READ_QUERY = "purpose=educational_interest&legitimate_educational_interest=teaches+English+6"


class BenchError(Exception):
    """The benchmark cannot go on; one line for the user."""


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def check(self, needed: float, what: str) -> None:
        if self.left() < needed:
            raise BenchError(f"--max-seconds {self.seconds:g} reached before {what}")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- databases -------------------------------------------------------------------------


class Database:
    """A throwaway database of one backend; ``drop()`` removes it."""

    def __init__(self, backend: str, directory: Path, postgres_server: str) -> None:
        self.backend = backend
        self._server = None
        self.name = f"bench_http_{uuid.uuid4().hex[:12]}"
        if backend == "sqlite":
            self.url = f"sqlite:///{directory / self.name}.sqlite"
            return
        server = normalized_url(postgres_server)
        if server.get_backend_name() != "postgresql":
            raise BenchError("--postgres-url must be a postgresql:// URL")
        try:
            self._execute(server, f'CREATE DATABASE "{self.name}"')
        except Exception as exc:  # driver errors of many kinds: one line
            raise BenchError(f"cannot create a database on "
                             f"{server.render_as_string(hide_password=True)}: "
                             f"{type(exc).__name__}") from None
        self._server = server
        self.url = server.set(database=self.name).render_as_string(hide_password=False)

    @staticmethod
    def _execute(server: Any, statement: str) -> None:
        engine = make_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool,
                             connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()

    def count(self, table: str) -> int:
        engine = make_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
        finally:
            engine.dispose()

    def has_table(self, table: str) -> bool:
        from sqlalchemy import inspect

        engine = make_engine(self.url, poolclass=NullPool)
        try:
            return inspect(engine).has_table(table)
        finally:
            engine.dispose()

    def server_version(self) -> str:
        if self.backend == "sqlite":
            return f"SQLite {sqlite3.sqlite_version}"
        engine = make_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                version = conn.execute(text("SHOW server_version")).scalar_one()
        finally:
            engine.dispose()
        return f"PostgreSQL {str(version).split()[0]}"

    def drop(self) -> None:
        if self._server is not None:
            self._execute(self._server, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self._server = None


# -- servers ---------------------------------------------------------------------------


@dataclass
class Server:
    """One gunicorn (2 workers) serving the gateway for one variant."""

    variant: str
    env: dict[str, str]
    port: int
    log_path: Path
    code: Path | None = None  # another commit's tree (--baseline); None: this checkout
    process: subprocess.Popen[bytes] | None = None
    _log: Any = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._log = open(self.log_path, "ab")
        env, cwd = self.env, None
        if self.code is not None:  # its packages found before the installed ones
            env, cwd = {**env, "PYTHONPATH": str(self.code)}, self.code
        self.process = start_gunicorn(f"127.0.0.1:{self.port}", env, cwd=cwd,
                                      stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise BenchError(f"gunicorn ({self.variant}) exited: "
                                 f"{self.tail() or 'no output'}")
            try:
                if requests.get(self.base + "/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise BenchError(f"gunicorn ({self.variant}) not ready within {timeout:g} s")

    def tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def log_offset(self) -> int:
        return self.log_path.stat().st_size

    def statuses_since(self, offset: int) -> Counter[tuple[str, int]]:
        """(path rule, status) of the request lines the gateway logged after ``offset``."""
        seen: Counter[tuple[str, int]] = Counter()
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            for line in f:
                if not line.startswith(b"{"):
                    continue  # gunicorn's own lines
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("event") == "request":
                    seen[(entry.get("path", ""), int(entry.get("status", 0)))] += 1
        return seen

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None


# -- load ------------------------------------------------------------------------------


@dataclass
class Run:
    variant: str
    target: str  # "healthz" or "read"
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    socket_errors: int
    non_2xx: int
    load: float  # the machine's 1-minute load average when the run ended
    logged: Counter[tuple[str, int]] = field(default_factory=Counter)


def wrk(url: str, token: str | None, duration: int, connections: int,
        threads: int) -> dict[str, Any]:
    env = {**os.environ, "BENCH_TOKEN": token or ""}
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
               "-s", str(LUA), url]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=duration + 30, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish within {duration + 30} s") from None
    if done.returncode != 0:
        raise BenchError(f"wrk failed: {(done.stderr or done.stdout).strip()[-300:]}")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError("wrk printed no results (bench/http_reads.lua's done())")


def export_commit(ref: str, workdir: Path) -> Path:
    """The tree of commit ``ref`` (git archive), to run a baseline server from."""
    tree = workdir / f"code-{re.sub(r'[^A-Za-z0-9._-]', '_', ref)}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref],
                             capture_output=True, timeout=60, check=False)
    if archive.returncode != 0:
        raise BenchError(f"git archive {ref}: {archive.stderr.decode(errors='replace')[:200]}")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, timeout=60,
                   check=True)
    return tree


def fetch_token(provider: DevProvider) -> str:
    response = requests.post(f"{provider.issuer}/token", auth=CLIENT, timeout=10,
                             data={"grant_type": "client_credentials",
                                   "scope": "records:read"})
    if response.status_code != 200:
        raise BenchError(f"the provider refused a token: HTTP {response.status_code}")
    return response.json()["access_token"]


def measure(server: Server, target: str, url: str, token: str | None,
            args: argparse.Namespace) -> Run:
    offset = server.log_offset()
    result = wrk(url, token, args.duration, args.connections, args.threads)
    time.sleep(1.0)  # let answers still in flight when wrk stopped reach the log
    errors = result["errors"]
    socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    seconds = result["duration_us"] / 1e6
    return Run(
        variant=server.variant, target=target, rps=result["requests"] / seconds,
        p50_ms=result["latency_us"]["p50"] / 1000, p99_ms=result["latency_us"]["p99"] / 1000,
        max_ms=result["latency_us"]["max"] / 1000, requests=result["requests"],
        socket_errors=socket_errors, non_2xx=result["non_2xx"], load=os.getloadavg()[0],
        logged=server.statuses_since(offset))


# -- one backend -----------------------------------------------------------------------


@dataclass
class BackendResult:
    backend: str
    version: str
    runs: list[Run]
    rows_written: dict[str, int]  # table -> rows added during the run
    reads_logged_200: int
    reads_seen_by_wrk: int
    problems: list[str]


def bench_backend(backend: str, provider: DevProvider, variants: dict[str, dict[str, str]],
                  args: argparse.Namespace, workdir: Path, deadline: Deadline,
                  baselines: dict[str, Path]) -> BackendResult:
    directory = Path(tempfile.mkdtemp(prefix=f"{backend}-", dir=workdir))
    database = Database(backend, directory, args.postgres_url)
    servers: list[Server] = []
    try:
        settings = load_settings(environ={}, overrides={
            "database_url": database.url, "oidc_issuer": provider.issuer,
            "data_dir": directory})
        seeded = prepare_demo_database(settings)
        sis_id, _kind, record_id = seeded.records[0]
        read_path = READ_PATH.format(sis=sis_id, record=record_id) + "?" + READ_QUERY
        base_env = {k: v for k, v in os.environ.items()
                    if not k.startswith("GATEWAY_") and k != "DATABASE_URL"}
        base_env.update({
            "GATEWAY_DATABASE_URL": database.url, "GATEWAY_OIDC_ISSUER": provider.issuer,
            "GATEWAY_DATA_DIR": str(directory), "GATEWAY_LOG_FORMAT": "json",
            "GATEWAY_WORKERS": str(args.workers),
        })
        for name, extra in variants.items():
            servers.append(Server(name, {**base_env, **extra}, free_port(),
                                  directory / f"gunicorn-{name}.log",
                                  code=baselines.get(name)))
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()

        # Where disclosures are recorded: the disclosures table and/or the Merkle-tree
        # access log (whichever this schema has); every permitted read adds one to each.
        tables = [t for t in DISCLOSURE_TABLES if database.has_table(t)]
        if not tables:
            raise BenchError(f"the schema has none of {DISCLOSURE_TABLES}")
        before = {t: database.count(t) for t in tables}

        # Warm-up: first connections, first token validation (JWKS fetch), caches.
        for server in servers:
            deadline.check(args.warmup + 35, "the warm-up")
            token = fetch_token(provider)
            for target, url, tok in (("healthz", server.base + "/healthz", None),
                                     ("read", server.base + read_path, token)):
                warm = measure(server, target, url, tok,
                               argparse.Namespace(**{**vars(args), "duration": args.warmup}))
                if warm.non_2xx or warm.socket_errors:
                    raise BenchError(f"warm-up of {target} ({server.variant}) failed: "
                                     f"{warm.non_2xx} non-2xx, {warm.socket_errors} socket "
                                     f"errors; {dict(warm.logged)}")
        runs: list[Run] = []
        warm_reads_logged = sum(
            n for s in servers for (path, status), n in s.statuses_since(0).items()
            if path.startswith("/v1/") and status == 200)
        for number in range(args.runs):
            targets = ["healthz", "read"] if number % 2 == 0 else ["read", "healthz"]
            for server in servers:
                for target in targets:
                    deadline.check(args.duration + 35, f"run {number + 1} of {backend}")
                    # A fresh token each run: far from its expiry, as a client would hold it.
                    token = fetch_token(provider) if target == "read" else None
                    url = server.base + ("/healthz" if target == "healthz" else read_path)
                    run = measure(server, target, url, token, args)
                    runs.append(run)
                    print(f"  {backend:<10} {server.variant:<10} run {number + 1} "
                          f"{target:<8} {run.rps:8.1f} req/s  p50 {run.p50_ms:6.2f} ms  "
                          f"p99 {run.p99_ms:6.2f} ms  non-2xx {run.non_2xx}  "
                          f"socket errors {run.socket_errors}  load {run.load:.1f}",
                          flush=True)
        time.sleep(0.5)
        written = {t: database.count(t) - before[t] for t in tables}
        all_logged: Counter[tuple[str, int]] = Counter()
        for server in servers:
            all_logged.update(server.statuses_since(0))
        reads_200 = sum(n for (path, status), n in all_logged.items()
                        if path.startswith("/v1/") and status == 200)
        problems = []
        bad = {k: n for k, n in all_logged.items() if not 200 <= k[1] <= 299}
        if bad:
            problems.append(f"the gateway logged non-2xx answers: {bad}")
        if any(r.non_2xx or r.socket_errors for r in runs):
            problems.append("wrk saw non-2xx answers or socket errors")
        for table, rows in written.items():
            if rows != reads_200:
                problems.append(f"{rows} rows added to {table} for {reads_200} reads "
                                f"answered 200")
        seen = sum(r.requests for r in runs if r.target == "read")
        if reads_200 - warm_reads_logged < seen:
            problems.append(f"wrk saw {seen} reads but the gateway logged "
                            f"{reads_200 - warm_reads_logged}")
        return BackendResult(backend, database.server_version(), runs, written, reads_200,
                             seen, problems)
    finally:
        for server in servers:
            server.stop()
        database.drop()


# -- report ----------------------------------------------------------------------------


def summarize(runs: list[Run], variant: str, target: str) -> dict[str, float]:
    chosen = [r for r in runs if r.variant == variant and r.target == target]
    return {
        "rps": statistics.median(r.rps for r in chosen),
        "rps_min": min(r.rps for r in chosen), "rps_max": max(r.rps for r in chosen),
        "p50": statistics.median(r.p50_ms for r in chosen),
        "p99": statistics.median(r.p99_ms for r in chosen),
        "p99_worst": max(r.p99_ms for r in chosen),
        "requests": sum(r.requests for r in chosen),
        "errors": sum(r.non_2xx + r.socket_errors for r in chosen),
    }


def machine_facts() -> dict[str, str]:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True,
                                 timeout=10).stdout.split("[")[0].strip()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, timeout=10).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "gateway",
                            "deploy", "bench"], capture_output=True, text=True,
                           timeout=10).stdout.strip()
    import gunicorn

    return {
        "cores": str(os.cpu_count()), "cpu": cpu, "kernel": platform.release(),
        "python": platform.python_version(), "gunicorn": gunicorn.__version__,
        "wrk": wrk_version, "commit": commit + (" with uncommitted changes" if dirty else ""),
        "date": datetime.now(timezone.utc).date().isoformat(),
    }


def report(results: list[BackendResult], variants: dict[str, dict[str, str]],
           args: argparse.Namespace, facts: dict[str, str], command: str,
           seconds: float) -> str:
    rows = []
    goal_lines = []
    main = args.goal_variant or list(variants)[-1]
    for result in results:
        for variant in variants:
            h = summarize(result.runs, variant, "healthz")
            r = summarize(result.runs, variant, "read")
            ratio = r["rps"] / h["rps"]
            rows.append(
                f"| {result.backend} | {variant} | {h['rps']:.0f} | {r['rps']:.0f} "
                f"({r['rps_min']:.0f}–{r['rps_max']:.0f}) | **{ratio:.2f}** | "
                f"{h['p50']:.1f} / {h['p99']:.1f} | {r['p50']:.1f} / {r['p99']:.1f} "
                f"({r['p99_worst']:.1f}) | {h['errors'] + r['errors']} |")
            if variant == main:
                met = ratio >= 0.5 and r["p99"] < 50
                goal_lines.append(
                    f"- {result.backend}: {'met' if met else 'NOT met'}: reads {ratio:.2f} of "
                    f"the ceiling, p99 {r['p99']:.1f} ms (worst run {r['p99_worst']:.1f} ms).")
    loads = [r.load for result in results for r in result.runs]
    checks = []
    for result in results:
        written = " and ".join(f"{n} rows added to `{t}`"
                               for t, n in result.rows_written.items())
        checks.append(
            f"- {result.backend} ({result.version}): {written} "
            f"for {result.reads_logged_200} reads the gateway answered 200 "
            f"(warm-up included; wrk counted {result.reads_seen_by_wrk} completed in its "
            f"timed windows); non-2xx answers and socket errors: "
            f"{'none' if not result.problems else '; '.join(result.problems)}.")
    variant_lines = [f"- `{name}`: " + (
        f"the code of `{name.removeprefix('baseline-')}` (git archive), as committed"
        if name.startswith("baseline-") else
        ", ".join(f"`{k}={v}`" for k, v in env.items()) or "the configuration as committed")
        for name, env in variants.items()]
    return reflow(f"""{SECTION}

Audited record reads per second under gunicorn ({args.workers} workers,
`deploy/gunicorn.conf.py`), side by side with `/healthz` on the same server in the same
run (the framework's ceiling), measured by
[`bench/http_reads.py`](../bench/http_reads.py) with wrk on 127.0.0.1.

- Date: {facts['date']}. Machine: {facts['cores']} cores (`os.cpu_count()`), {facts['cpu']},
  Linux {facts['kernel']}; Python {facts['python']}, gunicorn {facts['gunicorn']},
  {facts['wrk']}. Code at commit `{facts['commit']}`. The load tool, gunicorn, the
  development OpenID provider and PostgreSQL all share these cores, and so did whatever
  else ran on the machine: its 1-minute load average at the end of the runs was
  {statistics.median(loads):.1f} (median; {min(loads):.1f}–{max(loads):.1f}), where 2.0
  is both cores busy.
- Command: `{command}` ({seconds:.0f} s in all).
- Load: wrk, {args.threads} thread, {args.connections} connections ({args.connections //
  args.workers}× the workers), {args.runs} runs of {args.duration} s per target and
  variant after {args.warmup} s of warm-up each; the runs alternate /healthz and the read
  (order flipped every run) and the variants, so drift hits all alike. req/s is the median
  of the runs (range in brackets); latency is wrk's p50 / p99 per run, median of the runs
  (worst run's p99 in brackets).
- The read: `GET /v1/students/SIS-1001/records/<id>?purpose=educational_interest&legitimate_educational_interest=...`
  as the Aeries SIS integration (a client-credentials RS256 token from the development
  provider, a fresh one each run): the JWT is validated, the facts are read from the
  store, the AR 5125 engine decides (the school-official clause), the record's data key
  is unwrapped and its content decrypted (AES-256-GCM), and the disclosure is committed
  in the same transaction as the read; the gateway writes its JSON request line for
  every request (to a file).
- Variants (one gunicorn server each, on the same database, all running through the
  whole run):
{chr(10).join(variant_lines)}

| Backend | Variant | /healthz req/s | reads req/s | reads ÷ /healthz | /healthz p50 / p99 ms | reads p50 / p99 ms | errors |
|---|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Checks:

{chr(10).join(checks)}

**Goal** (audited reads at least half the ceiling, p99 under 50 ms), variant `{main}`:

{chr(10).join(goal_lines)}
""")  # noqa: E501 (a URL and a table row that must stay on one line)


def reflow(md: str, width: int = 90) -> str:
    """Wrap prose and bullets; leave tables and headings as they are."""
    blocks = []
    for block in md.strip("\n").split("\n\n"):
        if block.startswith(("|", "#")):
            blocks.append(block)
            continue
        lines = []
        for item in re.split(r"\n(?=- )", block):
            words = " ".join(item.split())
            bullet = words.startswith("- ")
            lines.append(textwrap.fill(words[2:] if bullet else words, width,
                                       initial_indent="- " if bullet else "",
                                       subsequent_indent="  " if bullet else "",
                                       break_long_words=False, break_on_hyphens=False))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def update_doc(path: Path, section: str) -> None:
    """Replace this benchmark's section of ``path`` (or append it); leave the rest."""
    text_ = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text_.find(SECTION + "\n")
    if start == -1:
        text_ = text_.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    else:
        end = text_.find("\n## ", start + len(SECTION))
        rest = "" if end == -1 else text_[end + 1:]
        text_ = text_[:start] + section.rstrip("\n") + "\n" + ("\n" + rest if rest else "")
    path.write_text(text_, encoding="utf-8")


def parse_variant(spec: str) -> tuple[str, dict[str, str]]:
    name, _, assignments = spec.partition(":")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,19}", name):
        raise argparse.ArgumentTypeError(f"variant name {name!r}: lower-case letters, "
                                         "digits, - and _")
    env = {}
    for item in filter(None, assignments.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not re.fullmatch(r"GATEWAY_[A-Z0-9_]+", key):
            raise argparse.ArgumentTypeError(f"variant {name!r}: {item!r} is not "
                                             "GATEWAY_NAME=value")
        env[key] = value
    return name, env


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backends", default="sqlite,postgresql",
                    help="comma-separated: sqlite, postgresql")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per target and variant")
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per target")
    ap.add_argument("--connections", type=int, default=8, help="wrk connections")
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--variant", action="append", type=parse_variant, default=[],
                    metavar="NAME:GATEWAY_VAR=VALUE,...",
                    help="a server variant (repeatable); default: one, as committed")
    ap.add_argument("--goal-variant", help="the variant the goal is judged on (default: "
                    "the last)")
    ap.add_argument("--baseline", metavar="GIT_REF", help="also a server running this "
                    "commit's code, first among the variants (same schema only)")
    ap.add_argument("--postgres-url", default=os.environ.get("GATEWAY_TEST_POSTGRES_URL")
                    or DEFAULT_POSTGRES, help="server to create the throwaway database on")
    ap.add_argument("--max-seconds", type=float, default=1500.0,
                    help="stop (with an error) if the whole benchmark would run longer")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="keep the gunicorn logs (and "
                    "the SQLite database) in DIR instead of a temporary directory")
    ap.add_argument("--markdown", action="store_true", help="print the markdown section")
    ap.add_argument("--write-doc", type=Path, help=f"put the section {SECTION!r} into this "
                    "file (replacing only that section)")
    args = ap.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or any(b not in ("sqlite", "postgresql") for b in backends):
        ap.error("--backends takes sqlite and/or postgresql")
    if min(args.runs, args.duration, args.warmup, args.connections, args.threads,
           args.workers) < 1:
        ap.error("--runs, --duration, --warmup, --connections, --threads and --workers "
                 "must be at least 1")
    variants = dict(args.variant) or {"as-committed": {}}
    if args.baseline:
        variants = {f"baseline-{args.baseline}": {}, **variants}
    if args.goal_variant and args.goal_variant not in variants:
        ap.error(f"--goal-variant {args.goal_variant!r} is not among the variants")
    if shutil.which("wrk") is None:
        print("http_reads: wrk not found: apt-get install -y wrk (make bench does)",
              file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, _interrupt)
    deadline = Deadline(args.max_seconds)
    started = time.monotonic()
    command = " ".join(["python", "bench/http_reads.py", *sys.argv[1:]])
    results: list[BackendResult] = []
    provider: DevProvider | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="records-gateway-bench-") as workdir:
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                workdir = str(args.keep)
            baselines = ({f"baseline-{args.baseline}": export_commit(args.baseline,
                                                                      Path(workdir))}
                         if args.baseline else {})
            provider = start_dev_provider(port=0, timeout=90)  # a busy machine starts it slowly
            for backend in backends:
                results.append(bench_backend(backend, provider, variants, args,
                                             Path(workdir), deadline, baselines))
    except (BenchError, DevProviderError) as exc:
        print(f"http_reads: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("http_reads: interrupted; everything started was stopped", file=sys.stderr)
        return 130
    finally:
        if provider is not None:
            provider.stop()
    section = report(results, variants, args, machine_facts(), command,
                     time.monotonic() - started)
    print()
    print(section if args.markdown or args.write_doc else
          "\n".join(line for line in section.splitlines() if line.startswith("| ")))
    if args.write_doc:
        update_doc(args.write_doc, section)
        print(f"http_reads: wrote {SECTION!r} in {args.write_doc}")
    problems = [p for r in results for p in r.problems]
    for problem in problems:
        print(f"http_reads: CHECK FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
