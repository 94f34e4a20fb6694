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
data (`ensure_table` never drops anything). A version that changes an item's type (or a 字符型
length) migrates its column: the old column is renamed `<item>__old<k>` and keeps every value, a new
column of the new type takes the item's name, and each old value that parses under the new type
(`quality.converter`) is copied into it; the others stay only in the old column and are counted in
the `TypeChange` the caller records. SQLite cannot change a column's type, PostgreSQL could, but one
path for both keeps the old values visible on both.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from itertools import repeat
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
    bindparam,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator, TypeEngine

from govshare.crypto import sm3_hex
from govshare.encryption import cells
from govshare.exchange.quality import Parse, Refused, as_text, converter

SCHEMA_PG = "exchange"
SQLITE_PREFIX = "xres_"

MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names silently
CONVERT_CHUNK = 1000

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


def table_for(db: Session, resource_id: int, items: list[dict[str, Any]], *, writing: bool = False) -> Table:
    """The Table object of a resource's store for `items` (not created here; see `ensure_table`).
    Items kept encrypted get an `EncryptedText` column and their blind-index column; their keys
    are loaded for this process (and made, when `writing`, on the first write)."""
    name, schema = _location(db, resource_id)
    encrypted = cells.encrypted_items(db, items) if items else set()
    shape = tuple((i["name"], i["data_type"], i.get("length"), i["name"] in encrypted) for i in items)
    if any(e for *_, e in shape):
        cells.prepare(db, resource_id, create=writing)
    return _table(resource_id, name, schema, shape)


@functools.lru_cache(maxsize=256)
def _table(
    resource_id: int, name: str, schema: str | None, items: tuple[tuple[str, str, int | None, bool], ...]
) -> Table:
    """Built once per shape: the data API asks for the table on every call."""
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
    for item, data_type, length, encrypted in items:
        if encrypted:
            columns.append(Column(item, cells.EncryptedText(resource_id, item, data_type, length)))
            columns.append(Column(cells.blind_column(item), String(64)))
        else:
            columns.append(Column(item, column_type(data_type, length)))
    return Table(name, metadata, *columns, schema=schema)


def table_resource(table: Table) -> int:
    """The resource a store table belongs to (from its name: `xres_<id>` or `exchange.res_<id>`)."""
    return int(table.name.rsplit("_", 1)[1])


def is_encrypted(column: Column[Any]) -> bool:
    return isinstance(column.type, cells.EncryptedText)


def compared(table: Table, item: str, values: list[Any]) -> tuple[Column[Any], list[Any]]:
    """The column that `item` is compared on and the values to compare it with: for an item stored
    encrypted, its blind index and the values' blind indexes (equality only)."""
    column = table.c[item]
    if is_encrypted(column):
        resource_id = column.type.resource_id  # type: ignore[attr-defined]
        return table.c[cells.blind_column(item)], [cells.blind(resource_id, v) for v in values]
    return column, values


def equals(table: Table, item: str, values: list[Any]) -> Any:
    """`item IN values` — through the blind index when the item is stored encrypted."""
    column, compared_values = compared(table, item, values)
    return column.in_(compared_values)


