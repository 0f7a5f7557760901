"""Engines and sessions for the two backends the gateway supports.

SQLite (the embedded default) gets foreign keys enforced, WAL (readers do not block the
writer) and a busy timeout, and real transactions: the stdlib driver's own transaction
handling is switched off and SQLAlchemy emits BEGIN itself, so SAVEPOINTs and
transactional DDL work as on PostgreSQL. Transactions begin IMMEDIATE (see ``_on_begin``),
after queueing on a lock file beside the database (``<database>-writers.lock``, see
``_WriterQueue``), except a read snapshot (``READ_SNAPSHOT``), which begins deferred and
takes no write lock: WAL lets it read while a writer writes.
``synchronous`` stays SQLite's default for WAL, FULL: a committed disclosure survives a
power cut, not only a crash of the process. On PostgreSQL a connection that sat in the
pool for a while is pinged before use, so one the server dropped is replaced rather than
failing a request (``_configure_postgresql``).
"""

from __future__ import annotations

import fcntl
import os
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 5000
# Key in a SQLite connection's ``info``: its transactions begin IMMEDIATE (``_on_begin``).
BEGINS_IMMEDIATE = "gateway_begins_immediate"
# Execution option of a connection whose transaction only reads: on SQLite it begins
# deferred, without the write lock (``UnitOfWork.read_snapshot``).
READ_SNAPSHOT = "gateway_read_snapshot"
_QUEUE = "gateway_writer_queue"
_CHECKED_IN_AT = "gateway_checked_in_at"
# A pooled PostgreSQL connection idle longer than this is pinged before it is used.
PING_AFTER_IDLE_S = 1.0


def database_url(url: str | URL) -> URL:
    """The URL with its driver made explicit: ``postgresql://`` means psycopg 3 here."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError("the database is a sqlite:/// or postgresql+psycopg:// URL")
    return parsed


def usable_database_url(url: str | URL) -> URL:
    """``database_url(url)`` if the gateway can keep its data there with the drivers
    installed; otherwise ValueError saying why, without the URL (it may hold a password)."""
    try:
        parsed = database_url(url)
    except (exc.ArgumentError, ValueError):
        raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL") from None
    if parsed.get_backend_name() == "sqlite" and _in_memory(parsed):
        raise ValueError("an in-memory SQLite database keeps nothing; give a file, "
                         "e.g. sqlite:////srv/records-gateway/gateway.db")
    driver = parsed.get_driver_name()
    try:
        dialect = parsed.get_dialect()
        if dialect.is_async:  # the gateway's sessions are synchronous
            raise ValueError(f"{driver} is an asyncio driver; use postgresql+psycopg://")
        dialect.import_dbapi()
    except (exc.NoSuchModuleError, ImportError):
        raise ValueError(f"the database driver {driver!r} is not installed") from None
    return parsed


def make_engine(url: str | URL, *, ping_after_idle: float = PING_AFTER_IDLE_S,
                **options: Any) -> Engine:
    """An engine for ``url``, set up for its backend; ``options`` go to create_engine."""
    parsed = database_url(url)
    engine = create_engine(parsed, **options)
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    else:
        _configure_postgresql(engine, ping_after_idle)
    return engine


def _configure_postgresql(engine: Engine, ping_after_idle: float) -> None:
    """Ping a pooled connection before use only if it has been idle a while.

    SQLAlchemy's pre-ping pings on every checkout: a round trip, about a tenth of an
    audited read. A connection checked in moments ago is alive; one idle longer may have
    been dropped (a server restart, an idle timeout). If the ping fails, the pool drops
    the connection and checks out another (DisconnectionError, SQLAlchemy's documented
    protocol). A server gone under load still fails the statement in flight, as it
    would after a pre-ping: the gateway answers 503 and nothing is disclosed.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN_AT)
        if checked_in is None or time.monotonic() - checked_in < ping_after_idle:
            return  # new, or back in the pool only moments ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError(str(error)) from error
            raise


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


def _in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _queue_path(url: URL) -> str | None:
    database = url.database or ""
    if _in_memory(url) or database.startswith("file:"):
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
        if queue_path is not None:
            record.info[_QUEUE] = _WriterQueue(queue_path)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, waiting up to the busy timeout. A
        # deferred transaction that reads and then writes (every audited read: facts,
        # then its disclosure) fails at once with "database is locked" when another
        # connection wrote in between, since SQLite cannot upgrade a stale snapshot; under
        # two gunicorn workers that turned concurrent reads into 503s. Writers are one at
        # a time on SQLite anyway. A read snapshot says it will not write: it begins
        # deferred and waits for nobody.
        # BEGINS_IMMEDIATE tells the access log whether this transaction holds the lock.
        if connection.get_execution_options().get(READ_SNAPSHOT):
            connection.info[BEGINS_IMMEDIATE] = False
            connection.exec_driver_sql("BEGIN")
            return
        connection.info[BEGINS_IMMEDIATE] = True
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
