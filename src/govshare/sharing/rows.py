"""The data API of 库表 resources: rows delivered under a grant (M17, S22, S23, S25).

`GET /api/v1/resources/{id}/rows?purpose=…` answers only a caller whose department (and, for a
grant bound to one, whose business system) holds an active grant for that purpose. Before any byte
leaves, the grant is applied in SQL — its items are the only columns read and the only ones that may
be filtered on, its row scope is a `WHERE` — and its masking profile on every value. Every call is
audited: who, which system, purpose, filters, row count and the SM3 of what was returned; a refused
call is audited too (no grant, or a purpose that does not match one).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    case,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from govshare import generation
from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.catalog import service as catalog
from govshare.catalog.models import Resource
from govshare.crypto import sm3_hex
from govshare.db import Direct, Rows, Writes, later, utcnow
from govshare.errors import Invalid, NotFound
from govshare.exchange import store
from govshare.exchange.access import published_items
from govshare.exchange.quality import TYPE_PARSERS, Refused
from govshare.masking import row_masker
from govshare.sealing import SealError, seal, unseal
from govshare.sharing import rowids
from govshare.sharing.models import Grant
from govshare.sharing.service import grant_for_use, record_use
from govshare.systems.service import carry_token_use

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
RESERVED = frozenset({"purpose", "limit", "cursor", "fields", "format", "since"})
OPERATORS = {"gte": "≥", "lte": "≤", "gt": ">", "lt": "<"}


@dataclass
class Delivery:
    resource: Resource
    grant: Grant
    columns: list[str]
    rows: list[dict[str, Any]]
    next_cursor: str | None
    masking: dict[str, str]
    sm3: str
    filters: dict[str, list[str]] = field(default_factory=dict)
    rows_json: bytes = b"[]"  # `rows` as JSON (UTF-8): the bytes the SM3 is of


@dataclass
class Reading:
    """What every read under a grant starts from: the grant, the items it may see (masked how), the
    columns asked for and the store table (None while the resource has no data)."""

    resource: Resource
    grant: Grant
    purpose: str
    items: list[dict[str, Any]]
    granted: dict[str, dict[str, Any]]
    columns: list[str]
    masker: Any
    table: Table | None
    # Page statements by the shape of their filters (`_page`), built once for this reading (not
    # carried over by `replace`: a reading with other columns or another grant builds its own).
    pages: dict[Hashable, Select[Any]] = field(default_factory=dict, init=False, compare=False, repr=False)

    def detached(self) -> Reading:
        """This reading with copies of its resource and grant that belong to no session, to share
        between threads."""
        return replace(
            self,
            resource=generation.detached(self.resource),
            grant=generation.detached(self.grant),
            items=copy.deepcopy(self.items),
            granted={name: dict(item) for name, item in self.granted.items()},
        )

    def scoped(self, stmt: Select[Any]) -> Select[Any]:
        """`stmt` within the grant's row scope (the provider's, on any item), each value a parameter
        of its own (`db.Direct` runs no expanding ones)."""
        assert self.table is not None
        every = {i["name"]: i for i in self.items}
        for item, values in (self.grant.row_scope or {}).items():
            target, scope = compared(self.table.c[item], "", [_parse(every[item], v) for v in values])
            stmt = stmt.where(_compare(target, [literal(v, target.type) for v in scope], ""))
        return stmt

    def row_id(self, key: str) -> str:
        return rowids.row_id(self.grant.org_id, key)

    def values(self, found: Sequence[Any], first: int) -> list[dict[str, Any]]:
        """The columns of rows `found` from index `first` on, masked and as the JSON answer carries
        them (masked column by column: one rule lookup per item, not per value)."""
        columns = self.columns
        return [
            dict(zip(columns, values, strict=True))
            for values in zip(*self._columns(found, first), strict=True)
        ]

    def masked(self, found: Sequence[Any], first: int, key: int = 0) -> list[dict[str, Any]]:
        """Rows `found` (the store key at index `key`, the columns from index `first`) as returned:
        the department's row id, then the masked values."""
        ids = rowids.RowIds(self.grant.org_id).many([row[key] for row in found])
        keys = ("_row_id", *self.columns)
        # Every column has a value for each row, and each row a value for every key, by construction:
        # no `strict` checks on the 100 rows of a page.
        columns = zip(ids, *self._columns(found, first), strict=False)
        return [dict(zip(keys, values, strict=False)) for values in columns]

    def _columns(self, found: Sequence[Any], first: int) -> list[list[Any]]:
        if not found:
            return []
        columns = list(zip(*found, strict=True))[first:]
        masker = self.masker
        return [
            # A masked item's values are text or null already.
            masker.column(name, values) if masker.masks(name) else json_column(values)
            for name, values in zip(self.columns, columns, strict=True)
        ]

    def cursor(self, position: str) -> str:
        sealed = seal(position, purpose="rows-cursor", context=f"{self.resource.id}:{self.grant.id}")
        return base64.urlsafe_b64encode(sealed.encode()).decode().rstrip("=")

    def position(self, cursor: str | None, field: str) -> str | None:
        """The position a cursor of this grant stands for (422 for anything else). A page's cursor
        (`cursor`) holds a store key; the change feed's (`since`) a moment and a key, joined by `|`:
        one kind given for the other is refused too."""
        if cursor is None:
            return None
        try:
            sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            found = unseal(sealed, purpose="rows-cursor", context=f"{self.resource.id}:{self.grant.id}")
            if ("|" in found) != (field == "since"):
                raise ValueError("a cursor of the other kind")
            return found
        except (ValueError, SealError):
            raise Invalid(
                f"{field} 无效：请使用本资源上一次返回的游标（游标与授权绑定）。",
                "Bad cursor.",
                details={"field": field},
            ) from None


