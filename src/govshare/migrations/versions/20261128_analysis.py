"""Analysis (S24): queries with their checks and provenance, releases, derived datasets

Revision ID: 20261128_analysis
Revises: 20261128_opendata
Create Date: 2026-11-27 14:41:05.307668
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.db

revision: str = "20261128_analysis"
down_revision: str | None = "20261128_opendata"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analysis_queries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("shape", sa.JSON(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("releasable", sa.Boolean(), nullable=False),
        sa.Column("created_at", govshare.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_analysis_queries_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_analysis_queries_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_queries")),
    )
    with op.batch_alter_table("analysis_queries", schema=None) as batch_op:
        batch_op.create_index("ix_analysis_queries_org", ["org_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_analysis_queries_user_id"), ["user_id"], unique=False)

    op.create_table(
        "analysis_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("released_by", sa.Integer(), nullable=True),
        sa.Column("at", govshare.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_analysis_releases_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["query_id"], ["analysis_queries.id"], name=op.f("fk_analysis_releases_query_id_analysis_queries")
        ),
        sa.ForeignKeyConstraint(
            ["released_by"], ["users.id"], name=op.f("fk_analysis_releases_released_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_releases")),
    )
    with op.batch_alter_table("analysis_releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analysis_releases_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_analysis_releases_query_id"), ["query_id"], unique=False)

    op.create_table(
        "derived_datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", govshare.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_derived_datasets_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_derived_datasets_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["query_id"], ["analysis_queries.id"], name=op.f("fk_derived_datasets_query_id_analysis_queries")
        ),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["analysis_releases.id"],
            name=op.f("fk_derived_datasets_release_id_analysis_releases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_derived_datasets")),
    )
    with op.batch_alter_table("derived_datasets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_derived_datasets_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("derived_datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_derived_datasets_org_id"))

    op.drop_table("derived_datasets")
    with op.batch_alter_table("analysis_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_releases_query_id"))
        batch_op.drop_index(batch_op.f("ix_analysis_releases_org_id"))

    op.drop_table("analysis_releases")
    with op.batch_alter_table("analysis_queries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_queries_user_id"))
        batch_op.drop_index("ix_analysis_queries_org")

    op.drop_table("analysis_queries")
