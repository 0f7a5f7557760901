"""gunicorn workers whose own error answers are RFC 9457 problem details.

gunicorn answers some requests before the application sees them: a request line longer
than ``limit_request_line`` (414), header fields too many or too large (431), a request
it cannot parse (400), an error it cannot hand to the application (500). It writes those
as small HTML pages. These workers keep gunicorn's judgement of the status (and its own
log line) and write the answer as ``application/problem+json`` instead, like every other
error of the gateway. gunicorn's message is not echoed: it may quote the request line,
which can hold an SIS id.

``deploy/gunicorn.conf.py`` names them (``worker_class``).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Mapping
from typing import Any

from gunicorn import util
from gunicorn.workers.base import Worker
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

PROBLEM_MEDIA_TYPE = "application/problem+json"  # as schemas.problem, without Flask's world

DETAILS = {
    400: "The request could not be read as HTTP.",
    403: "The request was refused before the gateway read it.",
    414: "The request line (method, path and query string) is longer than the gateway "
         "reads; send shorter values.",
    417: "The gateway does not meet the request's Expect header.",
    431: "The request's header fields are too many or too large.",
    500: "The request could not be completed; nothing was disclosed.",
    501: "The request's transfer coding is not supported.",
}
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ([^\r\n]*)\r\n")


class _Captured:
    """Stands in for the client socket while gunicorn writes its error page."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0  # "non-blocking": gunicorn then writes without switching modes

    def sendall(self, data: bytes) -> None:
        self.data += data


def problem_response(status: int, title: str) -> bytes:
    """The whole HTTP/1.1 answer: status line, headers, a problem details body."""
    body = json.dumps({"type": "about:blank", "title": title, "status": status,
                       "detail": DETAILS.get(status, title)}).encode("utf-8")
    head = (f"HTTP/1.1 {status} {title}\r\nConnection: close\r\n"
            f"Content-Type: {PROBLEM_MEDIA_TYPE}\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\n\r\n")
    return head.encode("latin-1") + body


class ProblemErrors:
    """Mixed into a gunicorn worker: its error answers as problem details."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        page = _Captured()
        super().handle_error(req, page, addr, exc)  # type: ignore[misc]
        found = _STATUS_LINE.match(page.data)
        status, title = (int(found[1]), found[2].decode("latin-1")) if found else (
            500, "Internal Server Error")
        try:
            util.write_nonblock(client, problem_response(status, title))
        except Exception:  # the client is gone: as gunicorn, nothing more to do
            self.log.debug("Failed to send error message.")  # type: ignore[attr-defined]


class ProblemSyncWorker(ProblemErrors, SyncWorker):
    """gunicorn's sync worker (the gateway's default)."""


class ProblemThreadWorker(ProblemErrors, ThreadWorker):
    """gunicorn's gthread worker."""



# GATEWAY_WORKER_CLASS: the gateway's own classes by gunicorn's names for what they extend.
WORKER_CLASSES = {"sync": "gateway.workers.ProblemSyncWorker",
                  "gthread": "gateway.workers.ProblemThreadWorker"}


class ServerSettingError(ValueError):
    """A GATEWAY_* variable of the server that cannot be used; the message names it."""


def server_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """gunicorn's ``workers``, ``worker_class`` and ``threads`` from GATEWAY_WORKERS,
    GATEWAY_WORKER_CLASS and GATEWAY_THREADS (empty is unset, as in gateway.settings).

    Checked before gunicorn starts (deploy/gunicorn.conf.py, ``records-gateway serve``):
    gunicorn itself answers a bad number or class with a traceback, or starts a master
    that listens with no worker to answer (a class that is not one, ``workers = 0``).
    """
    def count(name: str, default: int) -> int:
        text = environ.get(name) or str(default)
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            shown = text if len(text) <= 40 else text[:40] + "..."
            raise ServerSettingError(f"{name}: must be a whole number, 1 or more (not {shown!r})")
        return value

    threads = count("GATEWAY_THREADS", 1)
    name = environ.get("GATEWAY_WORKER_CLASS") or "sync"
    worker_class = WORKER_CLASSES.get(name, name)
    if worker_class == WORKER_CLASSES["sync"] and threads > 1:
        # What gunicorn does with a sync worker given threads, but the gateway's class:
        # gunicorn itself would run its own gthread worker, whose errors are HTML.
        worker_class = WORKER_CLASSES["gthread"]
    try:
        loaded = util.load_class(worker_class)
    except Exception:  # noqa: BLE001 - gunicorn wraps an import's failures as it likes
        loaded = None
    if not (inspect.isclass(loaded) and issubclass(loaded, Worker)):
        raise ServerSettingError(
            f"GATEWAY_WORKER_CLASS: {name!r} is not a gunicorn worker class (sync or "
            "gthread, or the dotted path of a worker class that can be imported)")
    return {"workers": count("GATEWAY_WORKERS", 2), "worker_class": worker_class,
            "threads": threads}
