from __future__ import annotations

from fastapi import APIRouter, Request

from govshare.auth import service
from govshare.auth.schemas import LoginIn, MeOut, TokenOut
from govshare.authz import Action, allowed
from govshare.users import service as users
from govshare.users.schemas import PasswordChange
from govshare.web.deps import DB, CurrentActor, client_ip, for_temporary_password, public

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", response_model=TokenOut)
@public
def login(data: LoginIn, request: Request, db: DB) -> TokenOut:
    """Exchange username and password for a bearer token (401 wrong credentials, 423 locked)."""
    result = service.login(
        db, username=data.username, password=data.password, ip=client_ip(request), kind="api"
    )
    return TokenOut(
        access_token=result.token,
        expires_at=result.session.expires_at.isoformat(),
        must_change_password=result.user.must_change_password,
    )


@router.post("/logout", status_code=204)
@for_temporary_password
def logout(actor: CurrentActor, db: DB) -> None:
    service.logout(db, actor=actor)


@router.get("/me", response_model=MeOut)
@for_temporary_password
def me(actor: CurrentActor) -> MeOut:
    return MeOut(
        kind=actor.kind,
        name=actor.name,
        user_id=actor.user_id,
        system_id=actor.system_id,
        org_id=actor.org_id,
        roles=sorted(r.value for r in actor.roles),
        permissions=sorted(a.value for a in Action if allowed(actor, a)),
    )


@router.post("/password", status_code=204)
@for_temporary_password
def change_password(data: PasswordChange, actor: CurrentActor, db: DB) -> None:
    users.change_own_password(db, actor=actor, current=data.current_password, new=data.new_password)
