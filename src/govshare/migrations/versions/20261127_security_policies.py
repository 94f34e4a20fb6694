"""Security policy register (S5, S6, S8)

Revision ID: 20261127_security_policies
Revises: 20261127_destruction
Create Date: 2026-11-27 12:41:39.658064
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.db

revision: str = "20261127_security_policies"
down_revision: str | None = "20261127_destruction"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "security_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("review_months", sa.Integer(), nullable=False),
        sa.Column("next_review_on", sa.Date(), nullable=False),
        sa.Column("reminded_for", sa.Date(), nullable=True),
        sa.Column("last_reviewed_on", sa.Date(), nullable=True),
        sa.Column("last_reviewed_by", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", govshare.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", govshare.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", govshare.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retired_by", sa.Integer(), nullable=True),
        sa.Column("retire_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_security_policies_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["last_reviewed_by"], ["users.id"], name=op.f("fk_security_policies_last_reviewed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_security_policies_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["retired_by"], ["users.id"], name=op.f("fk_security_policies_retired_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_policies")),
    )
    with op.batch_alter_table("security_policies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_policies_next_review_on"), ["next_review_on"], unique=False
        )
        batch_op.create_index("ix_security_policies_org", ["org_id", "status"], unique=False)

    op.create_table(
        "security_policy_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("review_months", sa.Integer(), nullable=False),
        sa.Column("change_note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", govshare.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_security_policy_versions_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["security_policies.id"],
            name=op.f("fk_security_policy_versions_policy_id_security_policies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_policy_versions")),
        sa.UniqueConstraint("policy_id", "version", name="uq_security_policy_versions_version"),
    )


def downgrade() -> None:
    op.drop_table("security_policy_versions")
    with op.batch_alter_table("security_policies", schema=None) as batch_op:
        batch_op.drop_index("ix_security_policies_org")
        batch_op.drop_index(batch_op.f("ix_security_policies_next_review_on"))

    op.drop_table("security_policies")
