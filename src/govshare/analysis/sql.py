"""Parse and check an analyst's SQL before anything runs (sqlglot, read as SQLite).

Accepted: exactly one statement, a query (SELECT, UNION/INTERSECT/EXCEPT of SELECTs, CTEs whose
bodies are SELECTs); every table a granted table (`r<resource_id>`) or a CTE of the query; every
column an item of the tables it names (sqlglot's `qualify` against the granted schema raises on
any other); every function on the allow-list below. Anything else raises `Invalid` with a Chinese
message naming the statement, table, column or function and saying what to do.

These checks give clear reasons; they are not the only wall: the query then runs in a sandbox that
holds nothing but granted, masked rows (see `sandbox`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError
from sqlglot.optimizer.qualify import qualify

from govshare.errors import Invalid

MAX_SQL = 20_000
TABLE_NAME = re.compile(r"^r(\d{1,12})$")

# sqlglot expression classes an analyst may call (aggregates, text, date and math basics, windows).
ALLOWED_FUNCTIONS = frozenset(
    {
        "Count",
        "Sum",
        "Avg",
        "Min",
        "Max",
        "GroupConcat",
        "Substring",
        "Length",
        "Upper",
        "Lower",
        "Trim",
        "Replace",
        "StrPosition",
        "Abs",
        "Round",
        "Coalesce",
        "Nullif",
        "Cast",
        "TryCast",
        "Date",
        "TimeToStr",
        "TsOrDsToTimestamp",
        "StrToTime",
        "If",
        "Case",
        "Greatest",
        "Least",
        "RowNumber",
        "Rank",
        "DenseRank",
        "DPipe",
    }
)
# Functions sqlglot does not model that SQLite offers and that are harmless.
ALLOWED_ANONYMOUS = frozenset({"total", "julianday", "date", "time", "datetime", "strftime", "ifnull", "iif"})
FORBIDDEN_NODES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Pragma,
    exp.Attach,
    exp.Detach,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Merge,
    exp.Into,
)
COUNT_NAME = re.compile(r"(^n$|(^|_)(count|cnt|num|total)($|_)|人数|数量|户数|人次|次数|件数|个数)", re.I)


@dataclass(frozen=True)
class Output:
    """One column of the result: its position, and whether it counts people or records (a count
    column: COUNT(...), SUM(1), or a name that says so)."""

    name: str
    count: bool
    measure: bool = False  # computed by an aggregate (a count, a sum, an average …)


@dataclass(frozen=True)
class Checked:
    tree: exp.Query
    tables: list[str]  # the granted tables the query reads, in order of first use
    sqlite: str  # the SQL to run in the sandbox
    outputs: list[Output]
    aggregate: bool
    needed: dict[str, set[str]]  # per table, the granted items the query reads (only they are loaded)


def _refuse(message: str, english: str, **details: str) -> Invalid:
    return Invalid(message, english, details={"field": "sql", **details})


MAX_NESTING = 64  # parentheses deep: sqlglot parses and qualifies by recursion


def _depth(text: str) -> int:
    """How deep the parentheses of `text` nest (string literals included: an upper bound)."""
    deepest = depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
    return deepest


def parse(sql: str) -> exp.Query:
    """The single query in `sql`; raises Invalid for anything but one read-only query."""
    text = sql.strip()
    if not text:
        raise _refuse("请填写 SQL 查询语句（一条 SELECT 语句）。", "sql is empty.")
    if len(text) > MAX_SQL:
        raise _refuse(f"SQL 过长（最多 {MAX_SQL} 个字符），请精简查询。", "sql too long.")
    if _depth(text) > MAX_NESTING:
        raise _refuse(f"SQL 嵌套过深（括号超过 {MAX_NESTING} 层），请精简查询。", "sql is nested too deeply.")
    try:
        statements = [s for s in sqlglot.parse(text, read="sqlite") if s is not None]
    except RecursionError:
        raise _refuse("SQL 嵌套过深，无法解析，请精简查询。", "sql is nested too deeply.") from None
    except (ParseError, SqlglotError) as exc:
        first = str(exc).splitlines()[0][:200]
        raise _refuse(
            f"SQL 语法有误，无法解析：{first}。请检查后重试（使用 SQLite 语法）。", "sql does not parse."
        ) from None
    if len(statements) != 1:
        raise _refuse(
            f"一次只能提交一条查询语句，这里有 {len(statements)} 条；请去掉分号后面的语句。",
            "Exactly one statement is allowed.",
        )
    tree = statements[0]
    if not isinstance(tree, exp.Query) or any(tree.find_all(*FORBIDDEN_NODES)):
        kind = tree.key.upper()
        raise _refuse(
            f"只允许只读的 SELECT 查询，不能执行 {kind} 语句"
            "（不能增删改数据、建表、PRAGMA、ATTACH 或事务）。",
            "Only SELECT queries are allowed.",
            statement=kind,
        )
    return tree


def cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def referenced_tables(tree: exp.Query) -> list[str]:
    """The names of the tables (not CTEs) the query reads, each once; raises Invalid for a table
    qualified by a database or schema, or a table-valued function."""
    ctes = cte_names(tree)
    names: list[str] = []
    for table in tree.find_all(exp.Table):
        if table.args.get("db") or table.args.get("catalog"):
            raise _refuse(
                f"表名 {table.sql('sqlite')} 不能带库名或模式名：请直接使用分析目录中列出的表名（如 r12）。",
                "Qualified table names are not allowed.",
                table=table.name,
            )
        if not isinstance(table.this, exp.Identifier):
            raise _refuse(
                f"不能在 FROM 中调用函数（{table.sql('sqlite')[:60]}）：请只查询分析目录中列出的表。",
                "Table-valued functions are not allowed.",
            )
        name = table.name.lower()
        if name not in ctes and name not in names:
            names.append(name)
    return names


def resource_id_of(table: str) -> int | None:
    match = TABLE_NAME.match(table)
    return int(match.group(1)) if match else None


def _check_functions(tree: exp.Expr) -> None:
    for node in tree.find_all(exp.Func):
        # sqlglot models AND, OR, COLLATE and EXISTS as functions too: they are operators here.
        if isinstance(node, exp.Binary | exp.Exists):
            continue
        if isinstance(node, exp.Anonymous):
            if node.name.lower() in ALLOWED_ANONYMOUS:
                continue
            name = node.name
        elif type(node).__name__ in ALLOWED_FUNCTIONS:
            continue
        else:
            name = node.sql_name() if hasattr(node, "sql_name") else type(node).__name__
        raise _refuse(
            f"不允许使用函数 {name}：分析查询只能使用聚合（COUNT、SUM、AVG、MIN、MAX）、"
            "文本（substr、length、upper、lower、trim、replace、instr）、日期（date、strftime）"
            "和数学（abs、round）等基本函数。",
            "Function not allowed.",
            function=str(name),
        )


def _outputs(tree: exp.Query) -> tuple[list[Output], bool]:
    select: exp.Expr = tree
    while isinstance(select, exp.SetOperation | exp.Subquery):
        select = select.this
    assert isinstance(select, exp.Select)
    outputs = []
    aggregate = bool(select.args.get("group"))
    counted = tree.find(exp.Count) is not None  # anywhere, a subquery's count included
    for projection in select.expressions:
        inner = projection.unalias()
        # A count is what COUNT (or SUM(1)) computes, however it is wrapped (COUNT(*)+0 too), or a
        # column named like one that a subquery counted: never a name alone (`999 AS n`).
        is_count = inner.find(exp.Count) is not None or any(
            isinstance(s.this, exp.Literal) and s.this.name == "1" for s in inner.find_all(exp.Sum)
        )
        name = projection.alias_or_name
        is_count = is_count or (counted and isinstance(inner, exp.Column) and bool(COUNT_NAME.search(name)))
        measure = inner.find(exp.AggFunc) is not None
        aggregate = aggregate or measure
        outputs.append(Output(name=name, count=is_count, measure=measure or is_count))
    return outputs, aggregate


def check(tree: exp.Query, schema: dict[str, Any]) -> Checked:
    """Check `tree` against `schema` ({table: {column: SQLite type}}, the granted tables and items
    only); raises Invalid naming the first table, column or function outside it."""
    tables = referenced_tables(tree)
    for name in tables:
        if name not in schema:
            raise _refuse(
                f"表 {name} 不在本单位的授权范围内："
                "请只查询左侧分析目录列出的表（本单位持有有效授权的资源）。",
                "Table outside the grants.",
                table=name,
            )
    _check_functions(tree)
    try:
        qualified = qualify(tree.copy(), schema=schema, dialect="sqlite", validate_qualify_columns=True)
    except OptimizeError as exc:
        reason = str(exc).splitlines()[0]
        match = re.search(r"Column '([^']+)'", reason)
        column = match.group(1) if match else ""
        if column:
            raise _refuse(
                f"字段 {column} 不是所查表中授权给本单位的信息项：请从左侧分析目录中选择已授权的字段。",
                "Column outside the grants.",
                column=column,
            ) from None
        raise _refuse(
            f"查询无法通过检查：{reason[:200]}。请检查表名、字段名和别名。", "Query does not qualify."
        ) from None
    # The qualified tree has every `*` expanded, so its projections match the result's columns.
    assert isinstance(qualified, exp.Query)
    outputs, aggregate = _outputs(qualified)
    return Checked(tree, tables, tree.sql(dialect="sqlite"), outputs, aggregate, _needed(qualified, schema))


def _needed(qualified: exp.Expr, schema: dict[str, Any]) -> dict[str, set[str]]:
    """The columns of each table a qualified query reads. An alias used for two tables in two scopes
    counts for both: loading a column too many is harmless, one too few would fail the query."""
    aliases: dict[str, set[str]] = {}
    for table in qualified.find_all(exp.Table):
        aliases.setdefault(table.alias_or_name, set()).add(table.name.lower())
    needed: dict[str, set[str]] = {name: set() for name in schema}
    for column in qualified.find_all(exp.Column):
        for name in aliases.get(column.table, ()):
            if column.name in schema.get(name, {}):
                needed[name].add(column.name)
    return needed
