"""The generation value of the tables that decide a data call, and the triggers that renew it
(govshare.generation: per-process caches of tokens and reading plans are valid while it stands)

Revision ID: 20261129_cache_generation
Revises: 20261128_analysis
Create Date: 2026-11-27 17:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from govshare.generation import create_ddl, drop_ddl

revision: str = "20261129_cache_generation"
down_revision: str | None = "20261128_analysis"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As it stood at this revision; a later change to govshare.generation.WATCHED comes with its own.
WATCHED: dict[str, tuple[str, ...] | None] = {
    "organisations": None,
    "business_systems": None,
    "system_tokens": ("system_id", "token_hash", "expires_at", "revoked_at", "revoke_reason"),
    "catalog_classes": None,
    "resources": None,
    "resource_versions": None,
    "classification_levels": None,
    "masking_profiles": None,
    "data_keys": None,
    "grants": None,
}


def upgrade() -> None:
    for statement in create_ddl(op.get_bind().dialect.name, WATCHED):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_ddl(op.get_bind().dialect.name, WATCHED):
        op.execute(statement)
