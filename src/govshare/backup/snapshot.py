"""What a backup holds and how it goes back: the platform's tables, the exchange store, the files.

`dump` reads everything in one read-only snapshot (a deferred `BEGIN` under SQLite's WAL, a
`REPEATABLE READ READ ONLY` transaction on PostgreSQL), so the backup is consistent while the
platform keeps running, and writes it through `archive.ArchiveWriter`. The dump is logical, not a
copy of database files: rows are encoded the same way from SQLite and from PostgreSQL, so a backup
restores into either (a restore drill of a PostgreSQL platform runs into a scratch SQLite file).

Each table's checksum is the sum, modulo 2²⁵⁶, of the SM3 of each row's canonical JSON: it does not
depend on the order rows come back in, so the drill can compare a restored copy read in another
database's order.

`load` writes a verified backup into an empty target: the schema at the backup's revision (Alembic),
the rows in foreign-key order, the exchange store's tables with their 查询项 and rule indexes,
then the migrations up to this version's head. On PostgreSQL all of it is one transaction; on SQLite
it goes into a staging file renamed into place at the end. Files are staged the same way.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from govshare.backup.archive import canonical
from govshare.crypto import sm3_hex
from govshare.db import READS_FIRST
from govshare.exchange import store

ROWS_PER_ENTRY = 500
FILE_PIECE = 256 * 1024
MOD = 1 << 256
Progress = Callable[[str, int], None]


# --- values ------------------------------------------------------------------------------------


def _codec(type_: TypeEngine[Any]) -> str:
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    if isinstance(type_, DateTime):
        return "dt"
    if isinstance(type_, Date):
        return "d"
    if isinstance(type_, Numeric) and not isinstance(type_, Float):
        return "n"
    if isinstance(type_, LargeBinary):
        return "b"
    return ""


def _encode(value: Any, codec: str) -> Any:
    if value is None:
        return None
    if codec == "dt":
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat()
    if codec == "d":
        return value.isoformat()
    if codec == "n":
        return format(Decimal(value).normalize(), "f")
    if codec == "b":  # published reports' files, rectification attachments
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, bytes | bytearray | memoryview):
        raise TypeError("binary values are expected only in LargeBinary columns")
    return value


def _decoder(codec: str, type_: TypeEngine[Any]) -> Callable[[Any], Any] | None:
    if codec == "dt":
        aware = bool(getattr(type_, "timezone", False))

        def dt(v: Any) -> Any:
            if v is None:
                return None
            parsed = datetime.fromisoformat(v)
            return parsed.replace(tzinfo=UTC) if aware else parsed

        return dt
    if codec == "d":
        return lambda v: None if v is None else date.fromisoformat(v)
    if codec == "n":
        return lambda v: None if v is None else Decimal(v)
    if codec == "b":
        return lambda v: None if v is None else base64.b64decode(v)
    return None


def row_digest(line: bytes) -> int:
    return int(sm3_hex(line), 16)


@dataclass
class TableSum:
    rows: int = 0
    total: int = 0

    def add(self, line: bytes) -> None:
        self.rows += 1
        self.total = (self.total + row_digest(line)) % MOD

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "sum": f"{self.total:064x}"}

    @classmethod
    def of(cls, batches: Iterator[list[bytes]]) -> TableSum:
        """The count and checksum of a table's rows as `rows` yields them."""
        total = cls()
        for batch in batches:
            for line in batch:
                total.add(line)
        return total


@dataclass
class Manifest:
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self, header_sm3: str) -> dict[str, Any]:
        return {"header_sm3": header_sm3, "tables": self.tables, "files": self.files}


# --- reading the source ------------------------------------------------------------------------


def platform_tables() -> list[Table]:
    from govshare.model_registry import load_models

    return list(load_models().sorted_tables)


