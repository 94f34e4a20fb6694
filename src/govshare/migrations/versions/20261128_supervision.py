"""Public reports (公示报告, M23): frozen figures with their PDF and CSV

Revision ID: 20261128_supervision
Revises: 20261127_security_policies
Create Date: 2026-11-27 14:23:24.958127
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.db

revision: str = "20261128_supervision"
down_revision: str | None = "20261127_security_policies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "public_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_sm3", sa.String(length=64), nullable=False),
        sa.Column("csv", sa.LargeBinary(), nullable=False),
        sa.Column("csv_sm3", sa.String(length=64), nullable=False),
        sa.Column("generated_at", govshare.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("generated_by", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["generated_by"], ["users.id"], name=op.f("fk_public_reports_generated_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_reports")),
        sa.UniqueConstraint("kind", "period", name=op.f("uq_public_reports_kind")),
    )


def downgrade() -> None:
    op.drop_table("public_reports")
