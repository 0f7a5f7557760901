"""The district's emergency determinations (Ed Code 49076; 34 CFR 99.36).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{table}.id"], name=op.f(f"fk_emergency_determinations_{column}_{table}"))


def upgrade() -> None:
    op.create_table(
        "emergency_determinations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("threat", sa.Text(), nullable=False),
        sa.Column("determined_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("entered_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_on >= determined_on",
                           name=op.f("ck_emergency_determinations_ends_after_determined")),
        _fk("student_id", "students"),
        _fk("recipient_id", "requesters"),
        _fk("entered_by_id", "requesters"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_determinations")),
    )
    op.create_index(op.f("ix_emergency_determinations_student_id"),
                    "emergency_determinations", ["student_id"])
    op.create_index(op.f("ix_emergency_determinations_recipient_id"),
                    "emergency_determinations", ["recipient_id"])


def downgrade() -> None:
    op.drop_table("emergency_determinations")
