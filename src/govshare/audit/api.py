from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends

from govshare.audit import service
from govshare.audit.schemas import AuditEventOut, VerifyOut
from govshare.pagination import Page, PageParams, page_of
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("/verify", response_model=VerifyOut)
def verify(actor: CurrentActor, db: DB) -> VerifyOut:
    """Recompute the chain and checkpoint signatures (auditors only).

    `ok` is false when anything was tampered with; `first_broken` names the first broken link.
    """
    return VerifyOut(**service.run_verification(db, actor=actor).as_dict())


@router.get("/events", response_model=Page[AuditEventOut])
def search(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    actor_name: str | None = None,
    org_id: int | None = None,
    event_type: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditEventOut]:
    query = service.AuditQuery(
        actor=actor_name,
        org_id=org_id,
        event_type=event_type,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        since=since,
        until=until,
    )
    rows, total = service.search(db, actor=actor, query=query, page=params.page, page_size=params.page_size)
    return page_of(AuditEventOut, rows, total, params)
