"""The audit inbox: events written by data calls, waiting to be chained (govshare.audit.service,
`link_inbox`)

Revision ID: 20261129_audit_inbox
Revises: 20261129_cache_generation
Create Date: 2026-11-29 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.db

revision: str = "20261129_audit_inbox"
down_revision: str | None = "20261129_cache_generation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", govshare.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=128), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("object_type", sa.String(length=64), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_inbox")),
    )


def downgrade() -> None:
    op.drop_table("audit_inbox")
