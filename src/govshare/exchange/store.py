"""The exchange store: one table per 库表 resource, its columns from the catalog items.

Tables live in the platform database, so that a batch, its quarantined rows, its manifest and its
audit event commit together or not at all (on PostgreSQL in the schema `exchange`; on SQLite as
`xres_<id>` tables). Each table has the items' columns, typed after the guide's type codes, plus
system columns for provenance:

- `_key`: SM3 of the business-key values, unique: what upsert, delete and snapshot match on;
- `_batch_id`, `_system_id`, `_received_at`: the batch that last wrote the row, its source, when;
- `_row_hash`: SM3 of the row's canonical content (an unchanged row is not rewritten);
- `_seen_batch_id`: the last snapshot that contained the row;
- `_retired_at`, `_retired_batch_id`: when a snapshot or a delete retired it (rows are never lost).

A new catalog version that adds items adds columns; items that disappear keep their columns and
data (`ensure_table` never drops anything).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    inspect,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

SCHEMA_PG = "exchange"
SQLITE_PREFIX = "xres_"

SYSTEM_COLUMNS = (
    "_key",
    "_batch_id",
    "_system_id",
    "_received_at",
    "_row_hash",
    "_seen_batch_id",
    "_retired_at",
    "_retired_batch_id",
)


def column_type(data_type: str, length: int | None) -> TypeEngine[Any]:
    """SQL type of an item, after the guide's type codes."""
    match data_type:
        case "C":
            return String(length) if length else Text()
        case "N":
            return Numeric(38, 10)
        case "Y":
            return Numeric(20, 2)
        case "D":
            return Date()
        case "T":
            return DateTime()
        case "L":
            return Boolean()
        case "I":
            return BigInteger()
        case "B" | "F":
            return Float(53)
        case _:  # M 备注, G 通用
            return Text()


def _location(db: Session, resource_id: int) -> tuple[str, str | None]:
    if db.get_bind().dialect.name == "postgresql":
        return f"res_{resource_id}", SCHEMA_PG
    return f"{SQLITE_PREFIX}{resource_id}", None


def table_for(db: Session, resource_id: int, items: list[dict[str, Any]]) -> Table:
    """The Table object of a resource's store for `items` (not created here; see `ensure_table`)."""
    name, schema = _location(db, resource_id)
    metadata = MetaData()
    columns: list[Column[Any]] = [
        Column("_key", String(64), primary_key=True),
        Column("_batch_id", String(36), nullable=False),
        Column("_system_id", Integer),
        Column("_received_at", DateTime(timezone=True), nullable=False),
        Column("_row_hash", String(64), nullable=False),
        Column("_seen_batch_id", String(36)),
        Column("_retired_at", DateTime(timezone=True)),
        Column("_retired_batch_id", String(36)),
    ]
    columns += [Column(i["name"], column_type(i["data_type"], i.get("length"))) for i in items]
    return Table(name, metadata, *columns, schema=schema)


def ensure_table(db: Session, resource_id: int, items: list[dict[str, Any]]) -> Table:
    """Create the resource's table, or add the columns of items it does not have yet."""
    table = table_for(db, resource_id, items)
    connection = db.connection()
    if table.schema:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{table.schema}"'))
    inspector = inspect(connection)
    if not inspector.has_table(table.name, schema=table.schema):
        table.create(connection)
        return table
    existing = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
    preparer = connection.dialect.identifier_preparer
    for column in table.columns:
        if column.name in existing:
            continue
        ddl = column.type.compile(dialect=connection.dialect)
        connection.execute(
            text(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {preparer.quote(column.name)} {ddl}")
        )
    return table


def exists(db: Session, resource_id: int) -> bool:
    name, schema = _location(db, resource_id)
    return inspect(db.connection()).has_table(name, schema=schema)