def _parse(item: dict[str, Any], text: str) -> Any:
    parse = TYPE_PARSERS.get(item["data_type"])
    try:
        return parse(text.strip()) if parse is not None else text.strip()
    except Refused as exc:
        raise Invalid(
            f"查询条件 {item['name']} 的值“{text[:50]}”无效：{exc}",
            "Bad filter value.",
            details={"field": item["name"]},
        ) from None


def parse_filters(
    query: list[tuple[str, str]], granted: dict[str, dict[str, Any]]
) -> tuple[list[tuple[str, str, list[Any]]], dict[str, list[str]]]:
    """(item, operator, values) from the query string: `item=v` (repeat for IN) and
    `item__gte=v` / `__lte` / `__gt` / `__lt`, on granted items only."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for name, value in query:
        if name in RESERVED:
            continue
        item, _, op = name.partition("__")
        if op and op not in OPERATORS:
            raise Invalid(
                f"不认识的查询条件 {name}：可用 字段=值（可重复）、字段__gte=、__lte=、__gt=、__lt=。",
                "Unknown filter operator.",
                details={"field": name},
            )
        if item not in granted:
            raise Invalid(
                f"{item} 不是授权给本单位的信息项，不能作为查询条件。",
                "Filter on an item outside the grant.",
                details={"field": item},
            )
        grouped.setdefault((item, op), []).append(value)
    filters = []
    for (item, op), texts in grouped.items():
        if op and len(texts) > 1:
            raise Invalid(
                f"条件 {item}__{op} 只能给一次。", "Repeated range filter.", details={"field": item}
            )
        if len(texts) > 500:
            raise Invalid("一个条件最多 500 个取值。", "Too many values.", details={"field": item})
        filters.append((item, op, [_parse(granted[item], t) for t in texts]))
    shown = {f"{i}__{o}" if o else i: [str(v) for v in vs] for i, o, vs in filters}
    return filters, shown


def condition(column: Column[Any], op: str, values: list[Any]) -> Any:
    """`column` compared with `values` by the filter's operator (see `parse_filters`)."""
    return _compare(*compared(column, op, values), op)


def compared(column: Column[Any], op: str, values: list[Any]) -> tuple[Column[Any], list[Any]]:
    """The column a filter on `column` compares and the values it compares it with: an item kept
    encrypted is compared through its blind index, for equality only."""
    if op and store.is_encrypted(column):
        raise Invalid(
            f"{column.name} 加密存储，只能按等于或多个取值查询，不能按范围查询。",
            "An encrypted item takes equality filters only.",
            details={"field": column.name},
        )
    return store.compared(column.table, column.name, values)