def store_tables(conn: Connection) -> list[tuple[int, Table]]:
    """The exchange store's tables, reflected, with the resource id each belongs to."""
    inspector = inspect(conn)
    found: list[tuple[int, str, str | None]] = []
    if conn.dialect.name == "postgresql":
        if store.SCHEMA_PG in inspector.get_schema_names():
            for name in inspector.get_table_names(schema=store.SCHEMA_PG):
                if name.startswith("res_") and name[4:].isdigit():
                    found.append((int(name[4:]), name, store.SCHEMA_PG))
    else:
        for name in inspector.get_table_names():
            suffix = name[len(store.SQLITE_PREFIX) :]
            if name.startswith(store.SQLITE_PREFIX) and suffix.isdigit():
                found.append((int(suffix), name, None))
    metadata = MetaData()
    return [
        (rid, Table(name, metadata, schema=schema, autoload_with=conn)) for rid, name, schema in sorted(found)
    ]


def _type_spec(type_: TypeEngine[Any]) -> list[Any]:
    generic = type_.as_generic() if not isinstance(type_, BigInteger | Integer) else type_
    if isinstance(generic, BigInteger):
        return ["BigInteger"]
    if isinstance(generic, Integer):
        return ["Integer"]
    if isinstance(generic, Boolean):
        return ["Boolean"]
    if isinstance(generic, DateTime):
        return ["DateTime"]
    if isinstance(generic, Date):
        return ["Date"]
    if isinstance(generic, Float):
        return ["Float"]
    if isinstance(generic, Numeric):
        return ["Numeric", generic.precision, generic.scale]
    if isinstance(generic, String) and not isinstance(generic, Text) and generic.length:
        return ["String", generic.length]
    return ["Text"]


def _from_spec(spec: list[Any]) -> TypeEngine[Any]:
    kind = spec[0]
    if kind == "String":
        return String(int(spec[1]))
    if kind == "Numeric":
        return Numeric(spec[1], spec[2])
    simple: dict[str, TypeEngine[Any]] = {
        "BigInteger": BigInteger(),
        "Integer": Integer(),
        "Boolean": Boolean(),
        "DateTime": DateTime(),
        "Date": Date(),
        "Float": Float(53),
        "Text": Text(),
    }
    return simple[kind]


def _store_indexes(conn: Connection, table: Table) -> list[dict[str, str]]:
    """The store's own indexes of a table, as (kind, column): names are rebuilt on restore."""
    out = []
    for index in inspect(conn).get_indexes(table.name, schema=table.schema):
        name = str(index["name"])
        columns = [c for c in index["column_names"] if c]
        if not columns:
            continue
        for prefix in ("ix", store.QUERY_INDEX):
            if name == store.index_name(table, columns[0], prefix):
                out.append({"kind": prefix, "column": columns[0]})
    return out


def rows(conn: Connection, table: Table, columns: list[Column[Any]]) -> Iterator[list[bytes]]:
    """The table's rows in primary-key order, as canonical JSON lines, a few hundred at a time."""
    codecs = [_codec(c.type) for c in columns]
    order = list(table.primary_key.columns) or columns
    result = conn.execution_options(stream_results=True, yield_per=2000).execute(
        select(*columns).order_by(*order)
    )
    batch: list[bytes] = []
    for row in result:
        batch.append(canonical([_encode(v, c) for v, c in zip(row, codecs, strict=True)]))
        if len(batch) >= ROWS_PER_ENTRY:
            yield batch
            batch = []
    if batch:
        yield batch


def read_snapshot(engine: Engine) -> Connection:
    """A connection in a consistent read-only snapshot (the caller closes it)."""
    conn = engine.connect().execution_options(**{READS_FIRST: True})
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    conn.begin()
    return conn


@dataclass
class TableDump:
    name: str
    scope: str  # platform | store
    columns: list[str]
    codecs: list[str]
    rows: Iterator[list[bytes]]
    extra: dict[str, Any] = field(default_factory=dict)


def _shape(
    conn: Connection, table: Table, columns: list[Column[Any]]
) -> tuple[list[str], list[str], Iterator[list[bytes]]]:
    return [c.name for c in columns], [_codec(c.type) for c in columns], rows(conn, table, columns)


