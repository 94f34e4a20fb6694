"""Front-end database sync API: a department registers its 前置库 for a resource and runs syncs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from govshare.errors import NotFound
from govshare.exchange import sync
from govshare.exchange.models import SyncRun, SyncSource
from govshare.exchange.sync import SourceIn
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1", tags=["data provision"])


class SourceOut(BaseModel):
    id: int
    resource_id: int
    system_id: int
    dialect: str
    url: str  # the password masked
    table: str | None
    query: str | None
    column_map: dict[str, str]
    watermark_column: str | None
    watermark: dict[str, str] | None
    schedule: str
    enabled: bool
    next_run_at: datetime | None
    updated_at: datetime
    version: int


def source_out(source: SyncSource) -> SourceOut:
    return SourceOut(
        id=source.id,
        resource_id=source.resource_id,
        system_id=source.system_id,
        dialect=source.dialect,
        url=source.url_display,
        table=source.table_name,
        query=source.query,
        column_map=source.column_map,
        watermark_column=source.watermark_column,
        watermark=source.watermark,
        schedule=source.schedule,
        enabled=source.enabled,
        next_run_at=source.next_run_at,
        updated_at=source.updated_at,
        version=source.version,
    )


class RunOut(BaseModel):
    id: int
    resource_id: int
    trigger: str
    status: str
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    pages: int
    rows_read: int
    accepted: int
    quarantined: int
    watermark_from: dict[str, str] | None
    watermark_to: dict[str, str] | None
    error: str | None
    batch_ids: list[str] | None = None


def run_out(run: SyncRun, db: Session | None = None) -> RunOut:
    return RunOut(
        id=run.id,
        resource_id=run.resource_id,
        trigger=run.trigger,
        status=run.status,
        queued_at=run.queued_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        pages=run.pages,
        rows_read=run.rows_read,
        accepted=run.accepted,
        quarantined=run.quarantined,
        watermark_from=run.watermark_from,
        watermark_to=run.watermark_to,
        error=run.error,
        batch_ids=[b.id for b in sync.run_batches(db, run)] if db is not None else None,
    )


@router.get("/resources/{resource_id}/sync-source", response_model=SourceOut)
def get_sync_source(resource_id: int, actor: CurrentActor, db: DB) -> SourceOut:
    """The resource's front-end database registration (the password is never returned)."""
    _resource, source = sync.get_source(db, actor=actor, resource_id=resource_id)
    if source is None:
        raise NotFound("该资源没有登记前置库。", "No sync source.")
    return source_out(source)


@router.put("/resources/{resource_id}/sync-source", response_model=SourceOut)
def put_sync_source(resource_id: int, data: SourceIn, actor: CurrentActor, db: DB) -> SourceOut:
    """Register or change the resource's front-end database (PostgreSQL, MySQL/MariaDB or SQLite),
    the table or SELECT to read, the column mapping and the watermark column. The platform connects
    once to check them; the URL with its password is stored SM4-encrypted. Changing the place or the
    watermark column restarts from the beginning."""
    return source_out(sync.save_source(db, actor=actor, resource_id=resource_id, data=data))


@router.delete("/resources/{resource_id}/sync-source", response_model=SourceOut)
def delete_sync_source(resource_id: int, actor: CurrentActor, db: DB) -> SourceOut:
    """Stop syncing; the registration and its runs stay on record, the stored password is erased."""
    return source_out(sync.remove_source(db, actor=actor, resource_id=resource_id))


@router.post("/resources/{resource_id}/sync-source/inspect")
def inspect_sync_source(resource_id: int, data: SourceIn, actor: CurrentActor, db: DB) -> dict[str, Any]:
    """Try settings without saving them: the source's columns, the mapping that would apply and how
    many rows have no watermark value (those are never picked up incrementally)."""
    return sync.inspect_source(db, actor=actor, resource_id=resource_id, data=data)


@router.post("/resources/{resource_id}/sync-runs", response_model=RunOut, status_code=202)
def start_sync_run(
    resource_id: int, request: Request, background: BackgroundTasks, actor: CurrentActor, db: DB
) -> RunOut:
    """Run the sync now. The run is queued (202) and carried out after the answer; poll
    `GET …/sync-runs/{id}` for its outcome."""
    run = sync.request_run(db, actor=actor, resource_id=resource_id, trigger="manual")
    background.add_task(sync.execute, request.app.state.unit_of_work, run.id)
    return run_out(run)


@router.get("/resources/{resource_id}/sync-runs", response_model=list[RunOut])
def list_sync_runs(resource_id: int, actor: CurrentActor, db: DB) -> list[RunOut]:
    """The last 50 runs, newest first."""
    return [run_out(r) for r in sync.list_runs(db, actor=actor, resource_id=resource_id)]


@router.get("/resources/{resource_id}/sync-runs/{run_id}", response_model=RunOut)
def get_sync_run(resource_id: int, run_id: int, actor: CurrentActor, db: DB) -> RunOut:
    """One run with the batches it delivered."""
    return run_out(sync.get_run(db, actor=actor, resource_id=resource_id, run_id=run_id), db)