def _compare(column: Column[Any], values: list[Any], op: str) -> Any:
    if not op:
        return column == values[0] if len(values) == 1 else column.in_(values)
    value = values[0]
    return {"gte": column >= value, "lte": column <= value, "gt": column > value, "lt": column < value}[op]


_PLAIN = (str, int, float, type(None))
_PLAIN_TYPES = frozenset(_PLAIN)


def json_column(values: Sequence[Any]) -> list[Any]:
    """One column's values as the JSON answer carries them (decimals as exact text, dates in ISO
    form), so that the audited SM3 is that of the rows as returned."""
    if set(map(type, values)) <= _PLAIN_TYPES:
        return list(values)
    return [v if isinstance(v, _PLAIN) else v.isoformat() if isinstance(v, date) else str(v) for v in values]


_READINGS: generation.Cache[Reading] = generation.Cache()


def reading_for(
    db: Session, *, actor: Actor, resource_id: int, purpose: str | None, fields: str | None, channel: str
) -> Reading:
    """Everything a read under the caller's grant for `purpose` needs, or the refusal (audited).

    A reading of a resource that holds data is kept per caller, resource, purpose and fields while
    the tables it was read from stay as they were (`govshare.generation`) and its grant is in force
    by the clock; refusals are decided afresh every time."""
    require(actor, Action.data_consume)
    now_generation = generation.current(db)
    key = (
        actor.kind,
        actor.user_id,
        actor.system_id,
        actor.org_id,
        actor.roles,
        resource_id,
        purpose,
        fields,
    )
    kept = _READINGS.get(now_generation, key)
    if kept is not None and kept.grant.in_force(utcnow()):
        return kept
    reading = _reading(
        db, actor=actor, resource_id=resource_id, purpose=purpose, fields=fields, channel=channel
    )
    if reading.table is not None:
        _READINGS.put(now_generation, key, reading.detached())
    return reading


def _reading(
    db: Session, *, actor: Actor, resource_id: int, purpose: str | None, fields: str | None, channel: str
) -> Reading:
    try:
        resource = catalog.get_resource(db, actor=actor, resource_id=resource_id)
    except NotFound:
        raise _unknown(db, actor, resource_id, channel) from None
    if resource.provision_method != "table":
        raise Invalid("该资源不是库表类资源，没有数据行接口。", "Not a table resource.")
    purpose = " ".join((purpose or "").split())
    if not purpose:
        raise Invalid(
            "请用参数 purpose 说明本次调用的用途（与授权时申报的用途一致）。",
            "purpose is required.",
            details={"field": "purpose"},
        )
    grant = grant_for_use(db, actor=actor, resource=resource, purpose=purpose, channel=channel)
    items = published_items(db, resource)
    masker = row_masker(db, [i for i in items if i["name"] in grant.items], grant.masking_profile)
    granted = {i["name"]: i for i in items if i["name"] in grant.items and i["name"] not in masker.dropped}
    columns = list(granted)
    if fields:
        wanted = [f.strip() for f in fields.split(",") if f.strip()]
        outside = [f for f in wanted if f not in granted]
        if outside:
            raise Invalid(
                f"这些信息项不在本单位的授权内：{'、'.join(outside)}。",
                "fields outside the grant.",
                details={"field": "fields"},
            )
        columns = [c for c in columns if c in wanted]
    table = store.table_for(db, resource.id, items) if store.exists(db, resource.id) else None
    return Reading(resource, grant, purpose, items, granted, columns, masker, table)


def _unknown(db: Session, actor: Actor, resource_id: int, channel: str) -> NotFound:
    """A call for a resource that does not exist or that the caller may not see: refused like a
    call without a grant, and audited as one (`denial_burst` counts them: a system trying resource
    numbers in turn is probing the catalog)."""
    details = carry_token_use(
        db, {"reason": "unknown_resource", "channel": channel, "system_id": actor.system_id}
    )
    later(
        db,
        lambda w: audit.record(
            w,
            EventType.data_refused,
            actor=actor,
            object_type="resources",
            object_id=resource_id,
            outcome="denied",
            org_id=actor.org_id,
            details=details,
        ),
        fusable=True,
    )
    return NotFound(
        "找不到该目录条目，或本单位无权查看。请在共享目录中确认资源编号。",
        f"Resource #{resource_id} not found.",
        keep_changes=True,
    )


