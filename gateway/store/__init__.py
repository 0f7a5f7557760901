"""The store: what the district holds about students and requesters, in the regulation's words.

SQLAlchemy 2 models (``models``), envelope encryption of record content (``crypto``),
engine and sessions (``db``), repositories and a unit of work (``repositories``, ``uow``),
key rotation (``rotation``) and Alembic migrations (``migrate``). Runs on SQLite (the
embedded default) and PostgreSQL (psycopg 3). The database never holds a record's
plaintext.
"""
