"""A student's own login tied to the student (adult students in the portal and API).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("requesters") as batch:
        batch.add_column(sa.Column("student_id", sa.Uuid(), nullable=True))
        batch.create_unique_constraint(op.f("uq_requesters_student_id"), ["student_id"])
        batch.create_foreign_key(op.f("fk_requesters_student_id_students"), "students",
                                 ["student_id"], ["id"])
        batch.create_check_constraint(
            op.f("ck_requesters_only_a_student_is_a_student"),
            "student_id IS NULL OR category = 'student'")


def downgrade() -> None:
    with op.batch_alter_table("requesters") as batch:
        batch.drop_constraint(op.f("ck_requesters_only_a_student_is_a_student"), type_="check")
        batch.drop_constraint(op.f("fk_requesters_student_id_students"), type_="foreignkey")
        batch.drop_constraint(op.f("uq_requesters_student_id"), type_="unique")
        batch.drop_column("student_id")