def _limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(
            f"limit 应在 1 到 {MAX_LIMIT} 之间。", "limit out of range.", details={"field": "limit"}
        )


def rows_json(rows: list[Any]) -> bytes:
    """The JSON of delivered rows (UTF-8), exactly as the answer carries it and as its SM3 is taken.

    orjson writes what `json.dumps(rows, ensure_ascii=False, separators=(",", ":"))` writes, a tenth
    of the time; the standard encoder takes what orjson refuses (an integer beyond 64 bits)."""
    try:
        return orjson.dumps(rows)
    except orjson.JSONEncodeError:
        return json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()


def _delivered(
    db: Session, actor: Actor, reading: Reading, rows: list[Any], channel: str, **details: Any
) -> tuple[bytes, str]:
    """Audit one delivery (written after the reads: see `db.later`); returns the rows' JSON and its
    SM3."""
    text = rows_json(rows)
    digest = sm3_hex(text)
    resource, grant, count = reading.resource, reading.grant, len(rows)
    event = carry_token_use(
        db,
        {
            "grant_id": grant.id,
            "system_id": actor.system_id,
            "purpose": reading.purpose,
            "fields": reading.columns,
            "rows": count,
            "sm3": digest,
            **details,
        },
    )

    def write(w: Writes) -> None:
        record_use(
            w,
            actor=actor,
            resource_id=resource.id,
            purpose=reading.purpose,
            channel=channel,
            grant=grant,
            rows=count,
        )
        audit.record(
            w, EventType.data_delivered, actor=actor, obj=resource, org_id=actor.org_id, details=event
        )

    later(db, write, fusable=True)
    return text, digest


def _fixed(limit: int) -> Any:
    """A page size written into the statement, not bound: PostgreSQL plans a prepared statement whose
    LIMIT is a parameter afresh on every execution (its generic plan, costed for an unknown limit,
    never wins: 0.1 ms of the database's CPU a call), where one with a fixed LIMIT keeps its plan."""
    return literal_column(str(int(limit)), Integer)


PAGES_KEPT = 64  # page statements kept per reading: one for each shape of filters asked


def _page(
    reading: Reading, filters: list[tuple[str, str, list[Any]]], after: str | None, size: int
) -> tuple[Select[Any], dict[str, Any]]:
    """Live rows under the grant and `filters`, after the key `after`, in key order, `size` of them:
    the statement and its values.

    The statement takes every value as a parameter, so one is built per shape of the filters
    (which items, which operators, how many values; whether there is a cursor) and kept with the
    reading: a data call then runs a statement compiled before (`db.Direct`)."""
    table = reading.table
    assert table is not None
    params: dict[str, Any] = {"after": after} if after is not None else {}
    for i, (item, op, values) in enumerate(filters):
        _target, compared_values = compared(table.c[item], op, values)
        params.update({f"f{i}_{j}": value for j, value in enumerate(compared_values)})
    shape = (tuple((item, op, len(values)) for item, op, values in filters), after is not None, size)
    stmt = reading.pages.get(shape)
    if stmt is None:
        stmt = reading.scoped(
            select(table.c._key, *(table.c[c] for c in reading.columns)).where(table.c._retired_at.is_(None))
        )
        for i, (item, op, count) in enumerate(shape[0]):
            target, _values = compared(table.c[item], op, [])
            binds = [bindparam(f"f{i}_{j}", type_=target.type) for j in range(count)]
            stmt = stmt.where(_compare(target, binds, op))
        if after is not None:
            stmt = stmt.where(table.c._key > bindparam("after", type_=table.c._key.type))
        stmt = stmt.order_by(table.c._key).limit(_fixed(size))
        if len(reading.pages) >= PAGES_KEPT:
            reading.pages.clear()
        reading.pages[shape] = stmt
    return stmt, params


