"""Challenges to a record (Ed Code 49070; AR 5125.3).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHALLENGE_STATUS = ("open", "sustained", "denied")


def _fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"],
                                   name=op.f(f"fk_record_challenges_{column}_{table}"))


def upgrade() -> None:
    op.create_table(
        "record_challenges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("challenger_id", sa.Uuid(), nullable=False),
        sa.Column("grounds", sa.JSON(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decide_by", sa.Date(), nullable=False),
        sa.Column("status", sa.Enum(*CHALLENGE_STATUS, name="challenge_status",
                                    native_enum=False, create_constraint=True, length=40),
                  nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "(status = 'open' AND decided_at IS NULL AND decided_by_id IS NULL) OR "
            "(status <> 'open' AND decided_at IS NOT NULL AND decided_by_id IS NOT NULL "
            "AND decision_note <> '')",
            name=op.f("ck_record_challenges_decided_at_by_and_why")),
        _fk("student_id", "students"),
        _fk("record_id", "student_records"),
        _fk("challenger_id", "requesters"),
        _fk("decided_by_id", "requesters"),
        _fk("hold_id", "retention_holds"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_challenges")),
    )
    op.create_index(op.f("ix_record_challenges_student_id"), "record_challenges",
                    ["student_id"])
    op.create_index(op.f("ix_record_challenges_record_id"), "record_challenges",
                    ["record_id"])


def downgrade() -> None:
    op.drop_table("record_challenges")
