"""Crash test (issue 4): the gateway killed mid-load loses no disclosure and breaks no log.

The gateway runs under gunicorn (2 sync workers) on 127.0.0.1 on a fresh database of
each backend, seeded as the demo seeds it, with tokens from the development provider.
A few threads read a record as the SIS integration, each request with its own request
id; part-way through, the master and its workers are SIGKILLed. Then:

- ``records-gateway audit verify`` passes (a killed write leaves nothing half-written);
- every answer the load saw with 200 carries its request id, and the log holds exactly
  one disclosure with that id (a record that left was logged).

Bounded: at most LOAD_REQUESTS requests and LOAD_SECONDS of load per backend, every
process started here is stopped here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from gateway.cli import prepare_demo_database, start_gunicorn
from gateway.identity.devidp import DevProvider, DevProviderError, start_dev_provider
from gateway.settings import load_settings
from gateway.store.db import make_engine
from tests.integration.store.fixtures import BACKENDS, Databases
from tests.processes import children, free_port

THREADS = 4
LOAD_REQUESTS = 600  # over all threads
LOAD_SECONDS = 15.0
KILL_AFTER_OK = 40  # answers with 200 before the kill
CLIENT = ("sis-aeries", "dev-secret-sis-aeries")  # deploy/dev-idp/dev-config.json
QUERY = {"purpose": "educational_interest", "legitimate_educational_interest": "teaches English 6"}
CLI = Path(sys.executable).with_name("records-gateway")


@pytest.fixture(scope="module")
def provider() -> Iterator[DevProvider]:
    try:
        started = start_dev_provider(port=0, timeout=90)
    except DevProviderError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        yield started
    finally:
        started.stop()


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


class Load:
    """Threads reading one record; what each 200 said its request id was."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.ok: list[str] = []  # request ids of the 200 answers
        self.other: list[int] = []
        self.unanswered = 0  # requests the dead server never answered
        self.sent = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._deadline = time.monotonic() + LOAD_SECONDS

    def _take(self) -> bool:
        with self._lock:
            if self.stop.is_set() or self.sent >= LOAD_REQUESTS \
                    or time.monotonic() > self._deadline:
                return False
            self.sent += 1
            return True

    def run(self) -> None:
        with requests.Session() as session:
            while self._take():
                request_id = uuid.uuid4().hex
                try:
                    response = session.get(self.url, params=QUERY, timeout=5, headers={
                        "Authorization": f"Bearer {self.token}", "X-Request-Id": request_id})
                except requests.RequestException:
                    with self._lock:
                        self.unanswered += 1
                    continue  # the server is gone (or going): keep on until stopped
                with self._lock:
                    if response.status_code == 200:
                        assert response.headers.get("X-Request-Id") == request_id
                        self.ok.append(request_id)
                    else:
                        self.other.append(response.status_code)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_gateway_keeps_every_disclosure_and_a_verifiable_log(
        request: pytest.FixtureRequest, backend: str, databases: Databases,
        provider: DevProvider, tmp_path: Path) -> None:
    url = databases.create(request, backend)
    settings = load_settings(environ={}, overrides={
        "database_url": url, "oidc_issuer": provider.issuer, "data_dir": tmp_path})
    sis_id, _kind, record_id = prepare_demo_database(settings).records[0]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GATEWAY_") and k != "DATABASE_URL"}
    env.update({"GATEWAY_DATABASE_URL": url, "GATEWAY_OIDC_ISSUER": provider.issuer,
                "GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_LOG_FORMAT": "json",
                "GATEWAY_WORKERS": "2"})
    # A checkpoint before the load, so that verify also holds the log to a signed size.
    cli(env, "audit", "checkpoint")
    port = free_port()
    with open(tmp_path / "gunicorn.log", "ab") as log:
        master = start_gunicorn(f"127.0.0.1:{port}", env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(master, base)
        token = requests.post(f"{provider.issuer}/token", auth=CLIENT, timeout=10, data={
            "grant_type": "client_credentials", "scope": "records:read"}).json()["access_token"]
        load = Load(f"{base}/v1/students/{sis_id}/records/{record_id}", token)
        threads = [threading.Thread(target=load.run) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        until = time.monotonic() + LOAD_SECONDS / 2
        while len(load.ok) < KILL_AFTER_OK and time.monotonic() < until:
            time.sleep(0.01)
        # Mid-load: every process of the server at once, with no chance to clean up.
        workers = children(master.pid)
        for pid in [*workers, master.pid]:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)  # the threads see the server gone
        load.stop.set()
        for thread in threads:
            thread.join(timeout=10)
        assert not any(t.is_alive() for t in threads)
    finally:
        stop(master, workers)

    assert len(load.ok) >= 5, (load.ok, load.other)  # a busy machine answers slowly
    assert load.unanswered >= 1  # the kill came mid-load
    assert set(load.other) <= {503}, load.other  # a kill may cut a commit: never a 5xx else
    verified = cli(env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    logged = disclosures_by_request_id(url)
    missing = [rid for rid in load.ok if logged.get(rid) != 1]
    assert not missing, f"{len(missing)} of {len(load.ok)} disclosures not logged once"


def wait_ready(master: subprocess.Popen[bytes], base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert master.poll() is None, "gunicorn exited; see gunicorn.log"
        try:
            if requests.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"gunicorn not ready within {timeout:g} s")


def stop(master: subprocess.Popen[bytes], workers: list[int]) -> None:
    """Stop what this test started, by pid: the master, and workers it may have left."""
    for pid in [*workers, *children(master.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if master.poll() is None:
        master.kill()
    master.wait(timeout=10)
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in workers), "a gunicorn worker outlived the test"


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode in (0, 1), done.stderr
    return done


def disclosures_by_request_id(url: str) -> dict[str, int]:
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT request_id, count(*) FROM access_log_entries "
                "WHERE event = 'disclosure' GROUP BY request_id")).all()
    finally:
        engine.dispose()
    return {request_id: count for request_id, count in rows}
