"""Classification and grading (分类分级, S13): the Bureau's level scheme, seeded with
`govshare.classification.scheme.DEFAULTS`, and each catalog entry's level (the highest importance
and sensitivity of its items, backfilled from the version people see).

Revision ID: 20261127_classification
Revises: 20261127_alerts_incidents
Create Date: 2026-11-27 11:33:01.964112
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import govshare.db
from govshare.classification.scheme import CONTROLS, DEFAULTS, highest

revision: str = "20261127_classification"
down_revision: str | None = "20261127_alerts_incidents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    levels = op.create_table(
        "classification_levels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("shareable", sa.Boolean(), nullable=False),
        sa.Column("unconditional", sa.Boolean(), nullable=False),
        sa.Column("masking", sa.Boolean(), nullable=False),
        sa.Column("exportable", sa.Boolean(), nullable=False),
        sa.Column("openable", sa.Boolean(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("max_grant_days", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", govshare.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_classification_levels_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classification_levels")),
        sa.UniqueConstraint("dimension", "code", name=op.f("uq_classification_levels_dimension")),
    )
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("importance", sa.String(length=16), server_default="general", nullable=False)
        )
        batch_op.add_column(
            sa.Column("sensitivity", sa.String(length=4), server_default="L1", nullable=False)
        )
    now = datetime.now(UTC)
    op.bulk_insert(
        levels,
        [
            {
                "dimension": level.dimension,
                "code": level.code,
                "rank": level.rank,
                "label": level.label,
                "description": level.description,
                **{name: getattr(level.controls, name) for name in (*CONTROLS, "max_grant_days")},
                "updated_at": now,
                "version": 1,
            }
            for level in DEFAULTS
        ],
    )
    # Existing entries: their level from the items of the version people see.
    bind = op.get_bind()
    resources = sa.table(
        "resources",
        sa.column("id", sa.Integer()),
        sa.column("published_version_id", sa.Integer()),
        sa.column("working_version_id", sa.Integer()),
        sa.column("importance", sa.String()),
        sa.column("sensitivity", sa.String()),
    )
    versions = sa.table("resource_versions", sa.column("id", sa.Integer()), sa.column("items", sa.JSON()))
    for row in bind.execute(
        sa.select(resources.c.id, resources.c.published_version_id, resources.c.working_version_id)
    ).all():
        version_id = row.published_version_id or row.working_version_id
        if version_id is None:
            continue
        items = bind.execute(sa.select(versions.c["items"]).where(versions.c.id == version_id)).scalar()
        importance, sensitivity = highest(items or [])
        bind.execute(
            resources.update()
            .where(resources.c.id == row.id)
            .values(importance=importance, sensitivity=sensitivity)
        )


def downgrade() -> None:
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.drop_column("sensitivity")
        batch_op.drop_column("importance")
    op.drop_table("classification_levels")
