"""Reading a department's front-end exchange database (前置库): URLs, read-only connections, pages.

Only PostgreSQL, MySQL/MariaDB and SQLite URLs are accepted. Every connection is read-only (a
PostgreSQL session default, a MySQL session setting, SQLite opened `mode=ro`) and bounded by
`GOVSHARE_SYNC_TIMEOUT_SECONDS`; identifiers are quoted by the source's own dialect; a configured
query must be one SELECT, and runs inside that read-only session anyway. A source may not be the
platform's own database, and a SQLite file must live under `GOVSHARE_SYNC_SQLITE_DIR`.

Statements are assembled as text (S608 is silenced where they are): identifiers are quoted by the
source's dialect, values are bound, and a configured query is checked and runs read-only.

Incremental reads page by the watermark column: `WHERE wm > :last ORDER BY wm LIMIT n + 1`. A
page never ends inside a run of equal watermark values (those rows would be skipped by the next
page's `>`): when the row after a full page has the page's last value, the page gives that run
back to the next one, and a page that is all one value reads every row with that value.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from govshare.errors import Invalid
from govshare.exchange.upstream import Unresolvable, addresses_of, refused_among
from govshare.settings import get_settings, name_is_sqlite

DRIVERS = {
    "postgresql": ("postgresql", "postgresql+psycopg"),
    "postgres": ("postgresql", "postgresql+psycopg"),
    "mysql": ("mysql", "mysql+pymysql"),
    "mariadb": ("mysql", "mysql+pymysql"),
    "sqlite": ("sqlite", "sqlite"),
}
DIALECT_LABELS = {"postgresql": "PostgreSQL", "mysql": "MySQL / MariaDB", "sqlite": "SQLite"}
IDENTIFIER = re.compile(r"^[^\W\d]\w{0,63}(\.[^\W\d]\w{0,63})?$")
MAX_QUERY = 10_000


class SourceError(Exception):
    """The source database could not be reached or read; the message (Chinese) is safe to show."""


@dataclass(frozen=True)
class SourceUrl:
    dialect: str  # postgresql | mysql | sqlite
    url: URL  # with the driver the platform uses
    sqlite_path: Path | None = None

    @property
    def display(self) -> str:
        return self.url.set(drivername=self.dialect).render_as_string(hide_password=True)

    @property
    def secret(self) -> str:
        return self.url.render_as_string(hide_password=False)


def without_password(url: URL) -> URL:
    return url._replace(password=None)  # URL.set(password=None) keeps the password


def parse_url(raw: str, password: str | None = None) -> SourceUrl:
    """Check a source URL and give it the platform's driver; `password` overrides the URL's."""
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise Invalid(
            "数据库连接地址格式不正确，例如 postgresql://用户名@主机:5432/库名、"
            "mysql://用户名@主机:3306/库名 或 sqlite:////路径/文件.db。",
            "Malformed source URL.",
            details={"field": "url"},
        ) from None
    scheme = url.drivername.split("+")[0]
    if scheme not in DRIVERS:
        raise Invalid(
            f"不支持的数据库类型“{scheme}”；前置库可以是 PostgreSQL、MySQL/MariaDB 或 SQLite。",
            f"Unsupported source database {scheme!r}.",
            details={"field": "url"},
        )
    dialect, driver = DRIVERS[scheme]
    url = url.set(drivername=driver)
    if password:
        url = url.set(password=password)
    if dialect == "sqlite":
        return SourceUrl(dialect, url, _sqlite_path(url))
    if not url.host or not url.database:
        raise Invalid(
            "连接地址应包含主机和数据库名，例如 postgresql://用户名@10.1.2.3:5432/qzk。",
            "Source URL needs a host and a database.",
            details={"field": "url"},
        )
    if url.port is not None and not 1 <= url.port <= 65535:
        raise Invalid(
            f"端口 {url.port} 无效：端口应在 1 到 65535 之间（PostgreSQL 通常为 5432，MySQL 为 3306）。",
            "Source port out of range.",
            details={"field": "url"},
        )
    _refuse_platform_database(dialect, url)
    _refuse_local_hosts(url)
    return SourceUrl(dialect, url)


def _refuse_local_hosts(url: URL) -> None:
    """A source host may not be this machine (or link-local, …) unless the operator allowed it:
    the platform's own databases and services live there (checked at registration and every run)."""
    assert url.host is not None
    try:
        addresses = addresses_of(url.host, url.port or 0)
    except Unresolvable:
        raise Invalid(
            f"无法解析前置库主机名“{url.host}”，请检查地址或平台的域名解析。",
            "Unresolvable source host.",
            details={"field": "url"},
        ) from None
    refused = refused_among(addresses, get_settings().sync_allowed_networks)
    if refused is not None:
        address, kind = refused
        raise Invalid(
            f"前置库地址指向{kind}（{address}），平台不会连接。如前置库确实部署在平台所在主机，"
            "请联系平台运维在 GOVSHARE_SYNC_ALLOWED_NETWORKS 中放行该网段。",
            "Source host refused.",
            details={"field": "url"},
        )


