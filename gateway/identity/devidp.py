"""Start and stop the development OpenID provider (deploy/dev-idp, Node.js oidc-provider).

For tests and demos only. ``start_dev_provider`` installs the provider's npm packages
from the lockfile when they are missing, starts ``node provider.mjs``, waits for its
``ready ISSUER`` line and returns a handle; ``handle.stop()`` (or leaving the ``with``
block) sends SIGTERM and waits. The provider also exits when this process dies, since
it is told to exit when its standard input closes.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["DEV_IDP_DIR", "DevProvider", "DevProviderError", "ensure_installed",
           "start_dev_provider"]

DEV_IDP_DIR = Path(__file__).resolve().parents[2] / "deploy" / "dev-idp"
DEFAULT_CONFIG = DEV_IDP_DIR / "dev-config.json"
INSTALL_TIMEOUT = 300.0


class DevProviderError(RuntimeError):
    """The development provider could not be installed or started (one-line message)."""


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise DevProviderError(
            f"{tool} not found on PATH: the development identity provider needs Node.js 20+ "
            f"and npm (e.g. apt-get install nodejs npm)")
    return path


def _pinned_version(directory: Path) -> str | None:
    try:
        return json.loads((directory / "package.json").read_text())["dependencies"]["oidc-provider"]
    except (OSError, ValueError, KeyError):
        return None


def _installed_version(directory: Path) -> str | None:
    try:
        manifest = directory / "node_modules" / "oidc-provider" / "package.json"
        return json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_installed(directory: Path = DEV_IDP_DIR, timeout: float = INSTALL_TIMEOUT) -> None:
    """Run ``npm ci`` (``npm install`` without a lockfile) unless the pinned
    oidc-provider is already in node_modules. Serialized across processes."""
    if _installed_version(directory) == _pinned_version(directory) is not None:
        return
    npm = _require("npm")
    _require("node")
    import fcntl

    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"records-gateway-dev-idp-{digest}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_version(directory) == _pinned_version(directory) is not None:
            return  # another process installed it while we waited
        command = [npm, "ci" if (directory / "package-lock.json").exists() else "install",
                   "--no-audit", "--no-fund", "--loglevel=error"]
        try:
            done = subprocess.run(command, cwd=directory, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise DevProviderError(f"{' '.join(command[:2])} in {directory} took over "
                                   f"{timeout:g} s") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise DevProviderError(f"{' '.join(command[:2])} in {directory} failed: {last}")


def _pump(stream: IO[str], lines: queue.Queue[str | None] | None,
          tail: collections.deque[str]) -> None:
    for line in stream:
        tail.append(line.rstrip("\n"))
        if lines is not None:
            lines.put(line)
    if lines is not None:
        lines.put(None)


class DevProvider:
    """A running development provider. Use ``stop()`` or a ``with`` block."""

    def __init__(self, process: subprocess.Popen[str], issuer: str, config_path: Path,
                 threads: list[threading.Thread], stderr_tail: collections.deque[str]) -> None:
        self.process = process
        self.issuer = issuer
        self.config_path = config_path
        self._threads = threads
        self._stderr_tail = stderr_tail

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stderr_tail(self) -> str:
        """The provider's last lines of standard error, for failure messages."""
        return "\n".join(self._stderr_tail)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait, SIGKILL if it does not exit. Safe to call twice."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None and not stream.closed:
                try:
                    stream.close()
                except OSError:
                    pass
        for thread in self._threads:
            thread.join(timeout)

    def __enter__(self) -> DevProvider:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"DevProvider(issuer={self.issuer!r}, pid={self.process.pid})"


def start_dev_provider(config_path: str | os.PathLike[str] = DEFAULT_CONFIG,
                       host: str = "127.0.0.1", port: int = 0, *,
                       timeout: float = 30.0, install: bool = True) -> DevProvider:
    """Start the provider with the JSON config at ``config_path`` on ``host:port``
    (port 0: a free port, chosen by the provider). Returns once it prints ``ready``."""
    config = Path(config_path).resolve()
    if not config.is_file():
        raise DevProviderError(f"no provider config at {config}")
    node = _require("node")
    if install:
        ensure_installed()
    elif _installed_version(DEV_IDP_DIR) is None:
        raise DevProviderError(f"oidc-provider is not installed: run npm ci in {DEV_IDP_DIR}")

    process = subprocess.Popen(
        [node, "provider.mjs", str(config), "--host", host, "--port", str(port),
         "--exit-with-stdin"],
        cwd=DEV_IDP_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, bufsize=1)
    assert process.stdout is not None and process.stderr is not None
    lines: queue.Queue[str | None] = queue.Queue()
    stdout_tail: collections.deque[str] = collections.deque(maxlen=50)
    stderr_tail: collections.deque[str] = collections.deque(maxlen=50)
    threads = [
        threading.Thread(target=_pump, args=(process.stdout, lines, stdout_tail), daemon=True,
                         name="dev-idp-stdout"),
        threading.Thread(target=_pump, args=(process.stderr, None, stderr_tail), daemon=True,
                         name="dev-idp-stderr"),
    ]
    for thread in threads:
        thread.start()
    handle = DevProvider(process, "", config, threads, stderr_tail)

    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            line = lines.get(timeout=remaining) if remaining > 0 else ""
        except queue.Empty:
            line = ""
        if line is not None and line.startswith("ready "):
            handle.issuer = line.split()[1]
            return handle
        if line is None or line == "":  # the provider exited, or the time is up
            handle.stop()
            why = (f"exited with status {process.returncode}" if line is None
                   else f"printed no ready line within {timeout:g} s")
            last = (list(stderr_tail) or ["(no output)"])[-1]
            raise DevProviderError(f"development identity provider {why}: {last}")
