"""Data provision pages for providers and the Bureau (S14, S15, M13 ¶2): a 库表 resource's data page
(rows in the store, timeliness, batches with their quality, a chart), a batch's manifest with its
quarantined rows and their CSV download, and the timeliness list.

Everything here is read-only and guarded by `provision_view`: the providing department's data
administrator and security officer, and the Bureau city-wide. The /catalog/{resource_id}/data paths
are routed before `catalog.views`, whose /catalog/{resource_id} pages they extend.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.catalog.models import Resource, ResourceVersion
from govshare.catalog.vocab import EntryStatus, ProvisionMethod, Sensitivity, UpdateCycle
from govshare.encryption import cells as encrypted_cells
from govshare.errors import Invalid, NotFound
from govshare.exchange import store, trace
from govshare.exchange.access import batch_of, provision_resource
from govshare.exchange.body import REASON_COLUMN
from govshare.exchange.models import Batch, QuarantinedRow
from govshare.exchange.timeliness import Timeliness, timeliness
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams
from govshare.systems.models import BusinessSystem
from govshare.users.models import User
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import page_context
from govshare.web.templating import beijing, render

router = APIRouter(include_in_schema=False)

MODE_LABELS = {"upsert": "增量更新", "snapshot": "全量快照", "delete": "删除"}
FORMAT_LABELS = {"csv": "CSV", "json": "JSON", "ndjson": "NDJSON"}
SOURCE_LABELS = {"push": "接口推送", "cli": "命令行", "sync": "前置库同步", "demo": "演示数据"}
QUARANTINE_STATES = {"open": "待处理", "resubmitted": "已重新提交", "dismissed": "已忽略"}
WARN_SCORE, ERR_SCORE = 95.0, 80.0  # quality scores below these are shown as a warning / an error
CHART_BATCHES = 30  # the chart shows the newest batches, oldest on the left
# Cells a spreadsheet would read as a formula (CSV injection); they get a leading apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def score_tag(score: float) -> str:
    """The tag class of a quality score: below 80 an error, below 95 a warning."""
    if score < ERR_SCORE:
        return "err"
    if score < WARN_SCORE:
        return "warn"
    return "ok"


def _table_resource(db: Session, actor: Actor, resource_id: int) -> Resource:
    """The 库表 resource whose data `actor` may look at (NotFound, Forbidden otherwise)."""
    resource = provision_resource(db, actor=actor, resource_id=resource_id, action=Action.provision_view)
    if resource.provision_method != ProvisionMethod.table.value:
        raise NotFound(
            "该目录条目不是库表类资源，没有数据批次；文件和接口服务类资源的提供情况见目录条目页。",
            f"Resource #{resource_id} is not a table resource.",
        )
    return resource


def _items(db: Session, resource: Resource, number: int | None = None) -> list[dict[str, Any]]:
    """The items of the resource's version `number`, or of its published version."""
    stmt = select(ResourceVersion.items).where(ResourceVersion.resource_id == resource.id)
    if number is not None:
        stmt = stmt.where(ResourceVersion.number == number)
    elif resource.published_version_id is not None:
        stmt = stmt.where(ResourceVersion.id == resource.published_version_id)
    else:
        return []
    return list(db.scalar(stmt) or [])


@dataclass(frozen=True)
class RowCounts:
    current: int
    retired: int


def _row_counts(db: Session, resource: Resource) -> RowCounts:
    """Rows in the resource's store: current ones, and those retired by a snapshot or a delete."""
    if not store.exists(db, resource.id):
        return RowCounts(0, 0)
    table = store.table_for(db, resource.id, [])
    retired = func.count().filter(table.c._retired_at.is_not(None))
    row = db.execute(select(func.count(), retired).select_from(table)).one()
    return RowCounts(current=int(row[0]) - int(row[1]), retired=int(row[1]))


def _names(db: Session, key: Any, name: Any, ids: set[int]) -> dict[int, str]:
    return {k: v for k, v in db.execute(select(key, name).where(key.in_(ids)))} if ids else {}