def tables(conn: Connection) -> Iterator[TableDump]:
    for table in platform_tables():
        columns = list(table.columns)
        yield TableDump(table.name, "platform", *_shape(conn, table, columns))
    for rid, table in store_tables(conn):
        columns = list(table.columns)
        extra = {
            "resource_id": rid,
            "types": [_type_spec(c.type) for c in columns],
            "indexes": _store_indexes(conn, table),
        }
        yield TableDump(f"store:{rid}", "store", *_shape(conn, table, columns), extra)


def data_files(data_dir: Path, excluded: set[Path]) -> list[tuple[str, Path]]:
    """Files of the data dir a backup carries: all but the database, secrets, backups and logs."""
    if not data_dir.exists():
        return []
    out = []
    for root, dirs, files in os.walk(data_dir):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() not in excluded)
        for name in sorted(files):
            path = here / name
            if name.startswith(".") or name.endswith((".log", ".part")) or path.resolve() in excluded:
                continue
            if path.is_file() and not path.is_symlink():
                out.append((path.relative_to(data_dir).as_posix(), path))
    return out


def sqlite_files(url: str) -> set[Path]:
    from sqlalchemy import make_url

    database = make_url(url).database
    if not url.startswith("sqlite") or not database:
        return set()
    path = Path(database).resolve()
    return {path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")}


# --- writing the target ------------------------------------------------------------------------


def _decoders(table: Table, columns: list[str], codecs: list[str]) -> list[Callable[[Any], Any] | None]:
    return [_decoder(codec, table.c[name].type) for name, codec in zip(columns, codecs, strict=True)]


class Loader:
    """Receives a backup's entries and writes them into `conn` (inside the caller's transaction)."""

    def __init__(self, conn: Connection, files_dir: Path | None, progress: Progress | None = None) -> None:
        self.conn = conn
        self.files_dir = files_dir
        self.progress = progress
        self.metadata = MetaData()
        self.metadata.reflect(conn)
        # Migrations seed some rows (the audit chain's head, default settings); the backup has them
        # as they were, so the seeded ones go first.
        for model in reversed(platform_tables()):
            if model.name in self.metadata.tables:
                conn.execute(self.metadata.tables[model.name].delete())
        self._table: Table | None = None
        self._columns: list[str] = []
        self._decoders: list[Callable[[Any], Any] | None] = []
        self._file: Any = None
        self.counts: dict[str, int] = {}
        self._loaded: set[str] = set()
        self._deferred: list[str] = []
        self._updates: list[tuple[Table, list[str], list[dict[str, Any]]]] = []

    def table(self, entry: dict[str, Any]) -> None:
        self._finish_table()
        name = entry["name"]
        if entry["scope"] == "platform":
            if name not in self.metadata.tables:
                raise ValueError(f"table {name} is not in the schema of revision the backup was made at")
            table = self.metadata.tables[name]
        else:
            table = self._create_store_table(entry)
        self._table, self._columns = table, entry["columns"]
        self._decoders = _decoders(table, entry["columns"], entry["codecs"])
        self._entry = entry
        self.counts[name] = 0
        # A reference to a table not loaded yet (resources ↔ their versions) is written as NULL now
        # and set once every table is in.
        self._deferred = [
            fk.parent.name
            for fk in table.foreign_keys
            if fk.column.table.name not in self._loaded and fk.column.table is not table
        ]
        self._loaded.add(table.name)

    def rows(self, rows: list[list[Any]]) -> None:
        assert self._table is not None
        decoders = self._decoders
        records = []
        for row in rows:
            values = [v if d is None else d(v) for v, d in zip(row, decoders, strict=True)]
            records.append(dict(zip(self._columns, values, strict=True)))
        if self._deferred:
            self._defer(self._table, records)
        self.conn.execute(insert(self._table), records)
        name = self._entry["name"]
        self.counts[name] += len(records)
        if self.progress:
            self.progress(name, len(records))

    def file(self, entry: dict[str, Any]) -> None:
        self._close_file()
        if self.files_dir is None:
            return
        target = (self.files_dir / entry["path"]).resolve()
        if not target.is_relative_to(self.files_dir.resolve()):
            raise ValueError(f"file path outside the data dir: {entry['path']}")
        target.parent.mkdir(parents=True, exist_ok=True)
        self._file = target.open("wb")

    def data(self, piece: str) -> None:
        if self._file is not None:
            self._file.write(base64.b64decode(piece))

    def _defer(self, table: Table, records: list[dict[str, Any]]) -> None:
        keys = [c.name for c in table.primary_key.columns]
        later = []
        for record in records:
            values = {c: record[c] for c in self._deferred if record.get(c) is not None}
            if values:
                later.append(
                    {**{f"k_{k}": record[k] for k in keys}, **{f"v_{c}": v for c, v in values.items()}}
                )
                for c in values:
                    record[c] = None
        if later:
            self._updates.append((table, keys, later))

    def finish(self) -> None:
        self._finish_table()
        self._close_file()
        for table, keys, later in self._updates:
            by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for values in later:
                by_columns.setdefault(tuple(sorted(k for k in values if k.startswith("v_"))), []).append(
                    values
                )
            for columns, group in by_columns.items():
                stmt = (
                    update(table)
                    .where(*(table.c[k] == bindparam(f"k_{k}") for k in keys))
                    .values({c[2:]: bindparam(c) for c in columns})
                )
                self.conn.execute(stmt, group)

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _finish_table(self) -> None:
        if self._table is not None and self._entry["scope"] == "store":
            self._store_indexes(self._table, self._entry.get("indexes", []))
        self._table = None

    def _create_store_table(self, entry: dict[str, Any]) -> Table:
        rid = int(entry["resource_id"])
        if self.conn.dialect.name == "postgresql":
            name, schema = f"res_{rid}", store.SCHEMA_PG
            self.conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        else:
            name, schema = f"{store.SQLITE_PREFIX}{rid}", None
        system = {c.name: c for c in store._table(rid, name, schema, ()).columns}
        columns: list[Column[Any]] = []
        for column_name, spec in zip(entry["columns"], entry["types"], strict=True):
            known = system.get(column_name)
            if known is not None:
                columns.append(known._copy())
            else:
                columns.append(Column(column_name, _from_spec(spec)))
        table = Table(name, MetaData(), *columns, schema=schema)
        table.create(self.conn)
        return table

    def _store_indexes(self, table: Table, indexes: list[dict[str, str]]) -> None:
        preparer = self.conn.dialect.identifier_preparer
        for index in indexes:
            column = index["column"]
            name = preparer.quote(store.index_name(table, column, index["kind"]))
            if index["kind"] == store.QUERY_INDEX:
                self.conn.execute(
                    text(
                        f"CREATE INDEX {name} ON {preparer.format_table(table)} "
                        f"({preparer.quote(column)}, _key) WHERE _retired_at IS NULL"
                    )
                )
            else:
                self.conn.execute(
                    text(f"CREATE INDEX {name} ON {preparer.format_table(table)} ({preparer.quote(column)})")
                )


def after_load(conn: Connection) -> None:
    """Bring derived state in line with the loaded rows: PostgreSQL's id sequences, SQLite's
    full-text index of the catalog."""
    if conn.dialect.name == "postgresql":
        for table in platform_tables():
            pk = list(table.primary_key.columns)
            if len(pk) != 1 or not isinstance(pk[0].type, Integer):
                continue
            sequence = conn.scalar(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": pk[0].name}
            )
            if sequence:
                top = conn.scalar(select(func.max(pk[0])))
                conn.execute(text("SELECT setval(:s, :v, false)"), {"s": sequence, "v": int(top or 0) + 1})
    elif inspect(conn).has_table("resource_fts"):
        # The catalog's full-text index (catalog/search.py) follows the restored resources.
        conn.execute(text("DELETE FROM resource_fts"))
        conn.execute(text("INSERT INTO resource_fts(rowid, body) SELECT id, search_text FROM resources"))


def checksums(conn: Connection) -> dict[str, dict[str, Any]]:
    """Row count and checksum of every table, as the manifest records them."""
    return {dump.name: TableSum.of(dump.rows).as_dict() for dump in tables(conn)}
