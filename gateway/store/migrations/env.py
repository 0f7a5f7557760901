"""Alembic environment: online migrations only, against the URL gateway.store.migrate gives.

SQLite alters tables by copying them (``render_as_batch``). Foreign keys are switched
off while it does, as SQLite advises, and checked once the migration is done. On
PostgreSQL an advisory lock serializes migrations started at the same time.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from gateway.store.db import make_engine
from gateway.store.models import Base

target_metadata = Base.metadata
MIGRATION_LOCK = 0x5245434F524453  # "RECORDS": the advisory lock migrations hold


def _pragma(connection: Connection, statement: str) -> None:
    # On the driver's connection: through SQLAlchemy it would begin a transaction, and
    # SQLite ignores this pragma inside one.
    connection.connection.driver_connection.execute(statement)  # type: ignore[union-attr]


def _migrate(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _pragma(connection, "PRAGMA foreign_keys = OFF")
    try:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=sqlite, compare_type=True)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Replicas starting together migrate one after the other.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": MIGRATION_LOCK})
            context.run_migrations()
            if sqlite:
                broken = connection.execute(text("PRAGMA foreign_key_check")).first()
                if broken is not None:
                    raise RuntimeError(f"the migration broke a foreign key of {broken[0]}")
    finally:
        if sqlite:
            _pragma(connection, "PRAGMA foreign_keys = ON")


def run_migrations_online() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        _migrate(given)
        return
    url = context.config.attributes.get("database_url") \
        or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: call gateway.store.migrate.upgrade(url)")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _migrate(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()
