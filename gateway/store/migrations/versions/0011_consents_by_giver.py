"""An index for a parent's consents, newest first (the portal's consents page).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_consents_given_by_id_created_at", "consents",
                    ["given_by_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_consents_given_by_id_created_at", table_name="consents")
