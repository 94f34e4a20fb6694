"""Backups over the API: the Bureau reads and sets the policy, asks for a backup now, and reads
every run (auditors read too). Restoring is done on the server with `govshare restore`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from govshare.authz import Action, require
from govshare.backup import service
from govshare.backup.schemas import PolicyIn, PolicyOut, RunOut
from govshare.pagination import Page, PageParams, page_of
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1/backups", tags=["backups"])


@router.get("/policy", response_model=PolicyOut)
def get_policy(actor: CurrentActor, db: DB) -> PolicyOut:
    require(actor, Action.backup_view)
    return PolicyOut.model_validate(service.policy(db))


@router.put("/policy", response_model=PolicyOut)
def put_policy(data: PolicyIn, actor: CurrentActor, db: DB) -> PolicyOut:
    change = service.PolicyChange(**data.model_dump())
    return PolicyOut.model_validate(service.update_policy(db, actor, change))


@router.post("/requests", response_model=PolicyOut, status_code=status.HTTP_202_ACCEPTED)
def request_backup(actor: CurrentActor, db: DB) -> PolicyOut:
    """Ask for a backup now: the scheduler runs it within a minute or two (see the runs)."""
    return PolicyOut.model_validate(service.request_backup(db, actor))


@router.get("/runs", response_model=Page[RunOut])
def list_runs(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    kind: Annotated[str | None, Query(max_length=16)] = None,
) -> Page[RunOut]:
    rows, total = service.runs(db, actor, params, kind=kind)
    return page_of(RunOut, rows, total, params)


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(run_id: int, actor: CurrentActor, db: DB) -> RunOut:
    return RunOut.model_validate(service.get_run(db, actor, run_id))
