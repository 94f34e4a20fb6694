"""Business system pages: list, register, detail, edit, enable/disable, rotate and revoke tokens.

A new token is rendered once, on the response to the POST that issued it (never redirected to a
page that could show it again), and that response is marked `Cache-Control: no-store`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed, require
from govshare.db import utcnow
from govshare.orgs import service as orgs
from govshare.pagination import PageParams
from govshare.settings import get_settings
from govshare.systems import service
from govshare.systems.models import BusinessSystem, SystemToken
from govshare.systems.schemas import SystemCreate, SystemUpdate, TokenRotate
from govshare.users import service as users
from govshare.users.service import PersonChoice
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import FIXABLE, optional, page_context, parse_int, refusal, see_other
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)

TOKEN_STATES = {"active": "有效", "expired": "已过期", "revoked": "已吊销"}
REVOKE_REASONS = {"rotated": "轮换", "revoked": "手动吊销"}

# Shown instead of pydantic's English, whatever the problem with the field (see forms.problem_message).
SYSTEM_FIELDS = {
    "org_id": "请选择所属单位",
    "code": "系统编码应以小写字母开头，只含小写字母、数字、“-”和“_”，共 2 至 64 位",
    "name": "系统名称应为 2 至 128 个字符",
    "description": "系统说明不能超过 2000 字",
    "contact_user_id": "请选择系统负责人",
    "allowed_cidrs": "允许接入的地址段最多 64 个",
    "token_days": "令牌有效期应为 1 至 730 之间的整数（天）",
    "days": "令牌有效期应为 1 至 730 之间的整数（天）",
    "version": "页面已过期，请刷新后重新编辑",
    "is_active": "请选择启用或停用",
}


def _cidr_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _contacts(db: Session, actor: Actor, org_id: int | None) -> list[PersonChoice]:
    """Whom the system's contact select offers: active people of its organisation."""
    return [] if org_id is None else users.choices(db, actor=actor, org_id=org_id)


def _secret_page(
    request: Request, *, system: BusinessSystem, token: str, row: SystemToken, created: bool
) -> Response:
    response = render(
        request, "systems/token.html", {"system": system, "token": token, "row": row, "created": created}
    )
    # The security middleware sets this for every page; a page carrying a secret must not rely on it.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/systems", response_class=HTMLResponse)
def system_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    org_id: Annotated[str, Query(max_length=12)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    selected = parse_int(org_id)
    params = PageParams(page=page)
    rows, total = service.list_systems(db, actor=actor, params=params, org_id=selected)
    now = utcnow()
    active_tokens = {s.id: sum(1 for t in s.tokens if t.state(now) == "active") for s in rows}
    return render(
        request,
        "systems/list.html",
        {
            "systems": rows,
            # Systems of a deactivated organisation stay on the list, so it stays in the filter too.
            "filter_orgs": orgs.choices(db, actor=actor, action=Action.system_view, active_only=False),
            "selected_org": selected,
            "active_tokens": active_tokens,
            **page_context(params, total, org_id=selected),
        },
    )


def _new_form(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    form: dict[str, str],
    error: str | None = None,
    status: int = 200,
) -> Response:
    manageable = orgs.choices(db, actor=actor, action=Action.system_manage)
    org_id = parse_int(form.get("org_id", ""))
    if org_id is None and manageable:
        org_id = actor.org_id if any(o.id == actor.org_id for o in manageable) else manageable[0].id
    return render(
        request,
        "systems/new.html",
        {
            "orgs": manageable,
            "org_id": org_id,
            "contacts": _contacts(db, actor, org_id),
            "form": form,
            "error": error,
            "default_days": get_settings().system_token_days,
        },
        status_code=status,
    )


@router.get("/systems/new", response_class=HTMLResponse)
def system_new(
    request: Request, actor: CurrentActor, db: DB, org_id: Annotated[str, Query(max_length=12)] = ""
) -> Response:
    # Nothing is written here, so no service guards the page: refuse it to people who could not submit it.
    require(actor, Action.system_manage)
    return _new_form(request, db, actor, form={"org_id": org_id})


@router.get("/systems/contacts", response_class=HTMLResponse)
def contact_options(
    request: Request, actor: CurrentActor, db: DB, org_id: Annotated[str, Query(max_length=12)] = ""
) -> Response:
    """The contact `<option>`s for one organisation (HTMX, when the organisation select changes)."""
    contacts = _contacts(db, actor, parse_int(org_id))
    return render(request, "systems/_contact_options.html", {"contacts": contacts, "selected": None})


@router.post("/systems/new", response_class=HTMLResponse)
def system_create(
    request: Request,
    actor: CurrentActor,
    db: DB,
    org_id: Annotated[str, Form(max_length=12)] = "",
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=128)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    contact_user_id: Annotated[str, Form(max_length=12)] = "",
    allowed_cidrs: Annotated[str, Form(max_length=4000)] = "",
    token_days: Annotated[str, Form(max_length=6)] = "",
) -> Response:
    form = {
        "org_id": org_id,
        "code": code,
        "name": name,
        "description": description,
        "contact_user_id": contact_user_id,
        "allowed_cidrs": allowed_cidrs,
        "token_days": token_days,
    }
    try:
        data = SystemCreate.model_validate(
            {
                "org_id": org_id,
                "code": code,
                "name": name,
                "description": optional(description),
                "contact_user_id": optional(contact_user_id),
                "allowed_cidrs": _cidr_lines(allowed_cidrs),
                "token_days": optional(token_days),
            }
        )
        # The savepoint undoes whatever the service flushed before it refused, because returning
        # the form lets the request's unit of work commit (as in users/views.py).
        with db.begin_nested():
            system, token, row = service.create_system(db, actor=actor, data=data)
    except FIXABLE as exc:
        error, status = refusal(exc, SYSTEM_FIELDS)
        return _new_form(request, db, actor, form=form, error=error, status=status)
    return _secret_page(request, system=system, token=token, row=row, created=True)