@dataclass(frozen=True)
class TypeChange:
    """An item whose column changed type, and how its values were carried over."""

    item: str
    kept_in: str  # the renamed old column: it keeps every old value
    old_type: str  # SQL types, as the database declares them
    new_type: str
    values: int  # rows with a value in the old column (retired rows included)
    converted: int
    unconverted: int  # values that do not parse under the new type: only in `kept_in`

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ensure_table(
    db: Session, resource_id: int, items: list[dict[str, Any]]
) -> tuple[Table, list[TypeChange]]:
    """Create the resource's table, add the columns of items it does not have yet, and migrate the
    columns of items whose type changed (see the module's docstring); returns the table and the
    migrations done now (empty when none was needed)."""
    table = table_for(db, resource_id, items, writing=True)
    connection = db.connection()
    if table.schema:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{table.schema}"'))
    inspector = inspect(connection)
    if not inspector.has_table(table.name, schema=table.schema):
        table.create(connection)
        return table, []
    existing = {c["name"]: c["type"] for c in inspector.get_columns(table.name, schema=table.schema)}
    preparer = connection.dialect.identifier_preparer
    changes = []
    lengths = {i["name"]: i.get("length") for i in items}
    types = {i["name"]: i["data_type"] for i in items}
    for column in table.columns:
        if column.name in SYSTEM_COLUMNS or column.name.startswith(cells.BLIND_PREFIX):
            continue
        old_type = existing.get(column.name)
        encrypted = is_encrypted(column)
        blind = cells.blind_column(column.name)
        was_encrypted = blind in existing
        if (
            old_type is not None
            and _storage(old_type) == _storage(column.type)
            and encrypted == was_encrypted
        ):
            continue
        if old_type is not None:
            kept = _kept_name(column.name, set(existing) | set(types))
            drop_index(db, table, column.name)
            connection.execute(
                text(
                    f"ALTER TABLE {preparer.format_table(table)} RENAME COLUMN "
                    f"{preparer.quote(column.name)} TO {preparer.quote(kept)}"
                )
            )
            existing[kept] = old_type
        ddl = column.type.compile(dialect=connection.dialect)
        connection.execute(
            text(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {preparer.quote(column.name)} {ddl}")
        )
        if encrypted and not was_encrypted:
            connection.execute(
                text(
                    f"ALTER TABLE {preparer.format_table(table)} "
                    f"ADD COLUMN {preparer.quote(blind)} VARCHAR(64)"
                )
            )
        elif was_encrypted and not encrypted:
            # The item left the encrypted levels: its digests go; the ciphertext stays in the kept column.
            drop_index(db, table, blind)
            connection.execute(
                text(f"ALTER TABLE {preparer.format_table(table)} DROP COLUMN {preparer.quote(blind)}")
            )
        if old_type is not None:
            changes.append(
                _convert(
                    connection,
                    table,
                    column,
                    kept,
                    old_type,
                    converter(types[column.name], lengths[column.name]),
                    encrypted_from=resource_id if was_encrypted else None,
                    blind=blind if encrypted else None,
                )
            )
    return table, changes


def _storage(type_: TypeEngine[Any]) -> tuple[Any, ...]:
    """What a column stores, comparable between the type `column_type` declares and the type read back
    from the database (VARCHAR(18) and String(18), DOUBLE PRECISION and Float(53), …)."""
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    if isinstance(type_, Boolean):
        return ("boolean",)
    if isinstance(type_, Float):
        return ("float",)
    if isinstance(type_, Numeric):
        return ("numeric", type_.precision, type_.scale)
    if isinstance(type_, Integer):
        return ("integer",)
    if isinstance(type_, DateTime):
        return ("datetime",)
    if isinstance(type_, Date):
        return ("date",)
    if isinstance(type_, String):
        return ("text", type_.length)
    return ("other", type(type_).__name__)


def _kept_name(name: str, taken: set[str]) -> str:
    k = 1
    while True:
        suffix = f"__old{k}"
        candidate = name[: MAX_IDENTIFIER - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        k += 1


def _convert(
    connection: Connection,
    table: Table,
    column: Column[Any],
    kept: str,
    old_type: TypeEngine[Any],
    parse: Parse,
    *,
    encrypted_from: int | None = None,
    blind: str | None = None,
) -> TypeChange:
    """Copy the old column's values that parse under the new type into the new column, by key order
    in chunks (memory stays flat in the number of rows).

    An item that becomes encrypted (`blind`: its blind-index column) is encrypted on the way, its
    digests written, and the plaintext it came from erased from the kept column; an item that was
    encrypted (`encrypted_from`: its resource) is decrypted from the kept column."""
    extra = [Column(blind, String(64))] if blind else []
    pair = Table(
        table.name,
        MetaData(),
        Column("_key", String(64), primary_key=True),
        Column(kept, old_type),
        Column(column.name, column.type),
        *extra,
        schema=table.schema,
    )
    source, target = pair.c[kept], pair.c[column.name]
    assignments: dict[str, Any] = {column.name: bindparam("v")}
    if blind:
        assignments |= {blind: bindparam("b"), kept: None}
    write = update(pair).where(pair.c._key == bindparam("k")).values(assignments)
    values = converted = 0
    for rows in by_key(connection, pair.c._key, source):
        done = []
        for key, value in rows:
            try:
                plain = (
                    cells.decrypt(encrypted_from, column.name, value)
                    if encrypted_from is not None
                    else as_text(value)
                )
                new = parse(plain.strip())
            except (Refused, ValueError):
                continue
            if _fits(column.type, new):
                done.append(
                    {"k": key, "v": new} | ({"b": cells.blind(table_resource(table), new)} if blind else {})
                )
        if done:
            connection.execute(write, done)
        values += len(rows)
        converted += len(done)
    dialect = connection.dialect
    return TypeChange(
        item=column.name,
        kept_in=kept,
        old_type=str(old_type.compile(dialect=dialect)),
        new_type=str(target.type.compile(dialect=dialect)),
        values=values,
        converted=converted,
        unconverted=values - converted,
    )


def by_key(connection: Connection | Session, key: Column[Any], column: Column[Any]) -> Iterator[list[Any]]:
    """The (key, value) rows of `column` that hold a value, in key order, a chunk at a time: memory
    stays flat in the number of rows, and updating the rows of a chunk does not disturb the walk."""
    last = ""
    while True:
        rows = list(
            connection.execute(
                select(key, column).where(column.is_not(None), key > last).order_by(key).limit(CONVERT_CHUNK)
            ).all()
        )
        if not rows:
            return
        last = rows[-1][0]
        yield rows


def _fits(type_: TypeEngine[Any], value: Any) -> bool:
    """Whether the column takes `value` without an overflow (which PostgreSQL refuses, failing the
    whole batch): a decimal's integer digits, a BIGINT's range."""
    if isinstance(type_, Numeric) and not isinstance(type_, Float) and type_.precision is not None:
        scale = type_.scale or 0
        return abs(round(Decimal(value), scale)) < Decimal(10) ** (type_.precision - scale)
    if isinstance(type_, Integer):
        return -(2**63) <= int(value) < 2**63
    return True


def index_name(table: Table, column: str, prefix: str = "ix") -> str:
    name = f"{prefix}_{table.name}_{column}"
    if len(name) > MAX_IDENTIFIER:
        name = f"{prefix}_{table.name}_{column[:30]}_{sm3_hex(column.encode())[:12]}"
    return name


QUERY_INDEX = "iq"  # prefix of the indexes of 查询项


def ensure_query_indexes(db: Session, table: Table, items: list[dict[str, Any]]) -> list[str]:
    """Index each 查询项 (an item the provider declared `queryable`) and drop the index of an item
    that no longer is one; returns the items indexed now.

    The index is on (item, `_key`) over live rows only: the data API's page, `item = v AND
    _retired_at IS NULL ORDER BY _key LIMIT n`, walks it in order and stops after n entries, where
    without it the database scans the table (PostgreSQL) or the key index (SQLite) for matches."""
    preparer = db.get_bind().dialect.identifier_preparer
    existing = {
        str(i["name"])
        for i in inspect(db.connection()).get_indexes(table.name, schema=table.schema)
        if str(i["name"]).startswith(f"{QUERY_INDEX}_")
    }
    columns = {c.name for c in table.columns}
    created = []
    for item in items:
        name = str(item["name"])
        if name in columns and is_encrypted(table.c[name]):
            name = cells.blind_column(name)  # an encrypted item is looked up by its digest
        wanted = bool(item.get("queryable")) and name in columns
        index = index_name(table, name, QUERY_INDEX)
        if wanted and index not in existing:
            db.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS {preparer.quote(index)} ON {preparer.format_table(table)} "
                    f"({preparer.quote(name)}, _key) WHERE _retired_at IS NULL"
                )
            )
            created.append(name)
        elif not wanted and index in existing:
            _drop(db, table, index)
    return created