def read_rows(
    db: Session,
    *,
    actor: Actor,
    resource_id: int,
    purpose: str | None,
    query: list[tuple[str, str]],
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    fields: str | None = None,
) -> Delivery:
    """A page of live rows under the caller's grant for `purpose`, filtered, in key order."""
    reading = reading_for(
        db, actor=actor, resource_id=resource_id, purpose=purpose, fields=fields, channel="rows"
    )
    _limit(limit)
    after = reading.position(cursor, "cursor")
    filters, shown = parse_filters(query, reading.granted)
    rows: list[dict[str, Any]] = []
    next_cursor = None
    table = reading.table
    if table is not None and reading.columns:
        found = Direct.of(db).execute(*_page(reading, filters, after, limit + 1))
        if len(found) > limit:
            found = Rows(found[:limit])
            next_cursor = reading.cursor(found[-1][0])
        rows = reading.masked(found, 1)
    text, digest = _delivered(db, actor, reading, rows, "rows", filters=shown, page=cursor is not None)
    return Delivery(
        resource=reading.resource,
        grant=reading.grant,
        columns=reading.columns,
        rows=rows,
        next_cursor=next_cursor,
        masking={c: reading.masker.rules.get(c, "原样") for c in reading.columns},
        sm3=digest,
        filters=shown,
        rows_json=text,
    )


def export_rows(
    db: Session, reading: Reading, query: list[tuple[str, str]], *, page: int = 5000
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every live row under `reading` and the filters in `query`, in key order, as (store key, masked
    values), read in keyset pages of `page` rows so that memory stays flat."""
    table = reading.table
    if table is None or not reading.columns:
        return
    filters, _shown = parse_filters(query, reading.granted)
    after: str | None = None
    while True:
        found = db.execute(*_page(reading, filters, after, page)).all()
        for row, values in zip(found, reading.values(found, 1), strict=True):
            yield row._key, values
        if len(found) < page:
            return
        after = found[-1]._key


@dataclass
class Changes:
    resource: Resource
    grant: Grant
    columns: list[str]
    changes: list[dict[str, Any]]
    cursor: str
    more: bool
    sm3: str


def read_changes(
    db: Session,
    *,
    actor: Actor,
    resource_id: int,
    purpose: str | None,
    since: str | None,
    limit: int = DEFAULT_LIMIT,
    fields: str | None = None,
) -> Changes:
    """What changed since the cursor `since` (from the start without it), in the order it changed:
    `{"op": "upsert", "_row_id", "row"}` for a row written (new or changed) and `{"op": "retire",
    "_row_id"}` for one retired. Keep the returned `cursor` and ask again with it to stay current.

    A row's change time is when the batch that last wrote or retired it was received; batches of one
    resource are applied one at a time, so those times only grow in commit order."""
    reading = reading_for(
        db, actor=actor, resource_id=resource_id, purpose=purpose, fields=fields, channel="changes"
    )
    _limit(limit)
    position = reading.position(since, "since")
    at, key = position.split("|", 1) if position else (None, None)
    changes: list[dict[str, Any]] = []
    cursor, more = since or reading.cursor("|"), False
    table = reading.table
    if table is not None:
        changed = case(
            (
                and_(table.c._retired_at.is_not(None), table.c._retired_at > table.c._received_at),
                table.c._retired_at,
            ),
            else_=table.c._received_at,
        )
        stmt = reading.scoped(
            select(
                changed.label("changed"),
                table.c._key,
                table.c._retired_at,
                *(table.c[c] for c in reading.columns),
            )
        )
        if at:
            moment = datetime.fromisoformat(at)
            stmt = stmt.where(or_(changed > moment, and_(changed == moment, table.c._key > key)))
        found = db.execute(stmt.order_by(changed, table.c._key).limit(_fixed(limit + 1))).all()
        more = len(found) > limit
        found = found[:limit]
        for row, masked in zip(found, reading.masked(found, 3, key=1), strict=True):
            if row._retired_at is not None:
                changes.append({"op": "retire", "_row_id": masked["_row_id"]})
            else:
                changes.append({"op": "upsert", **masked})
        if found:
            last = found[-1]
            moment = (
                last.changed
                if isinstance(last.changed, datetime)
                else datetime.fromisoformat(str(last.changed))
            )
            cursor = reading.cursor(f"{_utc(moment).isoformat()}|{last._key}")
    _text, digest = _delivered(db, actor, reading, changes, "changes")
    return Changes(reading.resource, reading.grant, reading.columns, changes, cursor, more, digest)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
