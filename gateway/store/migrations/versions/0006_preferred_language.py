"""A person's language in the portal, kept on their account.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("requesters") as batch:
        batch.add_column(sa.Column("preferred_language", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requesters") as batch:
        batch.drop_column("preferred_language")