def ensure_index(db: Session, table: Table, column: str) -> None:
    """Index `column` (for the `unique` rule, which looks values up in every chunk of a batch; an
    encrypted item's digests)."""
    if column in table.c and is_encrypted(table.c[column]):
        column = cells.blind_column(column)
    preparer = db.get_bind().dialect.identifier_preparer
    db.execute(
        text(
            f"CREATE INDEX IF NOT EXISTS {preparer.quote(index_name(table, column))} "
            f"ON {preparer.format_table(table)} ({preparer.quote(column)})"
        )
    )


def drop_index(db: Session, table: Table, column: str) -> None:
    """Drop the indexes of `column` (`ensure_index`'s and its 查询项 index), if any: a migrated
    column's index would follow it to its old name; ingest indexes the new column again."""
    for prefix in ("ix", QUERY_INDEX):
        _drop(db, table, index_name(table, column, prefix))


def analyze(db: Session, table: Table) -> None:
    """Refresh PostgreSQL's statistics of the table after a batch changed much of it. Without them
    the planner takes a freshly loaded table for a few rows and sorts a whole district of matches
    instead of walking the 查询项 index in key order. (SQLite's planner needs none to use it.)"""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text(f"ANALYZE {db.get_bind().dialect.identifier_preparer.format_table(table)}"))