def _sources(db: Session, batches: Iterable[Batch]) -> dict[str, str]:
    """Who sent each batch: the business system's name, the person's name, or the channel."""
    batches = list(batches)
    system_ids = {b.system_id for b in batches if b.system_id is not None}
    user_ids = {b.user_id for b in batches if b.user_id is not None}
    systems = _names(db, BusinessSystem.id, BusinessSystem.name, system_ids)
    users = _names(db, User.id, User.display_name, user_ids)
    labels: dict[str, str] = {}
    for b in batches:
        channel = SOURCE_LABELS.get(b.source, b.source)
        if b.system_id is not None:
            labels[b.id] = f"业务系统：{systems.get(b.system_id, f'#{b.system_id}')}"
        elif b.source == "cli":
            labels[b.id] = "命令行"
        elif b.user_id is not None:
            labels[b.id] = f"人员：{users.get(b.user_id, f'#{b.user_id}')}（{channel}）"
        else:
            labels[b.id] = channel
    return labels


@dataclass(frozen=True)
class LineageRow:
    """One source of the resource's data: a business system (or a person, or the CLI) and a channel."""

    source: str
    channel: str
    batches: int
    accepted: int
    live_rows: int
    first_at: Any
    last_at: Any
    last_batch_id: str


def _lineage(db: Session, resource: Resource) -> list[LineageRow]:
    """Where the data came from (S14): per source system and channel, its batches and the current rows
    it last wrote — from the batches' manifests and the store's provenance column `_system_id`."""
    groups = db.execute(
        select(
            Batch.system_id,
            Batch.source,
            func.count(),
            func.sum(Batch.accepted),
            func.min(Batch.received_at),
            func.max(Batch.received_at),
        )
        .where(Batch.resource_id == resource.id)
        .group_by(Batch.system_id, Batch.source)
        .order_by(func.max(Batch.received_at).desc())
    ).all()
    if not groups:
        return []
    live: dict[int | None, int] = {}
    if store.exists(db, resource.id):
        table = store.table_for(db, resource.id, [])
        live = {
            system_id: int(count)
            for system_id, count in db.execute(
                select(table.c._system_id, func.count())
                .where(table.c._retired_at.is_(None))
                .group_by(table.c._system_id)
            )
        }
    systems = _names(db, BusinessSystem.id, BusinessSystem.name, {g[0] for g in groups if g[0] is not None})
    rows = []
    for system_id, channel, count, accepted, first_at, last_at in groups:
        same_system = Batch.system_id.is_(None) if system_id is None else Batch.system_id == system_id
        last = db.scalar(
            select(Batch.id)
            .where(Batch.resource_id == resource.id, Batch.source == channel, same_system)
            .order_by(Batch.received_at.desc())
            .limit(1)
        )
        rows.append(
            LineageRow(
                source=f"业务系统：{systems.get(system_id, f'#{system_id}')}"
                if system_id
                else "人员或命令行",
                channel=SOURCE_LABELS.get(channel, channel),
                batches=int(count),
                accepted=int(accepted or 0),
                # Rows carry their system, not the channel: they are counted on the system's newest line.
                live_rows=live.pop(system_id, 0),
                first_at=first_at,
                last_at=last_at,
                last_batch_id=str(last),
            )
        )
    return rows


def _chart(batches: list[Batch]) -> dict[str, Any]:
    """ECharts option: accepted and quarantined rows per batch (stacked bars), quality score (line)."""
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "legend": {"top": 0},
        "grid": {"left": 56, "right": 56, "top": 36, "bottom": 48},
        "xAxis": {"type": "category", "data": [beijing(b.received_at, "%m-%d %H:%M") for b in batches]},
        "yAxis": [
            {"type": "value", "name": "行数", "minInterval": 1},
            {"type": "value", "name": "质量得分", "min": 0, "max": 100},
        ],
        "series": [
            {
                "name": "入库",
                "type": "bar",
                "stack": "rows",
                "color": "#2e7d32",
                "data": [b.accepted for b in batches],
            },
            {
                "name": "隔离",
                "type": "bar",
                "stack": "rows",
                "color": "#c62828",
                "data": [b.quarantined for b in batches],
            },
            {
                "name": "质量得分",
                "type": "line",
                "yAxisIndex": 1,
                "color": "#1565c0",
                "data": [b.quality_score for b in batches],
            },
        ],
    }


