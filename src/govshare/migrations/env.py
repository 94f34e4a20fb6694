from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from govshare.db import get_engine
from govshare.model_registry import include_object, load_models

target_metadata = load_models()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    with get_engine().connect() as conn:
        _run(conn)
