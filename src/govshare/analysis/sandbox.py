"""The sandbox a checked query runs in: a fresh in-memory SQLite database holding only the granted,
masked rows of the tables the query reads.

Defence in depth on top of the sqlglot checks: `PRAGMA query_only`, no attached databases (limit 0),
no extension loading, an authorizer that allows reads and the allow-listed functions only, a
progress handler that interrupts the query when its time budget is spent, and a cap on the rows
returned (one more is fetched to know whether the result was cut).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from govshare.errors import Invalid

# SQLite functions the analyst's (transpiled) SQL may call; `like`/`glob` implement the operators.
SQLITE_FUNCTIONS = frozenset(
    {
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "total",
        "group_concat",
        "substr",
        "substring",
        "length",
        "upper",
        "lower",
        "trim",
        "ltrim",
        "rtrim",
        "replace",
        "instr",
        "abs",
        "round",
        "coalesce",
        "ifnull",
        "nullif",
        "iif",
        "date",
        "time",
        "datetime",
        "julianday",
        "strftime",
        "like",
        "glob",
        "row_number",
        "rank",
        "dense_rank",
    }
)
MAX_VALUE_BYTES = 16 * 1024 * 1024
MAX_RESULT_BYTES = 16 * 1024 * 1024  # a result in all, counted while it is fetched
_READS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ}
_TYPES = {"N": "NUMERIC", "Y": "NUMERIC", "I": "INTEGER", "B": "REAL", "F": "REAL"}


def column_type(data_type: str | None) -> str:
    """The SQLite type a catalog item's values get in the sandbox (masked values stay text)."""
    return _TYPES.get(data_type or "", "TEXT")


@dataclass
class Result:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


def _authorizer(
    action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None
) -> int:
    if action in _READS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in SQLITE_FUNCTIONS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Sandbox:
    """`load` each table, then `run` the query once."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        if hasattr(self.conn, "enable_load_extension"):
            self.conn.enable_load_extension(False)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        # No string or blob beyond 16 MB (group_concat over a huge join would otherwise grow
        # until the time budget ends).
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)

    def load(self, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]) -> None:
        """Create `table` with `columns` ((name, SQLite type)) and insert `rows`."""
        spec = ", ".join(f"{_quote(name)} {kind}" for name, kind in columns) or '"_empty" TEXT'
        self.conn.execute(f"CREATE TABLE {_quote(table)} ({spec})")
        if columns:
            marks = ", ".join("?" for _ in columns)
            insert = f"INSERT INTO {_quote(table)} VALUES ({marks})"  # noqa: S608  # quoted  # nosec B608
            self.conn.executemany(insert, rows)

    def run(self, sql: str, *, seconds: float, max_rows: int) -> Result:
        """Run `sql` read-only within `seconds`, returning at most `max_rows` rows; raises Invalid
        when the budget runs out or SQLite refuses the query."""
        self.conn.execute("PRAGMA query_only = ON")
        self.conn.set_authorizer(_authorizer)
        deadline = time.monotonic() + seconds
        self.conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
        try:
            cursor = self.conn.execute(sql)
            found = []
            size = 0
            for row in cursor:
                found.append(row)
                size += sum(len(v) if isinstance(v, str | bytes) else 8 for v in row)
                if size > MAX_RESULT_BYTES:
                    raise Invalid(
                        f"查询结果过大（超过 {MAX_RESULT_BYTES // (1024 * 1024)} MB）："
                        "请减少列、缩短文本或先汇总后重试。",
                        "The result is too large.",
                        details={"field": "sql", "reason": "too_large"},
                    )
                if len(found) > max_rows:
                    break
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise Invalid(
                    f"查询超过 {seconds:g} 秒的时间上限已被中止：请缩小范围、减少关联或先汇总再关联后重试。",
                    "The query ran out of time.",
                    details={"field": "sql", "reason": "timeout"},
                ) from None
            raise Invalid(
                f"查询无法执行：{str(exc)[:200]}。请检查 SQL 后重试。",
                "The query failed in the sandbox.",
                details={"field": "sql", "reason": "sqlite"},
            ) from None
        except sqlite3.DatabaseError as exc:
            if "not authorized" in str(exc):
                raise Invalid(
                    "查询用到了分析沙箱不允许的操作（如递归查询、写入或不在允许列表中的函数）：请改写后重试。",
                    "The sandbox refused an operation.",
                    details={"field": "sql", "reason": "not_authorized"},
                ) from None
            raise Invalid(
                f"查询无法执行：{str(exc)[:200]}。", "The query failed.", details={"field": "sql"}
            ) from None
        finally:
            self.conn.set_progress_handler(None, 0)
        columns = [d[0] for d in cursor.description or []]
        truncated = len(found) > max_rows
        return Result(columns, [list(r) for r in found[:max_rows]], truncated)

    def close(self) -> None:
        self.conn.close()
