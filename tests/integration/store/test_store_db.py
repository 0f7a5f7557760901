"""Engines: each backend set up as the gateway needs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.pool import NullPool

from gateway.store.db import database_url, make_engine


def test_sqlite_enforces_foreign_keys_uses_wal_and_waits_when_busy(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        engine.dispose()


def test_sqlite_savepoints_really_roll_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            savepoint = conn.begin_nested()
            conn.execute(text("INSERT INTO t VALUES (2)"))
            savepoint.rollback()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM t")).scalars().all() == [1]
    finally:
        engine.dispose()


def test_the_test_database_is_reachable_with_its_backends_settings(db_engine: Engine) -> None:
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    if db_engine.dialect.name == "postgresql":
        assert db_engine.dialect.driver == "psycopg"


def test_a_pooled_postgresql_connection_the_server_dropped_is_replaced(
        empty_database_url: str) -> None:
    if not empty_database_url.startswith("postgresql"):
        pytest.skip("the ping is PostgreSQL's; SQLite has no server to drop a connection")
    engine = make_engine(empty_database_url, pool_size=1, max_overflow=0, ping_after_idle=0)
    killer = make_engine(empty_database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:  # the pool's one connection, then back in the pool
            dropped = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with killer.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"),
                                {"pid": dropped}).scalar_one()
        with engine.connect() as conn:  # pinged, found dropped, replaced
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != dropped
    finally:
        killer.dispose()
        engine.dispose()


def test_a_postgresql_connection_back_in_the_pool_moments_ago_is_not_pinged(
        empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not empty_database_url.startswith("postgresql"):
        pytest.skip("the ping is PostgreSQL's")
    engine = make_engine(empty_database_url, pool_size=1, max_overflow=0,
                         ping_after_idle=3600)
    pinged: list[object] = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping",
                        lambda connection: pinged.append(connection) or ping(connection))
    try:
        for _ in range(3):
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar_one() == 1
        assert pinged == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("given, expected", [
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///var/gateway.db", "sqlite:///var/gateway.db"),
])
def test_a_postgresql_url_means_psycopg_3(given: str, expected: str) -> None:
    assert database_url(given).render_as_string() == expected


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError):
        database_url("mysql://u@h/db")
