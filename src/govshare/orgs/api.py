from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from govshare.orgs import service
from govshare.orgs.models import OrgKind
from govshare.orgs.schemas import OrgCreate, OrgOut, OrgUpdate
from govshare.pagination import Page, PageParams, page_of
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1/orgs", tags=["organisations"])


@router.get("", response_model=Page[OrgOut])
def list_orgs(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    kind: OrgKind | None = None,
    q: str | None = None,
) -> Page[OrgOut]:
    rows, total = service.list_orgs(db, actor=actor, params=params, kind=kind, q=q)
    return page_of(OrgOut, rows, total, params)


@router.post("", response_model=OrgOut, status_code=status.HTTP_201_CREATED)
def create_org(data: OrgCreate, actor: CurrentActor, db: DB) -> OrgOut:
    return OrgOut.model_validate(service.create_org(db, actor=actor, data=data))


@router.get("/{org_id}", response_model=OrgOut)
def get_org(org_id: int, actor: CurrentActor, db: DB) -> OrgOut:
    return OrgOut.model_validate(service.get_org(db, actor=actor, org_id=org_id))


@router.patch("/{org_id}", response_model=OrgOut)
def update_org(org_id: int, data: OrgUpdate, actor: CurrentActor, db: DB) -> OrgOut:
    return OrgOut.model_validate(service.update_org(db, actor=actor, org_id=org_id, data=data))
