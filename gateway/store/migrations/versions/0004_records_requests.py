"""Requests to inspect, review or copy records (Ed Code 49065, 49069).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

Hand-written; portable types only, enumerations as literal values with their CHECK
constraints, as in 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REQUEST_KIND = ("inspect", "copies", "transcript", "verification")
REQUEST_STATUS = ("open", "fulfilled", "denied")


def _enum(name: str, values: Sequence[str]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=40)


def _fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"],
                                   name=op.f(f"fk_records_requests_{column}_{table}"))


def upgrade() -> None:
    op.create_table(
        "records_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column("kind", _enum("request_kind", REQUEST_KIND), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", _enum("request_status", REQUEST_STATUS), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("denial_reason", sa.Text(), nullable=False),
        sa.Column("custodian_note", sa.Text(), nullable=False),
        sa.Column("record_ids", sa.JSON(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("fee_cents", sa.Integer(), nullable=True),
        sa.Column("fee_basis", sa.Text(), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=True),
        sa.Column("consent_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "(status = 'open' AND decided_at IS NULL AND decided_by_id IS NULL) OR "
            "(status <> 'open' AND decided_at IS NOT NULL AND decided_by_id IS NOT NULL)",
            name=op.f("ck_records_requests_decided_at_and_by")),
        sa.CheckConstraint("status <> 'denied' OR denial_reason <> ''",
                           name=op.f("ck_records_requests_denial_has_a_reason")),
        sa.CheckConstraint("fee_cents IS NULL OR fee_cents >= 0",
                           name=op.f("ck_records_requests_fee_not_negative")),
        _fk("student_id", "students"),
        _fk("requester_id", "requesters"),
        _fk("decided_by_id", "requesters"),
        _fk("hold_id", "retention_holds"),
        _fk("consent_id", "consents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_requests")),
    )
    op.create_index(op.f("ix_records_requests_student_id"), "records_requests",
                    ["student_id"])
    op.create_index(op.f("ix_records_requests_requester_id"), "records_requests",
                    ["requester_id"])
    op.create_index("ix_records_requests_status_due_on", "records_requests",
                    ["status", "due_on"])


def downgrade() -> None:
    op.drop_table("records_requests")
