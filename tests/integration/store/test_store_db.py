"""Engines: each backend set up as the gateway needs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

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
        assert db_engine.pool._pre_ping
        assert db_engine.dialect.driver == "psycopg"


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
