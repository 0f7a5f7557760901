"""The access log: entries, the Merkle tree's nodes and head, checkpoints, content keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Hand-written, portable types only. Besides the tables:

- triggers, on SQLite and PostgreSQL, that refuse UPDATE and DELETE of entries, nodes
  and checkpoints (and TRUNCATE on PostgreSQL); the head row may only move forward; a
  destroyed content key stays destroyed;
- on PostgreSQL, the NOLOGIN role ``records_gateway_service`` the service runs as
  (docs/audit-log.md): it may read and append the log but not rewrite it;
- the ``disclosures`` table of 0001 goes: the access log is the record of disclosures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERVICE_ROLE = "records_gateway_service"
EVENT = ("disclosure", "denial", "pending", "access_log_view", "consent_given",
         "consent_revoked", "directory_restriction", "challenge", "record_added",
         "destruction_certificate", "key_destroyed", "checkpoint")
# Tables nobody may rewrite: their rows are only ever inserted.
APPEND_ONLY = ("access_log_entries", "access_log_nodes", "access_log_checkpoints")
# The 0001 tables the service reads and writes as before.
SERVICE_TABLES = ("requesters", "students", "agreements", "consents", "guardianships",
                  "student_records", "obligation_tasks")
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162: the root of the empty tree


def _timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "access_log_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        _timestamp("time"),
        sa.Column("event", sa.Enum(*EVENT, name="access_log_event", native_enum=False,
                                   create_constraint=True, length=40), nullable=False),
        sa.Column("requester_category", sa.String(40), nullable=True),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("clause", sa.String(100), nullable=True),
        sa.Column("student_id", sa.Uuid(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("requester_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint("seq >= 0", name=op.f("ck_access_log_entries_seq_not_negative")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_access_log_entries")),
    )
    op.create_index(op.f("ix_access_log_entries_time"), "access_log_entries", ["time"])
    op.create_index(op.f("ix_access_log_entries_request_id"), "access_log_entries",
                    ["request_id"])
    op.create_index(op.f("ix_access_log_entries_student_id_seq"), "access_log_entries",
                    ["student_id", "seq"])
    op.create_index(op.f("ix_access_log_entries_requester_id_seq"), "access_log_entries",
                    ["requester_id", "seq"])
    op.create_table(
        "access_log_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("level", "index", name=op.f("pk_access_log_nodes")),
    )
    head = op.create_table(
        "access_log_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("last_leaf_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("edge", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_access_log_head_one_row")),
        sa.CheckConstraint("size >= 0", name=op.f("ck_access_log_head_size_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log_head")),
    )
    # The head exists from the start, so every writer has a row to lock.
    op.bulk_insert(head, [{"id": 1, "size": 0, "root": EMPTY_ROOT, "last_leaf_hash": None,
                           "edge": b""}])
    op.create_table(
        "access_log_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("key_name", sa.String(200), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_access_log_checkpoints")),
    )
    op.create_table(
        "access_log_content_keys",
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(64), nullable=True),
        sa.Column("kek_id", sa.String(64), nullable=True),
        _timestamp("created_at"),
        _timestamp("destroyed_at", nullable=True),
        sa.CheckConstraint(
            "(destroyed_at IS NULL AND wrapped_key IS NOT NULL AND kek_id IS NOT NULL) OR "
            "(destroyed_at IS NOT NULL AND wrapped_key IS NULL AND kek_id IS NULL)",
            name=op.f("ck_access_log_content_keys_wrapped_or_destroyed")),
        sa.PrimaryKeyConstraint("student_id", name=op.f("pk_access_log_content_keys")),
    )
    op.create_index(op.f("ix_access_log_content_keys_kek_id"), "access_log_content_keys",
                    ["kek_id"])
    op.drop_table("disclosures")  # its indexes go with it

    if op.get_bind().dialect.name == "postgresql":
        _postgresql_guards()
    else:
        _sqlite_guards()


def _sqlite_guards() -> None:
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            refused = f"the access log is append-only: {action} of {table} is refused"
            op.execute(f"""
                CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table}
                BEGIN SELECT RAISE(ABORT, '{refused}'); END""")
    op.execute("""
        CREATE TRIGGER access_log_head_forward BEFORE UPDATE ON access_log_head
        WHEN NEW.id <> OLD.id OR NEW.size <= OLD.size
        BEGIN SELECT RAISE(ABORT, 'the access log head only moves forward'); END""")
    op.execute("""
        CREATE TRIGGER access_log_head_no_delete BEFORE DELETE ON access_log_head
        BEGIN SELECT RAISE(ABORT, 'the access log head only moves forward'); END""")
    op.execute("""
        CREATE TRIGGER access_log_content_keys_stay_destroyed
        BEFORE UPDATE ON access_log_content_keys
        WHEN OLD.destroyed_at IS NOT NULL OR NEW.student_id <> OLD.student_id
        BEGIN SELECT RAISE(ABORT, 'a destroyed content key stays destroyed'); END""")
    op.execute("""
        CREATE TRIGGER access_log_content_keys_no_delete
        BEFORE DELETE ON access_log_content_keys
        BEGIN SELECT RAISE(ABORT, 'content keys are destroyed, not deleted'); END""")


def _postgresql_guards() -> None:
    op.execute("""
        CREATE FUNCTION access_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the access log is append-only: % of % is refused',
                TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END $$""")
    for table in APPEND_ONLY:
        op.execute(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION access_log_refuse()""")
        op.execute(f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION access_log_refuse()""")
    op.execute("""
        CREATE FUNCTION access_log_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'UPDATE' OR NEW.id <> OLD.id OR NEW.size <= OLD.size THEN
                RAISE EXCEPTION 'the access log head only moves forward'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$""")
    op.execute("""
        CREATE TRIGGER access_log_head_forward BEFORE UPDATE OR DELETE ON access_log_head
        FOR EACH ROW EXECUTE FUNCTION access_log_head_forward()""")
    op.execute("""
        CREATE TRIGGER access_log_head_no_truncate BEFORE TRUNCATE ON access_log_head
        FOR EACH STATEMENT EXECUTE FUNCTION access_log_refuse()""")
    op.execute("""
        CREATE FUNCTION access_log_key_stays_destroyed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'UPDATE' OR OLD.destroyed_at IS NOT NULL
                    OR NEW.student_id <> OLD.student_id THEN
                RAISE EXCEPTION 'a destroyed content key stays destroyed, and none is deleted'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$""")
    op.execute("""
        CREATE TRIGGER access_log_content_keys_stay_destroyed
        BEFORE UPDATE OR DELETE ON access_log_content_keys
        FOR EACH ROW EXECUTE FUNCTION access_log_key_stays_destroyed()""")

    # The role the service runs as (a district grants it to its login user). The role is
    # the cluster's, shared by its databases: create it once, whoever comes first.
    op.execute(f"""
        DO $$ BEGIN
            CREATE ROLE {SERVICE_ROLE} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$""")
    op.execute(f"GRANT SELECT, INSERT ON {', '.join(APPEND_ONLY)} TO {SERVICE_ROLE}")
    op.execute(f"GRANT SELECT, UPDATE ON access_log_head TO {SERVICE_ROLE}")
    # Destroying a key is an UPDATE of its row; the trigger keeps it destroyed.
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON access_log_content_keys TO {SERVICE_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(SERVICE_TABLES)} "
               f"TO {SERVICE_ROLE}")
    op.execute(f"GRANT SELECT ON alembic_version TO {SERVICE_ROLE}")
    # Tables later migrations create (as this same owner) are the service's to use;
    # a later migration revokes what its own append-only tables must not allow.
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, "
               f"DELETE ON TABLES TO {SERVICE_ROLE}")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES "
               f"TO {SERVICE_ROLE}")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES "
                   f"FROM {SERVICE_ROLE}")
        op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES "
                   f"FROM {SERVICE_ROLE}")
        op.execute(f"REVOKE ALL ON {', '.join(SERVICE_TABLES)}, alembic_version "
                   f"FROM {SERVICE_ROLE}")
    # Triggers go with their tables (SQLite and PostgreSQL alike).
    for table in ("access_log_content_keys", "access_log_checkpoints", "access_log_head",
                  "access_log_nodes", "access_log_entries"):
        op.drop_table(table)
    if postgresql:
        for function in ("access_log_refuse", "access_log_head_forward",
                         "access_log_key_stays_destroyed"):
            op.execute(f"DROP FUNCTION {function}()")
        # Other databases of the cluster may still grant to the role: then it stays.
        op.execute(f"""
            DO $$ BEGIN
                DROP ROLE IF EXISTS {SERVICE_ROLE};
            EXCEPTION WHEN dependent_objects_still_exist THEN NULL;
            END $$""")
    op.create_table(
        "disclosures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=True),
        sa.Column("clause", sa.String(100), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legitimate_educational_interest", sa.Text(), nullable=False),
        _timestamp("disclosed_at"),
        sa.ForeignKeyConstraint(["record_id"], ["student_records.id"],
                                name=op.f("fk_disclosures_record_id_student_records")),
        sa.ForeignKeyConstraint(["requester_id"], ["requesters.id"],
                                name=op.f("fk_disclosures_requester_id_requesters")),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"],
                                name=op.f("fk_disclosures_student_id_students")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosures")),
    )
    op.create_index(op.f("ix_disclosures_request_id"), "disclosures", ["request_id"])
    op.create_index(op.f("ix_disclosures_student_id"), "disclosures", ["student_id"])
