"""What gunicorn itself refuses, before the gateway reads the request, is problem details
too: the gateway under its real gunicorn configuration on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gateway.cli import start_gunicorn
from tests.processes import children, free_port


@pytest.fixture(params=["sync", "gthread", "sync, 4 threads"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The gateway under gunicorn with deploy/gunicorn.conf.py, one worker of each class
    (and the default class given threads, which gunicorn runs as gthread)."""
    worker_class, _, threads = request.param.partition(", ")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GATEWAY_") and k != "DATABASE_URL"}
    env.update({"GATEWAY_DATA_DIR": str(tmp_path),
                "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}",
                "GATEWAY_WORKERS": "1", "GATEWAY_WORKER_CLASS": worker_class,
                "GATEWAY_THREADS": threads.split()[0] if threads else "1"})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "gunicorn.log", "ab") as log:
        master = start_gunicorn(f"127.0.0.1:{port}", env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            assert master.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "gunicorn not ready within 30 s"
            time.sleep(0.1)
        workers = children(master.pid)
        yield base
    finally:
        master.send_signal(signal.SIGTERM)
        try:
            master.wait(timeout=20)
        except subprocess.TimeoutExpired:
            for pid in [*workers, master.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            master.wait(timeout=10)


def _is_problem(response: requests.Response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_a_request_line_too_long_is_a_414_problem(server: str) -> None:
    # Say, a purpose far past what the API takes, in the query string.
    response = requests.get(f"{server}/v1/students/SIS-2001/records/r",
                            params={"purpose": "x" * 9000}, timeout=10)

    body = _is_problem(response, 414)
    assert "SIS-2001" not in response.text and body["type"] == "about:blank"


def test_header_fields_too_large_are_a_431_problem(server: str) -> None:
    response = requests.get(f"{server}/healthz", headers={"X-Note": "y" * 9000}, timeout=10)

    _is_problem(response, 431)


def test_a_request_that_is_not_http_is_a_400_problem(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"NOT HTTP AT ALL SIS-2001\r\n\r\n")
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Type: application/problem+json" in head
    assert json.loads(body)["status"] == 400 and b"SIS-2001" not in answer


def _start_with(tmp_path: Path, variable: str, value: str, command: list[str] | None = None
                ) -> tuple[int | None, str]:
    """Start the gateway with one server variable set (gunicorn with the deploy
    configuration, or ``command``); its exit status within 30 s (None if it kept running:
    it is stopped) and what it printed."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GATEWAY_") and k != "DATABASE_URL"}
    env.update({"GATEWAY_DATA_DIR": str(tmp_path),
                "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}",
                "GATEWAY_WORKERS": "1", variable: value})
    bind = f"127.0.0.1:{free_port()}"
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT,
             "stdin": subprocess.DEVNULL, "start_new_session": True}
    process = (start_gunicorn(bind, env, **popen) if command is None else
               subprocess.Popen([*command, "--bind", bind], env=env, **popen))
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate(timeout=10)
        return None, output.decode(errors="replace")
    return process.returncode, output.decode(errors="replace")


BAD_SERVER_SETTINGS = [("GATEWAY_WORKER_CLASS", "gthraed"),
                       ("GATEWAY_WORKER_CLASS", "gateway.workers.ProblemWorker"),
                       ("GATEWAY_WORKERS", "0"), ("GATEWAY_WORKERS", "two"),
                       ("GATEWAY_THREADS", "-1")]


@pytest.mark.parametrize(("variable", "value"), BAD_SERVER_SETTINGS)
def test_a_bad_server_setting_stops_the_start_with_one_line_naming_it(
        tmp_path: Path, variable: str, value: str) -> None:
    serve = [sys.executable, "-c", "from gateway.cli import run; run()", "serve"]
    status, output = _start_with(tmp_path, variable, value, serve)

    assert status == 2, output
    assert output.startswith(f"records-gateway: settings: {variable}: ")
    assert output.count("\n") == 1 and repr(value) in output


@pytest.mark.parametrize(("variable", "value"), BAD_SERVER_SETTINGS)
def test_gunicorn_with_the_deploy_configuration_refuses_a_bad_server_setting_too(
        tmp_path: Path, variable: str, value: str) -> None:
    status, output = _start_with(tmp_path, variable, value)

    assert status == 1, output  # not a master listening with no worker to answer
    assert output == f"records-gateway: {output.split(': ', 1)[1]}"
    assert output.startswith(f"records-gateway: {variable}: ") and output.count("\n") == 1
