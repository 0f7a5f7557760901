"""Migrations: the migrated schema is the models' schema, on both backends."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from gateway.store import migrate
from gateway.store.db import make_engine
from gateway.store.models import Base


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, Base.metadata))


def test_the_migrated_schema_matches_the_models(db_engine: Engine) -> None:
    assert schema_differences(db_engine) == []


def test_upgrade_and_current_from_code(empty_database_url: str) -> None:
    assert migrate.current(empty_database_url) is None
    migrate.upgrade(empty_database_url)
    assert migrate.current(empty_database_url) == migrate.head()
    migrate.upgrade(empty_database_url)  # again: nothing to do
    assert migrate.current(empty_database_url) == migrate.head()


def test_downgrade_to_base_removes_every_table_and_upgrade_restores_them(
        empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    migrate.downgrade(empty_database_url, "base")
    assert migrate.current(empty_database_url) is None
    engine = make_engine(empty_database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(empty_database_url)
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_replicas_migrating_at_once_take_turns(empty_database_url: str) -> None:
    if not empty_database_url.startswith("postgresql"):
        pytest.skip("SQLite is one process's embedded database")
    # Processes, as replicas are: Alembic's context is one per process, not per thread.
    program = "import sys; from gateway.store import migrate; migrate.upgrade(sys.argv[1])"
    replicas = [subprocess.Popen([sys.executable, "-c", program, empty_database_url])
                for _ in range(3)]
    try:
        assert [replica.wait(timeout=120) for replica in replicas] == [0, 0, 0]
    finally:
        for replica in replicas:
            replica.kill()
    assert migrate.current(empty_database_url) == migrate.head()
