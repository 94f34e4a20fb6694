"""Push ingest API: business systems and data administrators deliver batches; providers read their
batches' manifests and quarantined rows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from govshare.authz import Action, Actor, require
from govshare.encryption import cells
from govshare.exchange import files, rules, trace
from govshare.exchange.access import batch_of, provision_resource
from govshare.exchange.body import BatchRequest, Mode, Spooler
from govshare.exchange.ingest import ingest
from govshare.exchange.models import Batch, QualityRule, QuarantinedRow
from govshare.exchange.rules import RuleIn, RuleOut
from govshare.exchange.timeliness import timeliness
from govshare.pagination import Page, PageParams, paginate
from govshare.settings import get_settings
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1", tags=["data provision"])


class BatchOut(BaseModel):
    batch_id: str
    resource_id: int
    status: str
    mode: str
    format: str
    source: str
    rows_received: int
    accepted: int
    quarantined: int
    inserted: int
    updated: int
    unchanged: int
    retired: int
    quality_score: float
    content_sm3: str
    size_bytes: int
    system_id: int | None
    user_id: int | None
    catalog_version: int
    received_at: datetime
    finished_at: datetime | None
    report: dict[str, Any]


def batch_out(batch: Batch) -> BatchOut:
    return BatchOut(
        batch_id=batch.id,
        resource_id=batch.resource_id,
        status=batch.status,
        mode=batch.mode,
        format=batch.format,
        source=batch.source,
        rows_received=batch.rows_received,
        accepted=batch.accepted,
        quarantined=batch.quarantined,
        inserted=batch.inserted,
        updated=batch.updated,
        unchanged=batch.unchanged,
        retired=batch.retired,
        quality_score=batch.quality_score,
        content_sm3=batch.content_sm3,
        size_bytes=batch.size_bytes,
        system_id=batch.system_id,
        user_id=batch.user_id,
        catalog_version=batch.version_number,
        received_at=batch.received_at,
        finished_at=batch.finished_at,
        report=batch.report,
    )


@router.post(
    "/resources/{resource_id}/batches",
    response_model=BatchOut,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
            "required": True,
        }
    },
)
async def push_batch(
    resource_id: int,
    request: Request,
    response: Response,
    actor: CurrentActor,
    db: DB,
    mode: Mode = Mode.upsert,
    encoding: Annotated[
        str | None, Query(max_length=32, description="e.g. gb18030; detected if absent")
    ] = None,
    allow_mass_retire: bool = False,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
    x_content_sm3: Annotated[str | None, Header(max_length=64)] = None,
) -> BatchOut:
    """Deliver rows of a 库表 resource (CSV with the items' names as header, a JSON array of objects,
    or NDJSON). Modes: `upsert` (default), `snapshot` (rows absent are retired, not lost), `delete`.
    The whole batch is applied or nothing is; rows failing quality rules are quarantined with reasons.
    A repeated `Idempotency-Key` with the same body returns the first result (200)."""
    spooler = Spooler(get_settings().max_batch_bytes)
    async for chunk in request.stream():
        spooler.feed(chunk)
    body = spooler.done()
    req = BatchRequest(
        resource_id=resource_id,
        body=body,
        content_type=request.headers.get("content-type", ""),
        mode=mode,
        encoding=encoding,
        idempotency_key=idempotency_key,
        declared_sm3=x_content_sm3,
        source="push",
        allow_mass_retire=allow_mass_retire,
    )
    try:
        batch, replayed = await run_in_threadpool(
            ingest, db, actor=actor, req=req, max_retire_ratio=get_settings().snapshot_max_retire_ratio
        )
    finally:
        body.file.close()
    if replayed:
        response.status_code = 200
    return batch_out(batch)


def _batch(db: Session, actor: Actor, resource_id: int, batch_id: str) -> Batch:
    resource = provision_resource(db, actor=actor, resource_id=resource_id, action=Action.provision_view)
    return batch_of(db, resource, batch_id)


@router.get("/resources/{resource_id}/batches", response_model=Page[BatchOut])
def list_batches(
    resource_id: int, actor: CurrentActor, db: DB, params: Annotated[PageParams, Depends()]
) -> Page[BatchOut]:
    """The resource's batches, newest first (the provider's department and the Bureau)."""
    resource = provision_resource(db, actor=actor, resource_id=resource_id, action=Action.provision_view)
    rows, total = paginate(
        db, select(Batch).where(Batch.resource_id == resource.id).order_by(Batch.received_at.desc()), params
    )
    return Page[BatchOut](
        items=[batch_out(b) for b in rows], total=total, page=params.page, page_size=params.page_size
    )


@router.get("/resources/{resource_id}/batches/{batch_id}", response_model=BatchOut)
def get_batch(resource_id: int, batch_id: str, actor: CurrentActor, db: DB) -> BatchOut:
    return batch_out(_batch(db, actor, resource_id, batch_id))


class QuarantinedOut(BaseModel):
    id: int
    line_no: int
    data: dict[str, Any]
    reasons: list[dict[str, str]]
    status: str


@router.get("/resources/{resource_id}/batches/{batch_id}/quarantine", response_model=Page[QuarantinedOut])
def quarantine(
    resource_id: int, batch_id: str, actor: CurrentActor, db: DB, params: Annotated[PageParams, Depends()]
) -> Page[QuarantinedOut]:
    """Rows of the batch that failed the quality rules, with every reason, to fix and send again."""
    batch = _batch(db, actor, resource_id, batch_id)
    rows, total = paginate(
        db,
        select(QuarantinedRow).where(QuarantinedRow.batch_id == batch.id).order_by(QuarantinedRow.line_no),
        params,
    )
    return Page[QuarantinedOut](
        items=[
            QuarantinedOut(
                id=r.id,
                line_no=r.line_no,
                data=cells.reveal(db, resource_id, r.data),
                reasons=r.reasons,
                status=r.status,
            )
            for r in rows
        ],
        total=total,
        page=params.page,
        page_size=params.page_size,
    )


class TimelinessOut(BaseModel):
    resource_id: int
    code: str
    name: str
    provider: str
    update_cycle: str
    last_update: datetime | None
    due: datetime | None
    late: bool
    days_late: int


@router.get("/provision/timeliness", response_model=list[TimelinessOut])
def provision_timeliness(actor: CurrentActor, db: DB, late_only: bool = False) -> list[TimelinessOut]:
    """Published 库表 resources with their last successful batch against the update cycle (M13 ¶2,
    M24(2)): a department sees its own, the Bureau all. Never-provided resources count as late."""
    require(actor, Action.provision_view)
    return [TimelinessOut(**row.__dict__) for row in timeliness(db, actor=actor, late_only=late_only)]


@router.get("/resources/{resource_id}/quality-rules", response_model=list[RuleOut])
def get_quality_rules(resource_id: int, actor: CurrentActor, db: DB) -> list[RuleOut]:
    """The provider's own quality rules of a resource (beyond those its catalog items imply)."""
    return [_rule_out(r) for r in rules.list_rules(db, actor=actor, resource_id=resource_id)]


