"""The migrations produce exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from govshare.model_registry import include_object, load_models


def test_models_and_migrations_agree(engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        diff = compare_metadata(context, load_models())
    assert diff == [], f"run `alembic revision --autogenerate`; differences: {diff}"


def test_audit_chain_starts_at_genesis(engine) -> None:
    from sqlalchemy import text

    from govshare.audit.service import GENESIS_HASH

    with engine.connect() as connection:
        row = connection.execute(text("SELECT last_seq, last_hash FROM audit_head WHERE id = 1")).one()
    assert row.last_hash == GENESIS_HASH or row.last_seq > 0
