"""The business key of a quarantined row, so that a later batch that has the key accepted resolves
it (govshare.exchange.ingest)

Revision ID: 20261130_quarantine_row_key
Revises: 20261130_grant_expired_from
Create Date: 2026-11-30 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261130_quarantine_row_key"
down_revision: str | None = "20261130_grant_expired_from"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows quarantined before this revision have no key: nothing resolves them automatically.
    op.add_column("quarantined_rows", sa.Column("row_key", sa.String(length=64), nullable=True))
    op.create_index("ix_quarantined_rows_key", "quarantined_rows", ["resource_id", "row_key"])


def downgrade() -> None:
    op.drop_index("ix_quarantined_rows_key", table_name="quarantined_rows")
    op.drop_column("quarantined_rows", "row_key")