@router.put("/resources/{resource_id}/quality-rules", response_model=list[RuleOut])
def put_quality_rules(resource_id: int, data: list[RuleIn], actor: CurrentActor, db: DB) -> list[RuleOut]:
    """Replace the provider's quality rules: `regex` (pattern), `enum` (values), `range` (min/max,
    numbers or dates), `length` (min/max) and `unique` (no two live rows share a value; not for
    business-key items, which are unique already) per item; they apply to the next batches."""
    return [_rule_out(r) for r in rules.replace_rules(db, actor=actor, resource_id=resource_id, rules=data)]


def _rule_out(rule: QualityRule) -> RuleOut:
    p = rule.params
    return RuleOut(
        id=rule.id,
        item=rule.item_name,
        kind=rule.kind,
        pattern=p.get("pattern"),
        values=p.get("values"),
        min=None if p.get("min") is None else str(p["min"]),
        max=None if p.get("max") is None else str(p["max"]),
        message=rule.message,
    )


class FileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    filename: str
    media_type: str
    size_bytes: int
    sm3: str
    note: str | None
    system_id: int | None
    user_id: int | None
    uploaded_at: datetime


@router.post("/resources/{resource_id}/files", response_model=FileOut, status_code=201)
async def upload_file(
    resource_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    filename: Annotated[str, Query(min_length=1, max_length=200)],
    note: Annotated[str | None, Query(max_length=500)] = None,
    x_content_sm3: Annotated[str | None, Header(max_length=64)] = None,
) -> FileOut:
    """Upload a new version of a 文件 resource's file (the body is the file; streamed, SM3 recorded)."""
    spooler = Spooler(get_settings().max_batch_bytes)
    async for chunk in request.stream():
        spooler.feed(chunk)
    body = spooler.done()
    try:
        record = await run_in_threadpool(
            files.upload,
            db,
            actor=actor,
            resource_id=resource_id,
            body=body,
            filename=filename,
            media_type=request.headers.get("content-type", ""),
            declared_sm3=x_content_sm3,
            note=note,
        )
    finally:
        body.file.close()
    return FileOut.model_validate(record)


@router.get("/resources/{resource_id}/files", response_model=list[FileOut])
def list_files(resource_id: int, actor: CurrentActor, db: DB, purpose: str | None = None) -> list[FileOut]:
    """The versions of a 文件 resource's file, newest first (provider and Bureau; another department
    with `purpose`, under its grant for that purpose)."""
    found = files.list_files(db, actor=actor, resource_id=resource_id, purpose=purpose)
    return [FileOut.model_validate(f) for f in found]


@router.get("/resources/{resource_id}/files/{number}/content")
def download_file(
    resource_id: int, number: int, actor: CurrentActor, db: DB, purpose: str | None = None
) -> FileResponse:
    """One version's content (provider and Bureau; another department with `purpose`, under its
    grant for that purpose). Audited."""
    record, path = files.open_file(db, actor=actor, resource_id=resource_id, number=number, purpose=purpose)
    return FileResponse(
        path, media_type=record.media_type, filename=record.filename, headers={"X-Content-SM3": record.sm3}
    )


class RowTraceOut(BaseModel):
    found: bool
    key: str
    batch_id: str | None
    received_at: datetime | None
    channel: str | None
    system: str | None
    sync_run_id: int | None
    catalog_version: int | None
    row_sm3: str | None
    retired_at: datetime | None
    retired_batch_id: str | None


@router.get("/resources/{resource_id}/provenance", response_model=RowTraceOut)
def row_provenance(resource_id: int, request: Request, actor: CurrentActor, db: DB) -> RowTraceOut:
    """Where one row came from (S14): pass its business-key items as query parameters, e.g.
    `?id_number=130102198503177718`. Answers the batch that last wrote it, its channel and source
    system, when, and whether it was retired — never the row's values. Audited."""
    key_values = {k: v for k, v in request.query_params.items() if len(v) <= 200}
    found = trace.trace(db, actor=actor, resource_id=resource_id, key_values=key_values)
    return RowTraceOut(**found.__dict__)