def _labels() -> dict[str, Any]:
    return {
        "mode_labels": MODE_LABELS,
        "format_labels": FORMAT_LABELS,
        "cycle_labels": dict(UpdateCycle.choices()),
        "score_tag": score_tag,
    }


@router.get("/catalog/{resource_id}/data", response_class=HTMLResponse)
def data_page(
    resource_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    resource = _table_resource(db, actor, resource_id)
    params = PageParams(page=page)
    newest_first = select(Batch).where(Batch.resource_id == resource.id).order_by(Batch.received_at.desc())
    total = db.scalar(select(func.count()).where(Batch.resource_id == resource.id)) or 0
    batches = list(db.scalars(newest_first.offset(params.offset).limit(params.page_size)))
    recent = list(reversed(list(db.scalars(newest_first.limit(CHART_BATCHES)))))
    due = next((t for t in timeliness(db, actor=actor) if t.resource_id == resource.id), None)
    return render(
        request,
        "exchange/data.html",
        {
            "resource": resource,
            "provider": db.get(Organisation, resource.org_id),
            "published": resource.status == EntryStatus.published.value,
            "counts": _row_counts(db, resource),
            "timely": due,
            "batches": batches,
            "sources": _sources(db, batches),
            "lineage": _lineage(db, resource),
            "chart": _chart(recent) if recent else None,
            "columns": [i["name"] for i in _items(db, resource)],
            "api_base": f"{str(request.base_url).rstrip('/')}/api/v1",
            **_labels(),
            **page_context(params, total),
        },
    )


@dataclass(frozen=True)
class Column:
    name: str
    title: str


def _columns(db: Session, resource: Resource, batch: Batch) -> list[Column]:
    """The fields of the batch's quarantined rows, in the order of the catalog version it was checked
    against (a field the catalog no longer knows comes last)."""
    present: dict[str, None] = {}
    for data in db.scalars(
        select(QuarantinedRow.data)
        .where(QuarantinedRow.batch_id == batch.id)
        .execution_options(yield_per=1000)
    ):
        present.update(dict.fromkeys(data))
    items = _items(db, resource, batch.version_number)
    known = [Column(i["name"], i["title"]) for i in items if i["name"] in present]
    names = {i["name"] for i in items}
    return known + [Column(name, name) for name in present if name not in names]


@router.get("/catalog/{resource_id}/data/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(
    resource_id: int,
    batch_id: str,
    request: Request,
    actor: CurrentActor,
    db: DB,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    resource = _table_resource(db, actor, resource_id)
    batch = batch_of(db, resource, batch_id)
    params = PageParams(page=page)
    rows = list(
        db.scalars(
            select(QuarantinedRow)
            .where(QuarantinedRow.batch_id == batch.id)
            .order_by(QuarantinedRow.line_no, QuarantinedRow.id)
            .offset(params.offset)
            .limit(params.page_size)
        )
    )
    return render(
        request,
        "exchange/batch.html",
        {
            "resource": resource,
            "batch": batch,
            "provider": db.get(Organisation, batch.org_id),
            "source": _sources(db, [batch])[batch.id],
            "source_channel": SOURCE_LABELS.get(batch.source, batch.source),
            "reasons": list((batch.report or {}).get("reasons", {}).items()),
            "not_found": (batch.report or {}).get("not_found", 0),
            "sensitivity": (batch.report or {}).get("sensitivity", []),
            "migrations": (batch.report or {}).get("migrations", []),
            "sensitivity_labels": dict(Sensitivity.choices()),
            "columns": _columns(db, resource, batch) if batch.quarantined else [],
            "rows": rows,
            "data_of": {row.id: encrypted_cells.reveal(db, resource.id, row.data) for row in rows},
            "row_states": QUARANTINE_STATES,
            **_labels(),
            **page_context(params, batch.quarantined),
        },
    )


def neutralise(cell: str) -> str:
    """A cell as a spreadsheet will show it, never run it: one starting like a formula (=, +, -, @,
    or a tab or carriage return) gets a leading apostrophe (OWASP CSV injection)."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def reason_text(reasons: list[dict[str, str]]) -> str:
    """A row's reasons in one cell: "title：problem（value）", separated by "；"."""
    parts = []
    for r in reasons:
        text = f"{r['title']}：{r['reason']}" if r.get("title") else r["reason"]
        if r.get("value"):
            text += f"（值：{r['value']}）"
        parts.append(text)
    return "；".join(parts)


def _write_csv(db: Session, batch: Batch, columns: list[Column], out: IO[bytes]) -> None:
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")  # the BOM makes Excel read UTF-8
    writer = csv.writer(text)
    writer.writerow([neutralise(c) for c in [*(c.name for c in columns), REASON_COLUMN]])
    rows = db.scalars(
        select(QuarantinedRow)
        .where(QuarantinedRow.batch_id == batch.id)
        .order_by(QuarantinedRow.line_no, QuarantinedRow.id)
        .execution_options(yield_per=1000)
    )
    for row in rows:
        data = encrypted_cells.reveal(db, batch.resource_id, row.data)
        values = [str(data.get(c.name, "")) for c in columns]
        writer.writerow([neutralise(cell) for cell in [*values, reason_text(row.reasons)]])
    text.flush()
    text.detach()


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := file.read(64 * 1024):
            yield chunk
    finally:
        file.close()


@router.get("/catalog/{resource_id}/data/batches/{batch_id}/quarantine.csv", response_class=Response)
def quarantine_csv(resource_id: int, batch_id: str, actor: CurrentActor, db: DB) -> Response:
    """The batch's quarantined rows as CSV (UTF-8 with BOM): the row's fields, as received, and the
    reasons, for the provider to fix at the source and send again."""
    resource = _table_resource(db, actor, resource_id)
    batch = batch_of(db, resource, batch_id)
    # Written while the request's unit of work is open, then streamed; beyond 8 MB it goes to disk.
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - closed by _chunks
    _write_csv(db, batch, _columns(db, resource, batch), out)
    out.seek(0)
    # Quarantined rows are personal data like any other: their delivery is on record.
    audit.record(
        db,
        EventType.quarantine_exported,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={"batch_id": batch.id, "rows": batch.quarantined},
    )
    short = batch.id[:8]
    disposition = (
        f'attachment; filename="quarantine-{resource.id}-{short}.csv"; '
        f"filename*=UTF-8''{quote(f'{resource.name}-隔离数据-{short}.csv')}"
    )
    return StreamingResponse(
        _chunks(out), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition}
    )


def _late_first(row: Timeliness) -> tuple[bool, bool, int, str]:
    # Never provided first, then the longest overdue, then the on-time ones by code.
    return (not row.late, row.last_update is not None, -row.days_late, row.code)


@router.get("/provision/timeliness", response_class=HTMLResponse)
def timeliness_page(
    request: Request,
    actor: CurrentActor,
    db: DB,
    late_only: Annotated[str, Query(max_length=8)] = "",
    provider: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    require(actor, Action.provision_view)
    rows = sorted(timeliness(db, actor=actor), key=_late_first)
    providers = sorted({r.provider for r in rows})
    shown = [r for r in rows if (not late_only or r.late) and (not provider or r.provider == provider)]
    return render(
        request,
        "exchange/timeliness.html",
        {
            "rows": shown,
            "late_count": sum(1 for r in shown if r.late),
            "late_only": bool(late_only),
            "providers": providers,
            "provider": provider,
            "cycle_labels": dict(UpdateCycle.choices()),
        },
    )


@router.get("/catalog/{resource_id}/data/trace", response_class=HTMLResponse)
def trace_page(resource_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    """Trace a row by its business key: the form, and the row's provenance once keys are given."""
    resource = _table_resource(db, actor, resource_id)
    key_items = [i for i in _items(db, resource) if i.get("is_key")]
    given = {i["name"]: request.query_params.get(i["name"], "")[:200] for i in key_items}
    result, error = None, None
    if any(v.strip() for v in given.values()):
        try:
            with db.begin_nested():
                result = trace.trace(db, actor=actor, resource_id=resource.id, key_values=given)
        except Invalid as exc:
            error = exc.message
    return render(
        request,
        "exchange/trace.html",
        {
            "resource": resource,
            "key_items": key_items,
            "given": given,
            "result": result,
            "error": error,
            "source_labels": SOURCE_LABELS,
        },
        status_code=422 if error else 200,
    )