def _sqlite_path(url: URL) -> Path:
    root = get_settings().frontdb_dir
    if not url.database or url.database == ":memory:":
        raise Invalid(
            "SQLite 前置库应给出文件路径。", "SQLite source needs a file.", details={"field": "url"}
        )
    path = Path(url.database).resolve()
    if not path.is_relative_to(root):
        raise Invalid(
            f"SQLite 前置库文件必须位于 {root} 之下（GOVSHARE_SYNC_SQLITE_DIR）。",
            "SQLite source outside the front-end database directory.",
            details={"field": "url"},
        )
    return path


def _same_host(a: str | None, b: str | None) -> bool:
    local = {"localhost", "127.0.0.1", "::1", None, ""}
    return a == b or (a in local and b in local)


def _refuse_platform_database(dialect: str, url: URL) -> None:
    platform = get_settings().database
    if name_is_sqlite(platform):
        return
    own = make_url(platform)
    if (
        own.get_backend_name() == dialect
        and _same_host(own.host, url.host)
        and (own.port or 5432) == (url.port or 5432)
        and own.database == url.database
    ):
        raise Invalid(
            "不能把平台自身的数据库登记为前置库。",
            "The platform database is not a source.",
            details={"field": "url"},
        )


def connect(source: SourceUrl) -> Engine:
    """A read-only engine on the source, one connection at a time, with the sync timeout."""
    timeout = get_settings().sync_timeout_seconds
    if source.dialect == "sqlite":
        assert source.sqlite_path is not None
        path = source.sqlite_path
        if not path.exists():
            raise SourceError(f"找不到 SQLite 前置库文件 {path.name}。")

        def opener() -> sqlite3.Connection:
            return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=timeout)

        return create_engine("sqlite://", creator=opener, poolclass=NullPool)
    if source.dialect == "postgresql":
        args: dict[str, Any] = {
            "connect_timeout": min(timeout, 60),
            "options": f"-c default_transaction_read_only=on -c statement_timeout={timeout * 1000}",
        }
    else:
        args = {
            "connect_timeout": min(timeout, 60),
            "read_timeout": timeout,
            "init_command": "SET SESSION TRANSACTION READ ONLY",
            "charset": "utf8mb4",
        }
    return create_engine(source.url, poolclass=NullPool, connect_args=args)


def check_table(name: str) -> str:
    name = name.strip()
    if not IDENTIFIER.match(name):
        raise Invalid(
            "表名只能包含字母、数字和下划线（可带模式名，如 qzk.rk_jbxx）。",
            "Bad table name.",
            details={"field": "table"},
        )
    return name


def check_query(query: str) -> str:
    """One SELECT (or WITH … SELECT), without a statement separator; it still runs read-only."""
    query = query.strip().rstrip(";").strip()
    if not query:
        raise Invalid("查询语句不能为空。", "Empty query.", details={"field": "query"})
    if len(query) > MAX_QUERY:
        raise Invalid("查询语句过长。", "Query too long.", details={"field": "query"})
    if ";" in query or not re.match(r"^(select|with)\b", query, re.IGNORECASE) or "--" in query:
        raise Invalid(
            "查询只能是一条 SELECT 语句（不含分号和注释）。",
            "The query must be a single SELECT.",
            details={"field": "query"},
        )
    return query


@dataclass(frozen=True)
class Relation:
    """What a sync reads: a table or a query, as SQL of the source's dialect."""

    engine: Engine
    table: str | None
    query: str | None

    def quote(self, name: str) -> str:
        return str(self.engine.dialect.identifier_preparer.quote(name))

    @property
    def source_sql(self) -> str:
        if self.query is not None:
            return f"({self.query}) src"
        assert self.table is not None
        return ".".join(self.quote(part) for part in self.table.split("."))


def _run(relation: Relation, sql: str, params: dict[str, Any] | None = None) -> Any:
    try:
        with relation.engine.connect() as conn:
            result = conn.execute(text(sql), params or {})
            return result.keys(), result.fetchall()
    except DBAPIError as exc:
        raise SourceError(describe(exc)) from exc
    except SQLAlchemyError as exc:
        raise SourceError(f"读取前置库失败：{type(exc).__name__}") from exc


