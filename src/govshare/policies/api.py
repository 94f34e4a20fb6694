"""Security policies over the API: list, read (with versions), create, revise, review, retire."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from govshare.pagination import Page, PageParams, page_of
from govshare.policies import service
from govshare.policies.models import PolicyKind, PolicyStatus
from govshare.policies.schemas import PolicyIn, PolicyOut, RetireIn, ReviewIn, ReviseIn, VersionOut
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1/policies", tags=["policies"])


@router.get("", response_model=Page[PolicyOut])
def list_policies(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    org_id: int | None = None,
    kind: Annotated[PolicyKind | None, Query()] = None,
    status: Annotated[PolicyStatus | None, Query()] = None,
) -> Page[PolicyOut]:
    rows, total = service.list_policies(
        db, actor=actor, params=params, org_id=org_id, kind=kind, status=status
    )
    return page_of(PolicyOut, rows, total, params)


@router.post("", response_model=PolicyOut, status_code=status.HTTP_201_CREATED)
def create_policy(data: PolicyIn, actor: CurrentActor, db: DB) -> PolicyOut:
    policy = service.create_policy(db, actor=actor, data=service.PolicyText(**data.model_dump()))
    return PolicyOut.model_validate(policy)


@router.get("/{policy_id}", response_model=PolicyOut)
def get_policy(policy_id: int, actor: CurrentActor, db: DB) -> PolicyOut:
    return PolicyOut.model_validate(service.get_policy(db, actor=actor, policy_id=policy_id))


@router.get("/{policy_id}/versions", response_model=list[VersionOut])
def list_versions(policy_id: int, actor: CurrentActor, db: DB) -> list[VersionOut]:
    return [VersionOut.model_validate(v) for v in service.versions(db, actor=actor, policy_id=policy_id)]


@router.post("/{policy_id}/revisions", response_model=PolicyOut)
def revise(policy_id: int, data: ReviseIn, actor: CurrentActor, db: DB) -> PolicyOut:
    """A new version; 409 with `current_version` when `version` is stale."""
    text = service.PolicyText(
        title=data.title, body=data.body, effective_on=data.effective_on, review_months=data.review_months
    )
    policy = service.revise_policy(
        db, actor=actor, policy_id=policy_id, version=data.version, data=text, change_note=data.change_note
    )
    return PolicyOut.model_validate(policy)


@router.post("/{policy_id}/review", response_model=PolicyOut)
def review(policy_id: int, data: ReviewIn, actor: CurrentActor, db: DB) -> PolicyOut:
    """The periodic review found nothing to change (审核无需修改)."""
    policy = service.review_policy(db, actor=actor, policy_id=policy_id, version=data.version, note=data.note)
    return PolicyOut.model_validate(policy)


@router.post("/{policy_id}/retirement", response_model=PolicyOut)
def retire(policy_id: int, data: RetireIn, actor: CurrentActor, db: DB) -> PolicyOut:
    policy = service.retire_policy(
        db, actor=actor, policy_id=policy_id, version=data.version, reason=data.reason
    )
    return PolicyOut.model_validate(policy)
