"""What a grant was when it expired (active or suspended), so that a renewal does not lift a
suspension (govshare.sharing.service.change_grant)

Revision ID: 20261130_grant_expired_from
Revises: 20261129_audit_inbox
Create Date: 2026-11-30 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261130_grant_expired_from"
down_revision: str | None = "20261129_audit_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (not a batch operation): on SQLite a batch would copy the table and drop
    # the triggers that renew the cache generation (20261129_cache_generation).
    op.add_column("grants", sa.Column("expired_from", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("grants", "expired_from")
