"""The data API of 库表 resources: rows delivered under a grant (M17, S22, S23, S25).

`GET /api/v1/resources/{id}/rows?purpose=…` answers only a caller whose department (and, for a
grant bound to one, whose business system) holds an active grant for that purpose. Before any byte
leaves, the grant is applied in SQL — its items are the only columns read and the only ones that may
be filtered on, its row scope is a `WHERE` — and its masking profile on every value. Every call is
audited: who, which system, purpose, filters, row count and the SM3 of what was returned; a refused
call is audited too (no grant, or a purpose that does not match one).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Column, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.catalog import service as catalog
from govshare.catalog.models import Resource
from govshare.crypto import sm3_hex
from govshare.errors import Invalid
from govshare.exchange import store
from govshare.exchange.access import published_items
from govshare.exchange.quality import TYPE_PARSERS, Refused
from govshare.sharing.models import Grant
from govshare.sharing.service import grant_for_use

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
RESERVED = frozenset({"purpose", "limit", "cursor", "fields", "format"})
OPERATORS = {"gte": "≥", "lte": "≤", "gt": ">", "lt": "<"}
_CURSOR = re.compile(r"[0-9a-f]{64}")


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


def _filters(
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


def _condition(column: Column[Any], op: str, values: list[Any]) -> Any:
    if not op:
        return column == values[0] if len(values) == 1 else column.in_(values)
    value = values[0]
    return {"gte": column >= value, "lte": column <= value, "gt": column > value, "lt": column < value}[op]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """Values as the JSON answer carries them (decimals as exact text, dates in ISO form), so that the
    audited SM3 is that of the rows as returned."""
    return {
        k: v
        if v is None or isinstance(v, str | int | float)
        else v.isoformat()
        if isinstance(v, date)
        else str(v)
        for k, v in row.items()
    }


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
    require(actor, Action.data_consume)
    resource = catalog.get_resource(db, actor=actor, resource_id=resource_id)
    if resource.provision_method != "table":
        raise Invalid("该资源不是库表类资源，没有数据行接口。", "Not a table resource.")
    purpose = " ".join((purpose or "").split())
    if not purpose:
        raise Invalid(
            "请用参数 purpose 说明本次调用的用途（与授权时申报的用途一致）。",
            "purpose is required.",
            details={"field": "purpose"},
        )
    grant = grant_for_use(db, actor=actor, resource=resource, purpose=purpose)
    items = published_items(db, resource)
    from govshare.masking import row_masker  # TEMP until the masking branch merges

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
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(
            f"limit 应在 1 到 {MAX_LIMIT} 之间。", "limit out of range.", details={"field": "limit"}
        )
    if cursor is not None and not _CURSOR.fullmatch(cursor):
        raise Invalid(
            "cursor 无效：请使用上一页返回的 next_cursor。", "Bad cursor.", details={"field": "cursor"}
        )
    filters, shown = _filters(query, granted)

    rows: list[dict[str, Any]] = []
    next_cursor = None
    if store.exists(db, resource.id) and columns:
        table = store.table_for(db, resource.id, items)
        stmt = select(table.c._key, *(table.c[c] for c in columns)).where(table.c._retired_at.is_(None))
        every = {i["name"]: i for i in items}
        for item, values in (grant.row_scope or {}).items():  # the provider's scope, on any item
            stmt = stmt.where(table.c[item].in_([_parse(every[item], v) for v in values]))
        for item, op, values in filters:
            stmt = stmt.where(_condition(table.c[item], op, values))
        if cursor is not None:
            stmt = stmt.where(table.c._key > cursor)
        found = db.execute(stmt.order_by(table.c._key).limit(limit + 1)).all()
        if len(found) > limit:
            found = found[:limit]
            next_cursor = found[-1]._key
        rows = [_jsonable(masker(dict(zip(columns, row[1:], strict=True)))) for row in found]
    body = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    digest = sm3_hex(body.encode())
    audit.record(
        db,
        EventType.data_delivered,
        actor=actor,
        obj=resource,
        org_id=actor.org_id,
        details={
            "grant_id": grant.id,
            "system_id": actor.system_id,
            "purpose": purpose,
            "filters": shown,
            "fields": columns,
            "rows": len(rows),
            "sm3": digest,
            "cursor": cursor,
        },
    )
    return Delivery(
        resource=resource,
        grant=grant,
        columns=columns,
        rows=rows,
        next_cursor=next_cursor,
        masking={c: masker.rules.get(c, "原样") for c in columns},
        sm3=digest,
        filters=shown,
    )
