"""Database fixtures for tests on SQLite and PostgreSQL, reusable by any test directory.

Use them from another directory's conftest.py with
``from tests.integration.store.fixtures import *  # noqa: F403``.

- ``database_url``: a migrated database, once per backend per session (parametrized:
  ``sqlite`` is a temporary file, ``postgresql`` a database with a random name created
  on the server, dropped at the end, so parallel runs do not collide).
- ``db_engine``: its engine. ``connection``: one connection per test, inside an outer
  transaction rolled back after the test.
- ``session_factory``/``db_session``: sessions on that connection that turn their own
  commits into SAVEPOINTs (warehouse's pattern), so code under test commits for real
  and still leaves nothing behind.
- ``keys``: a fresh key-encryption key. ``unit_of_work``: makes UnitOfWorks on all that.
- ``empty_database_url``: a fresh, unmigrated database of the same backend.

The PostgreSQL server is ``GATEWAY_TEST_POSTGRES_URL`` (default the trust-auth server on
127.0.0.1:5432, database ``postgres``). If it cannot be reached the PostgreSQL tests are
skipped, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from gateway.store import migrate
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.db import database_url as normalized_url
from gateway.store.db import make_engine
from gateway.store.uow import UnitOfWork

POSTGRES_URL_VARIABLE = "GATEWAY_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = [pytest.param("sqlite", id="sqlite"),
            pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)]

__all__ = [
    "connection",
    "database_url",
    "databases",
    "db_engine",
    "db_session",
    "empty_database_url",
    "keys",
    "postgres_server_url",
    "session_factory",
    "unit_of_work",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def skip_postgres(reason: str) -> None:
    """Skip, or under CI=true fail: CI must not pass without having run on PostgreSQL."""
    if in_ci():
        pytest.fail(f"{reason} (under CI=true a skipped PostgreSQL test is a failure)",
                    pytrace=False)
    pytest.skip(reason)


class Databases:
    """Creates throwaway databases and drops (or deletes) them at the end of the session."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._postgres: list[tuple[URL, str]] = []  # (server, database) to drop

    def create(self, request: pytest.FixtureRequest, backend: str) -> str:
        """A new empty database; PostgreSQL ones need ``postgres_server_url``."""
        name = f"gateway_test_{uuid.uuid4().hex[:12]}"
        if backend == "sqlite":
            return f"sqlite:///{self._directory / name}.sqlite"
        server: URL = request.getfixturevalue("postgres_server_url")
        _execute(server, f'CREATE DATABASE "{name}"')
        self._postgres.append((server, name))
        return server.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        while self._postgres:
            server, name = self._postgres.pop()
            _execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _execute(server: URL, statement: str) -> None:
    engine = make_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_server_url() -> URL:
    """The PostgreSQL server to create test databases on; skips if it cannot be reached."""
    url = normalized_url(os.environ.get(POSTGRES_URL_VARIABLE) or DEFAULT_POSTGRES_URL)
    if url.get_backend_name() != "postgresql":
        pytest.fail(f"{POSTGRES_URL_VARIABLE} must be a postgresql:// URL", pytrace=False)
    if not url.database:
        url = url.set(database="postgres")
    engine = make_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError:
        skip_postgres(f"PostgreSQL at {url.render_as_string(hide_password=True)} "
                      "cannot be reached")
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    made = Databases(tmp_path_factory.mktemp("databases"))
    yield made
    made.drop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, databases: Databases) -> str:
    """A database migrated to head: one per backend for the whole session."""
    url = databases.create(request, request.param)
    migrate.upgrade(url)
    return url


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, database_url: str,
                       databases: Databases) -> str:
    """A fresh database, never migrated, on the backend of ``database_url``."""
    return databases.create(request, normalized_url(database_url).get_backend_name())


@pytest.fixture(scope="session")
def db_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(db_engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with db_engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            if outer.is_active:
                outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    """Sessions whose commits are SAVEPOINT releases inside the test's transaction."""
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                        expire_on_commit=False)


@pytest.fixture
def db_session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def keys() -> KeyEncryptionKeys:
    return KeyEncryptionKeys.generate("test-kek-1")


@pytest.fixture
def unit_of_work(session_factory: sessionmaker[Session],
                 keys: KeyEncryptionKeys) -> Callable[[], UnitOfWork]:
    """``with unit_of_work() as uow: ...; uow.commit()``, as a service would."""
    return lambda: UnitOfWork(session_factory, keys)
