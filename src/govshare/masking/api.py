"""Masking profiles over the API: everyone logged in reads them, the Bureau writes and tries them."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from govshare.masking import service
from govshare.masking.schemas import PreviewIn, PreviewOut, ProfileIn, ProfileOut
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1/masking", tags=["masking"])


@router.get("/profiles", response_model=list[ProfileOut])
def list_profiles(actor: CurrentActor, db: DB) -> list[ProfileOut]:
    return [ProfileOut.model_validate(p) for p in service.list_profiles(db, actor=actor)]


@router.get("/profiles/{code}", response_model=ProfileOut)
def get_profile(code: str, actor: CurrentActor, db: DB) -> ProfileOut:
    return ProfileOut.model_validate(service.get_profile(db, actor=actor, code=code))


@router.put("/profiles/{code}", response_model=ProfileOut)
def put_profile(code: str, data: ProfileIn, actor: CurrentActor, db: DB, response: Response) -> ProfileOut:
    """Create the profile (201) or replace its content (200); Bureau only."""
    profile, created = service.save_profile(db, actor=actor, code=code, data=data)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return ProfileOut.model_validate(profile)


@router.post("/preview", response_model=PreviewOut)
def preview(data: PreviewIn, actor: CurrentActor, db: DB) -> PreviewOut:
    """The given rows as a consumer would receive them under a profile; Bureau only."""
    return service.preview(db, actor=actor, data=data)
