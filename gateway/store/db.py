"""Engines and sessions for the two backends the gateway supports.

SQLite (the embedded default) gets foreign keys enforced, WAL (readers do not block the
writer) and a busy timeout, and real transactions: the stdlib driver's own transaction
handling is switched off and SQLAlchemy emits BEGIN itself, so SAVEPOINTs and
transactional DDL work as on PostgreSQL. Transactions begin IMMEDIATE (see ``_on_begin``),
after queueing on a lock file beside the database (``<database>-writers.lock``, see
``_WriterQueue``).
``synchronous`` stays SQLite's default for WAL, FULL: a committed disclosure survives a
power cut, not only a crash of the process. PostgreSQL gets pool pre-ping, so a
connection the server dropped is replaced rather than failing a request.
"""

from __future__ import annotations

import fcntl
import os
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 5000
# Key in a SQLite connection's ``info``: its transactions begin IMMEDIATE (``_on_begin``).
BEGINS_IMMEDIATE = "gateway_begins_immediate"
_QUEUE = "gateway_writer_queue"


def database_url(url: str | URL) -> URL:
    """The URL with its driver made explicit: ``postgresql://`` means psycopg 3 here."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError("the database is a sqlite:/// or postgresql+psycopg:// URL")
    return parsed


def make_engine(url: str | URL, **options: Any) -> Engine:
    """An engine for ``url``, set up for its backend; ``options`` go to create_engine."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, **options)
        _configure_sqlite(engine)
        return engine
    options.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **options)


class _WriterQueue:
    """A lock file that SQLite writers queue on before BEGIN IMMEDIATE.

    SQLite's busy handler retries a locked database after sleeping 1, 2, 5, 10 ... 100
    ms, so a writer that finds the lock taken sleeps well past its release, while the
    holder, back with its next request, takes the lock again: under two gunicorn
    workers, audited reads waited 90 ms at the median. flock(2) on this file is polled
    every 0.1 to 1 ms instead. It only orders the writers: SQLite's own lock still
    decides, and if the queue is not free within the busy timeout, BEGIN IMMEDIATE goes
    ahead and waits as before. One open file per connection (a flock belongs to an
    open file), released at commit or rollback, and by the kernel if the process dies.
    """

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.held = False

    def take(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.0001
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return
                time.sleep(delay)
                delay = min(delay * 2, 0.001)
            else:
                self.held = True
                return

    def release(self) -> None:
        if self.held:
            self.held = False
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.release()
        os.close(self.fd)


def _queue_path(url: URL) -> str | None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or \
            url.query.get("mode") == "memory":
        return None  # in memory, or a URI: no file of ours beside it
    return f"{database}-writers.lock"


def _configure_sqlite(engine: Engine) -> None:
    queue_path = _queue_path(engine.url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")  # stays "memory" for :memory:
        finally:
            cursor.close()
        # Tells the access log that a transaction here holds the write lock from BEGIN.
        record.info[BEGINS_IMMEDIATE] = True
        if queue_path is not None:
            record.info[_QUEUE] = _WriterQueue(queue_path)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, waiting up to the busy timeout. A
        # deferred transaction that reads and then writes (every audited read: facts,
        # then its disclosure) fails at once with "database is locked" when another
        # connection wrote in between, since SQLite cannot upgrade a stale snapshot; under
        # two gunicorn workers that turned concurrent reads into 503s. Writers are one at
        # a time on SQLite anyway; a read-only transaction now waits for a writer too.
        queue = connection.info.get(_QUEUE)
        if queue is not None:
            queue.take(SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if queue is not None:
                queue.release()
            raise

    # Release once the transaction has ended in SQLite, not before (the "commit" event
    # comes before the commit's fsync, when SQLite still holds its lock): the dialect's
    # own commit and rollback, which the pool's reset-on-return uses too, are wrapped.
    # They are given the pool's proxy, whose ``info`` is the connection's.
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def _released_after(end: Any) -> Any:
        def ending(dbapi_connection: Any) -> None:
            try:
                end(dbapi_connection)
            finally:
                try:
                    queue = dbapi_connection.info.get(_QUEUE)
                except (AttributeError, NotImplementedError):  # the engine's first connect
                    queue = None
                if queue is not None:
                    queue.release()
        return ending

    dialect.do_commit = _released_after(do_commit)  # type: ignore[method-assign]
    dialect.do_rollback = _released_after(do_rollback)  # type: ignore[method-assign]

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_connection: Any, record: Any) -> None:
        queue = record.info.pop(_QUEUE, None)
        if queue is not None:
            queue.close()


def make_session_factory(bind: Engine, **options: Any) -> sessionmaker[Session]:
    """Sessions for units of work; objects stay readable after commit."""
    options.setdefault("expire_on_commit", False)
    return sessionmaker(bind=bind, **options)
