"""Alembic migrations of the store (see gateway.store.migrate)."""
