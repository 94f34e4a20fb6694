from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from govshare.pagination import Page, PageParams, page_of
from govshare.systems import service
from govshare.systems.schemas import (
    IssuedToken,
    SystemCreate,
    SystemCreated,
    SystemOut,
    SystemUpdate,
    TokenOut,
    TokenRotate,
)
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1/systems", tags=["business systems"])


@router.get("", response_model=Page[SystemOut])
def list_systems(
    actor: CurrentActor, db: DB, params: Annotated[PageParams, Depends()], org_id: int | None = None
) -> Page[SystemOut]:
    rows, total = service.list_systems(db, actor=actor, params=params, org_id=org_id)
    return page_of(SystemOut, rows, total, params)


@router.post("", response_model=SystemCreated, status_code=status.HTTP_201_CREATED)
def create_system(data: SystemCreate, actor: CurrentActor, db: DB) -> SystemCreated:
    """Register a system; the response holds its first token, which is never shown again."""
    system, token, row = service.create_system(db, actor=actor, data=data)
    return SystemCreated(
        system=SystemOut.model_validate(system),
        token=IssuedToken(token=token, token_id=row.id, expires_at=row.expires_at),
    )


@router.get("/{system_id}", response_model=SystemOut)
def get_system(system_id: int, actor: CurrentActor, db: DB) -> SystemOut:
    return SystemOut.model_validate(service.get_system(db, actor=actor, system_id=system_id))


@router.patch("/{system_id}", response_model=SystemOut)
def update_system(system_id: int, data: SystemUpdate, actor: CurrentActor, db: DB) -> SystemOut:
    return SystemOut.model_validate(service.update_system(db, actor=actor, system_id=system_id, data=data))


@router.get("/{system_id}/tokens", response_model=list[TokenOut])
def list_tokens(system_id: int, actor: CurrentActor, db: DB) -> list[TokenOut]:
    return [
        TokenOut.model_validate(t) for t in service.get_system(db, actor=actor, system_id=system_id).tokens
    ]


@router.post("/{system_id}/tokens", response_model=IssuedToken, status_code=status.HTTP_201_CREATED)
def rotate_token(system_id: int, data: TokenRotate, actor: CurrentActor, db: DB) -> IssuedToken:
    """Issue a new token (shown once); by default the system's other tokens are revoked now."""
    system = service.get_system(db, actor=actor, system_id=system_id)
    token, row = service.issue_token(
        db, actor=actor, system=system, days=data.days, revoke_existing=data.revoke_existing
    )
    return IssuedToken(token=token, token_id=row.id, expires_at=row.expires_at)


@router.delete("/{system_id}/tokens/{token_id}", response_model=TokenOut)
def revoke_token(system_id: int, token_id: int, actor: CurrentActor, db: DB) -> TokenOut:
    return TokenOut.model_validate(
        service.revoke_token(db, actor=actor, system_id=system_id, token_id=token_id)
    )