def _detail(
    request: Request,
    db: Session,
    actor: Actor,
    system: BusinessSystem,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    if form is None:
        form = {
            "name": system.name,
            "description": system.description or "",
            "contact_user_id": str(system.contact_user_id or ""),
            "allowed_cidrs": "\n".join(system.allowed_cidrs),
            "version": str(system.version),
        }
    can_manage = allowed(actor, Action.system_manage, system)
    return render(
        request,
        "systems/detail.html",
        {
            "system": system,
            "now": utcnow(),
            "form": form,
            "error": error,
            "contacts": _contacts(db, actor, system.org_id) if can_manage else [],
            "token_states": TOKEN_STATES,
            "revoke_reasons": REVOKE_REASONS,
            "default_days": get_settings().system_token_days,
        },
        status_code=status,
    )


@router.get("/systems/{system_id}", response_class=HTMLResponse)
def system_detail(request: Request, system_id: int, actor: CurrentActor, db: DB) -> Response:
    return _detail(request, db, actor, service.get_system(db, actor=actor, system_id=system_id))


@router.post("/systems/{system_id}/edit", response_class=HTMLResponse)
def system_edit(
    request: Request,
    system_id: int,
    actor: CurrentActor,
    db: DB,
    version: Annotated[str, Form(max_length=12)] = "",
    name: Annotated[str, Form(max_length=128)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    contact_user_id: Annotated[str, Form(max_length=12)] = "",
    allowed_cidrs: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    form = {
        "version": version,
        "name": name,
        "description": description,
        "contact_user_id": contact_user_id,
        "allowed_cidrs": allowed_cidrs,
    }
    try:
        data = SystemUpdate.model_validate(
            {
                "version": version,
                "name": name,
                "description": optional(description),
                "contact_user_id": optional(contact_user_id),
                "allowed_cidrs": _cidr_lines(allowed_cidrs),
            }
        )
        with db.begin_nested():  # see system_create
            service.update_system(db, actor=actor, system_id=system_id, data=data)
    except FIXABLE as exc:
        error, status = refusal(exc, SYSTEM_FIELDS)
        return _edit_failed(request, db, actor, system_id, form=form, error=error, status=status)
    return see_other(f"/systems/{system_id}")


def _edit_failed(
    request: Request,
    db: Session,
    actor: Actor,
    system_id: int,
    *,
    error: str,
    status: int,
    form: dict[str, str] | None = None,
) -> Response:
    system = service.get_system(db, actor=actor, system_id=system_id)
    return _detail(request, db, actor, system, form=form, error=error, status=status)


@router.post("/systems/{system_id}/status", response_class=HTMLResponse)
def system_status(
    request: Request,
    system_id: int,
    actor: CurrentActor,
    db: DB,
    version: Annotated[str, Form(max_length=12)] = "",
    is_active: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """Enable (`is_active=1`) or disable (`is_active=0`) a system; a disabled system's tokens are refused."""
    try:
        data = SystemUpdate.model_validate({"version": version, "is_active": is_active})
        with db.begin_nested():  # see system_create
            service.update_system(db, actor=actor, system_id=system_id, data=data)
    except FIXABLE as exc:
        error, status = refusal(exc, SYSTEM_FIELDS)
        return _edit_failed(request, db, actor, system_id, error=error, status=status)
    return see_other(f"/systems/{system_id}")


@router.post("/systems/{system_id}/tokens", response_class=HTMLResponse)
def token_rotate(
    request: Request,
    system_id: int,
    actor: CurrentActor,
    db: DB,
    days: Annotated[str, Form(max_length=6)] = "",
    revoke_existing: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """Issue a new token, shown once; with `revoke_existing=1` the system's other tokens stop now."""
    system = service.get_system(db, actor=actor, system_id=system_id)
    try:
        data = TokenRotate.model_validate({"days": optional(days), "revoke_existing": revoke_existing == "1"})
        with db.begin_nested():  # see system_create
            token, row = service.issue_token(
                db, actor=actor, system=system, days=data.days, revoke_existing=data.revoke_existing
            )
    except FIXABLE as exc:
        error, status = refusal(exc, SYSTEM_FIELDS)
        return _detail(request, db, actor, system, error=error, status=status)
    return _secret_page(request, system=system, token=token, row=row, created=False)


@router.post("/systems/{system_id}/tokens/{token_id}/revoke", response_class=HTMLResponse)
def token_revoke(request: Request, system_id: int, token_id: int, actor: CurrentActor, db: DB) -> Response:
    try:
        with db.begin_nested():  # see system_create
            service.revoke_token(db, actor=actor, system_id=system_id, token_id=token_id)
    except FIXABLE as exc:
        error, status = refusal(exc, SYSTEM_FIELDS)
        return _edit_failed(request, db, actor, system_id, error=error, status=status)
    return see_other(f"/systems/{system_id}")
