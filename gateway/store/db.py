"""Engines and sessions for the two backends the gateway supports.

SQLite (the embedded default) gets foreign keys enforced, WAL (readers do not block the
writer) and a busy timeout, and real transactions: the stdlib driver's own transaction
handling is switched off and SQLAlchemy emits BEGIN itself, so SAVEPOINTs and
transactional DDL work as on PostgreSQL. Transactions begin IMMEDIATE (see ``_on_begin``).
``synchronous`` stays SQLite's default for WAL, FULL: a committed disclosure survives a
power cut, not only a crash of the process. PostgreSQL gets pool pre-ping, so a
connection the server dropped is replaced rather than failing a request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 5000
# Key in a SQLite connection's ``info``: its transactions begin IMMEDIATE (``_on_begin``).
BEGINS_IMMEDIATE = "gateway_begins_immediate"


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


def _configure_sqlite(engine: Engine) -> None:
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

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, waiting up to the busy timeout. A
        # deferred transaction that reads and then writes (every audited read: facts,
        # then its disclosure) fails at once with "database is locked" when another
        # connection wrote in between, since SQLite cannot upgrade a stale snapshot; under
        # two gunicorn workers that turned concurrent reads into 503s. Writers are one at
        # a time on SQLite anyway; a read-only transaction now waits for a writer too.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(bind: Engine, **options: Any) -> sessionmaker[Session]:
    """Sessions for units of work; objects stay readable after commit."""
    options.setdefault("expire_on_commit", False)
    return sessionmaker(bind=bind, **options)
