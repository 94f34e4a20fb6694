from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, status

from govshare.authz import Role
from govshare.pagination import Page, PageParams, page_of
from govshare.users import offboarding, registrations, service
from govshare.users.models import OffboardingRecord, RegistrationStatus
from govshare.users.schemas import (
    OffboardingOut,
    OffboardRequest,
    PasswordReset,
    RegistrationCreate,
    RegistrationDecision,
    RegistrationOut,
    RolesUpdate,
    UserCreate,
    UserOut,
    UserUpdate,
)
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1", tags=["people"])


@router.get("/users", response_model=Page[UserOut])
def list_users(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    org_id: int | None = None,
    q: str | None = None,
    role: Role | None = None,
    active: bool | None = None,
) -> Page[UserOut]:
    rows, total = service.list_users(
        db, actor=actor, params=params, org_id=org_id, q=q, role=role, active=active
    )
    return page_of(UserOut, rows, total, params)


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(data: UserCreate, actor: CurrentActor, db: DB) -> UserOut:
    return UserOut.model_validate(service.create_user(db, actor=actor, data=data))


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: int, actor: CurrentActor, db: DB) -> UserOut:
    return UserOut.model_validate(service.get_user(db, actor=actor, user_id=user_id))


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: int, data: UserUpdate, actor: CurrentActor, db: DB) -> UserOut:
    return UserOut.model_validate(service.update_user(db, actor=actor, user_id=user_id, data=data))


@router.put("/users/{user_id}/roles", response_model=UserOut)
def set_roles(user_id: int, data: RolesUpdate, actor: CurrentActor, db: DB) -> UserOut:
    return UserOut.model_validate(service.set_roles(db, actor=actor, user_id=user_id, roles=data.roles))


@router.post("/users/{user_id}/password-reset", response_model=UserOut)
def reset_password(user_id: int, data: PasswordReset, actor: CurrentActor, db: DB) -> UserOut:
    return UserOut.model_validate(
        service.reset_password(db, actor=actor, user_id=user_id, new=data.new_password)
    )


@router.post("/users/{user_id}/unlock", response_model=UserOut)
def unlock(user_id: int, actor: CurrentActor, db: DB) -> UserOut:
    return UserOut.model_validate(service.unlock_user(db, actor=actor, user_id=user_id))


def offboarding_out(record: OffboardingRecord) -> OffboardingOut:
    return OffboardingOut(
        id=record.id,
        user_id=record.user_id,
        successor_id=record.successor_id,
        performed_by=record.performed_by,
        performed_at=record.performed_at,
        reason=record.reason,
        report=json.loads(record.report),
    )


@router.post("/users/{user_id}/offboard", response_model=OffboardingOut, status_code=status.HTTP_201_CREATED)
def offboard(user_id: int, data: OffboardRequest, actor: CurrentActor, db: DB) -> OffboardingOut:
    """Deactivate now: sessions end, tasks pass to the successor, the record lists access and revocations."""
    record = offboarding.offboard(
        db, actor=actor, user_id=user_id, successor_id=data.successor_id, reason=data.reason
    )
    return offboarding_out(record)


@router.get("/users/{user_id}/offboarding", response_model=list[OffboardingOut])
def offboarding_records(user_id: int, actor: CurrentActor, db: DB) -> list[OffboardingOut]:
    return [offboarding_out(r) for r in offboarding.records_for(db, actor=actor, user_id=user_id)]


@router.get("/registrations", response_model=Page[RegistrationOut])
def list_registrations(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    status: RegistrationStatus | None = None,
) -> Page[RegistrationOut]:
    rows, total = registrations.list_registrations(db, actor=actor, params=params, status=status)
    return page_of(RegistrationOut, rows, total, params)


@router.post("/registrations", response_model=RegistrationOut, status_code=status.HTTP_201_CREATED)
def submit_registration(data: RegistrationCreate, actor: CurrentActor, db: DB) -> RegistrationOut:
    reg = registrations.submit(db, actor=actor, user_id=data.user_id, role=data.role, note=data.note)
    return RegistrationOut.model_validate(reg)


@router.get("/registrations/{registration_id}", response_model=RegistrationOut)
def get_registration(registration_id: int, actor: CurrentActor, db: DB) -> RegistrationOut:
    return RegistrationOut.model_validate(
        registrations.get_registration(db, actor=actor, registration_id=registration_id)
    )


@router.post("/registrations/{registration_id}/decision", response_model=RegistrationOut)
def decide_registration(
    registration_id: int, data: RegistrationDecision, actor: CurrentActor, db: DB
) -> RegistrationOut:
    reg = registrations.decide(
        db, actor=actor, registration_id=registration_id, approve=data.approve, comment=data.comment
    )
    return RegistrationOut.model_validate(reg)
