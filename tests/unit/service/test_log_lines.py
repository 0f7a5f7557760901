"""The request log stays one JSON object a line when several workers share one output."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from gateway.logs import configure_logging

WORKER = """
import os, time
import structlog
from gateway.logs import configure_logging

configure_logging("json")
log = structlog.get_logger("gateway.request")
deadline = time.monotonic() + 20
while not os.path.exists({go!r}) and time.monotonic() < deadline:  # start together
    time.sleep(0.005)
for n in range({lines}):
    log.info("request", worker={worker}, n=n, path="/v1/students/<string:sis_id>/records/"
             "<uuid:record_id>", status=200, duration_ms=1.25)
"""


def test_two_workers_writing_one_file_never_merge_lines(tmp_path: Path) -> None:
    lines = 5000
    out, go = tmp_path / "gateway.log", tmp_path / "go"
    with open(out, "ab") as shared:  # as gunicorn's workers inherit its standard output
        workers = [subprocess.Popen(
            [sys.executable, "-c", WORKER.format(lines=lines, worker=w, go=str(go))],
            stdout=shared, stderr=subprocess.PIPE) for w in (1, 2)]
        time.sleep(1.0)  # both have started and wait
        go.touch()
        for worker in workers:
            _, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err.decode()

    entries = [json.loads(line) for line in out.read_text().splitlines()]

    assert len(entries) == 2 * lines
    for w in (1, 2):
        assert [e["n"] for e in entries if e["worker"] == w] == list(range(lines))


def test_console_format_is_one_line_too(capsys) -> None:
    configure_logging("console")
    try:
        import structlog

        structlog.get_logger("t").info("request", status=200)
        assert capsys.readouterr().out.count("\n") == 1
    finally:
        configure_logging("json")
