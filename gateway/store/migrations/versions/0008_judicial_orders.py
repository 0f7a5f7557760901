"""Court orders and subpoenas for a student's records (AR 5125(e) item 8; Ed Code 49077).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"],
                                   name=op.f(f"fk_judicial_orders_{column}_{table}"))


def upgrade() -> None:
    op.create_table(
        "judicial_orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Enum("court_order", "subpoena", name="judicial_order_kind",
                                  native_enum=False, create_constraint=True, length=40),
                  nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("served_on", sa.Date(), nullable=False),
        sa.Column("records", sa.JSON(), nullable=True),  # NULL: every record
        sa.Column("court_instructs_no_notice", sa.Boolean(), server_default=sa.false(),
                  nullable=False),
        sa.Column("parent_notified_on", sa.Date(), nullable=True),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("entered_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("withdrawn_on IS NULL OR withdrawn_on >= served_on",
                           name=op.f("ck_judicial_orders_withdrawn_after_served")),
        _fk("student_id", "students"),
        _fk("recipient_id", "requesters"),
        _fk("entered_by_id", "requesters"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judicial_orders")),
    )
    op.create_index(op.f("ix_judicial_orders_student_id"), "judicial_orders", ["student_id"])
    op.create_index(op.f("ix_judicial_orders_recipient_id"), "judicial_orders",
                    ["recipient_id"])


def downgrade() -> None:
    op.drop_table("judicial_orders")