def describe(exc: DBAPIError) -> str:
    """A message about a source failure that names the cause but never the statement or password."""
    original = exc.orig
    detail = str(original).strip().splitlines()[0] if original is not None else type(exc).__name__
    if exc.connection_invalidated or "connect" in detail.lower() or "closed" in detail.lower():
        return f"前置库连接失败或中断：{detail[:300]}"
    return f"前置库查询失败：{detail[:300]}"


def columns(relation: Relation) -> list[str]:
    """The column names the table or query gives (reads no rows)."""
    keys, _rows = _run(relation, f"SELECT * FROM {relation.source_sql} WHERE 1 = 0")  # noqa: S608  # quoted  # nosec B608
    return list(keys)


def count_null_watermark(relation: Relation, watermark: str) -> int:
    sql = f"SELECT COUNT(*) FROM {relation.source_sql} WHERE {relation.quote(watermark)} IS NULL"  # noqa: S608  # quoted  # nosec B608
    _keys, rows = _run(relation, sql)
    return int(rows[0][0])


def _select(relation: Relation, wanted: list[str]) -> str:
    return f"SELECT {', '.join(relation.quote(c) for c in wanted)} FROM {relation.source_sql}"  # noqa: S608  # quoted  # nosec B608


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    watermark: Any  # the highest watermark value the page holds (None for an empty page)
    last: bool  # no more rows above it when read


def pages(relation: Relation, wanted: list[str], watermark: str, after: Any, size: int) -> Iterator[Page]:
    """Pages of rows above `after` in watermark order; each page ends between two watermark values."""
    wm = relation.quote(watermark)
    base = _select(relation, [*wanted, watermark]) if watermark not in wanted else _select(relation, wanted)
    while True:
        where = f"{wm} > :after" if after is not None else f"{wm} IS NOT NULL"
        keys, rows = _run(
            relation, f"{base} WHERE {where} ORDER BY {wm} LIMIT :size", {"after": after, "size": size + 1}
        )
        records = [dict(zip(keys, row, strict=True)) for row in rows]
        if len(records) <= size:
            if records:
                yield Page(records, records[-1][watermark], True)
            return
        following, records = records[size], records[:size]
        boundary = records[-1][watermark]
        if following[watermark] == boundary:  # the page would end inside a run of equal values
            if records[0][watermark] == boundary:  # the whole page is one value: take all of its rows
                keys, rows = _run(relation, f"{base} WHERE {wm} = :boundary", {"boundary": boundary})
                records = [dict(zip(keys, row, strict=True)) for row in rows]
            else:  # give the run back to the next page
                records = [r for r in records if r[watermark] != boundary]
                boundary = records[-1][watermark]
        yield Page(records, boundary, False)
        after = boundary


def everything(relation: Relation, wanted: list[str], size: int) -> Iterator[list[dict[str, Any]]]:
    """All rows (a sync without a watermark is a full snapshot), streamed in chunks of `size`."""
    try:
        with relation.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=size).execute(
                text(_select(relation, wanted))
            )
            keys = list(result.keys())
            for chunk in result.partitions(size):
                yield [dict(zip(keys, row, strict=True)) for row in chunk]
    except DBAPIError as exc:
        raise SourceError(describe(exc)) from exc


# --- watermarks: stored as JSON with their type, so that a run binds them back as they were -------


def encode_watermark(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise SourceError("水位列不能是布尔型，请选择递增的时间或编号列。")
    if isinstance(value, int):
        return {"type": "int", "value": str(value)}
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, float):
        return {"type": "float", "value": repr(value)}
    if isinstance(value, datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, str):
        return {"type": "str", "value": value}
    raise SourceError(f"水位列的值类型 {type(value).__name__} 不受支持，请选择时间、日期、编号或文本列。")


def decode_watermark(stored: dict[str, str] | None) -> Any:
    if stored is None:
        return None
    kind, value = stored["type"], stored["value"]
    match kind:
        case "int":
            return int(value)
        case "decimal":
            return Decimal(value)
        case "float":
            return float(value)
        case "datetime":
            return datetime.fromisoformat(value)
        case "date":
            return date.fromisoformat(value)
        case _:
            return value


def watermark_text(stored: dict[str, str] | None) -> str:
    return "（从头开始）" if stored is None else stored["value"]


def jsonable(value: Any) -> Any:
    """A source value as JSON for the ingest pipeline (which parses items from their text)."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)