def _drop(db: Session, table: Table, index: str) -> None:
    preparer = db.get_bind().dialect.identifier_preparer
    name = preparer.quote(index)
    qualified = f"{preparer.quote_schema(table.schema)}.{name}" if table.schema else name
    db.execute(text(f"DROP INDEX IF EXISTS {qualified}"))


def exists(db: Session, resource_id: int) -> bool:
    name, schema = _location(db, resource_id)
    return inspect(db.connection()).has_table(name, schema=schema)


def resources_with_tables(db: Session) -> set[int]:
    """The ids of every resource whose store table exists, in one look at the database's catalog."""
    name, schema = _location(db, 0)
    prefix = name[:-1]
    inspector = inspect(db.connection())
    if schema is not None and schema not in inspector.get_schema_names():
        return set()
    return {
        int(table[len(prefix) :])
        for table in inspector.get_table_names(schema=schema)
        if table.startswith(prefix) and table[len(prefix) :].isdecimal()
    }


class KeyClash(Exception):
    """A bulk insert met a row already stored under one of its keys. Rows before it may have been
    written: the caller rolls back to a savepoint taken before the insert."""


class BulkInsert:
    """Many new rows into a store table, in the caller's transaction, given column by column: the
    values of `columns`, one list each, and `constants` (column: value) that are the same for every
    row (a batch's provenance).

    On SQLite the INSERT is written once and the rows go to the driver's `executemany` as tuples: a
    column's values go through its type's bind processor (dates to text) in one list comprehension,
    the constants are processed once, and `zip` assembles the rows — SQLAlchemy's executemany does the
    same per row and per value, which cost ingest a third of its time. Elsewhere SQLAlchemy's
    executemany is used: on PostgreSQL its multi-row VALUES batching beats any driver executemany.
    A duplicate key raises `KeyClash` on both.
    """

    def __init__(self, db: Session, table: Table, columns: list[str], constants: dict[str, Any]) -> None:
        self.db, self.table, self.columns, self.constants = db, table, columns, constants
        dialect = db.get_bind().dialect
        self.native = dialect.name == "sqlite"
        if not self.native:
            self.statement = insert(table).values(constants)
            return
        quote = dialect.identifier_preparer.quote
        names = [*constants, *columns]
        # Identifiers quoted by the dialect; every value is bound.
        self.sql = (
            f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "  # noqa: S608  # quoted, values bound  # nosec B608
            f"({', '.join(quote(n) for n in names)}) VALUES ({', '.join('?' * len(names))})"
        )

        def processor(name: str) -> Any:
            return table.c[name].type._cached_bind_processor(dialect)

        self.fixed = [
            value if value is None or (p := processor(name)) is None else p(value)
            for name, value in constants.items()
        ]
        self.processors = [(i, p) for i, name in enumerate(columns) if (p := processor(name)) is not None]
        self.dates = [type(table.c[name].type) is Date for name in columns]

    def __call__(self, values: list[list[Any]]) -> None:
        """Insert the rows whose values of `columns` are `values` (a list per column)."""
        n = len(values[0])
        if not n:
            return
        if not self.native:
            rows = [dict(zip(self.columns, row, strict=True)) for row in zip(*values, strict=True)]
            try:
                self.db.execute(self.statement, rows)
            except IntegrityError as exc:
                raise KeyClash from exc
            return
        bound = list(values)
        for i, process in self.processors:
            if self.dates[i]:  # ISO text, as SQLAlchemy's SQLite DATE writes a date, without a call each
                bound[i] = [
                    v.isoformat() if v.__class__ is date else v if v is None else process(v) for v in bound[i]
                ]
            else:
                bound[i] = [None if v is None else process(v) for v in bound[i]]
        records = list(zip(*(repeat(c, n) for c in self.fixed), *bound, strict=True))
        cursor = self.db.connection().connection.cursor()
        try:
            cursor.executemany(self.sql, records)
        except sqlite3.IntegrityError as exc:
            raise KeyClash from exc
        finally:
            cursor.close()
