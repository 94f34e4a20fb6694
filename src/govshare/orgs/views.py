"""Organisation pages: the registry list, registering and editing an organisation, its overview."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from govshare.authz import REGISTERED_ROLES, Action, require
from govshare.orgs import service
from govshare.orgs.models import Organisation, OrgKind
from govshare.orgs.schemas import OrgCreate, OrgUpdate
from govshare.pagination import PageParams
from govshare.systems import service as systems
from govshare.users import registrations
from govshare.users import service as users
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import (
    FIXABLE,
    changed,
    is_stale,
    optional,
    page_context,
    parse_enum,
    refusal,
    see_other,
)
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)

ORG_FIELDS = {
    "code": ("单位编码", "须以小写字母开头，由 2–32 位小写字母、数字或下划线组成，如 police"),
    "name": ("单位全称", "应为 2–128 个字符"),
    "short_name": ("单位简称", "应为 1–32 个字符"),
    "kind": ("单位类型", "请从列表中选择"),
    "credit_code": ("统一社会信用代码", "应为 18 位数字或大写字母"),
    "contact_phone": ("联系电话", "不能超过 32 个字符"),
    "version": ("版本", "请刷新页面后重新编辑"),
}
NOTICES = {
    "created": "单位已登记。",
    "updated": "单位信息已保存。",
    "deactivated": "单位已停用。",
    "activated": "单位已重新启用。",
}


@router.get("/orgs", response_class=HTMLResponse)
def org_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    kind: Annotated[str, Query(max_length=16)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    rows, total = service.list_orgs(
        db, actor=actor, params=params, kind=parse_enum(OrgKind, kind), q=q.strip() or None
    )
    return render(
        request,
        "orgs/list.html",
        {
            "orgs": rows,
            "kinds": list(OrgKind),
            "filters": {"kind": kind, "q": q},
            **page_context(params, total, kind=kind, q=q.strip()),
        },
    )


def _org_form(
    request: Request,
    *,
    org: Organisation | None,
    form: Mapping[str, Any],
    error: str | None = None,
    stale: bool = False,
    status: int = 200,
) -> Response:
    return render(
        request,
        "orgs/form.html",
        {"org": org, "form": form, "kinds": list(OrgKind), "error": error, "stale": stale},
        status_code=status,
    )


@router.get("/orgs/new", response_class=HTMLResponse)
def org_new(request: Request, actor: CurrentActor) -> Response:
    # A form page changes nothing, so no service runs; the permission check shows the refusal
    # before anyone fills in the form (the POST is checked again by the service).
    require(actor, Action.org_manage)
    return _org_form(request, org=None, form={"kind": OrgKind.department.value})


@router.post("/orgs", response_class=HTMLResponse)
def org_create(
    request: Request,
    actor: CurrentActor,
    db: DB,
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=256)] = "",
    short_name: Annotated[str, Form(max_length=64)] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    credit_code: Annotated[str, Form(max_length=64)] = "",
    contact_phone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    form = {
        "code": code,
        "name": name,
        "short_name": short_name,
        "kind": kind,
        "credit_code": credit_code,
        "contact_phone": contact_phone,
    }
    try:
        data = OrgCreate.model_validate({**form, "contact_phone": optional(contact_phone)})
        # The savepoint undoes whatever the service flushed before it refused, because returning the
        # form (instead of raising) lets the request's unit of work commit.
        with db.begin_nested():
            org = service.create_org(db, actor=actor, data=data)
    except FIXABLE as exc:
        error, status = refusal(exc, ORG_FIELDS)
        return _org_form(request, org=None, form=form, error=error, status=status)
    return see_other(f"/orgs/{org.id}?done=created")


@router.get("/orgs/{org_id}", response_class=HTMLResponse)
def org_detail(org_id: int, request: Request, actor: CurrentActor, db: DB, done: str = "") -> Response:
    org = service.get_org(db, actor=actor, org_id=org_id)
    one = PageParams(page=1, page_size=1)
    _people, people = users.list_users(db, actor=actor, params=one, org_id=org.id, active=True)
    _systems, system_count = systems.list_systems(db, actor=actor, params=one, org_id=org.id)
    # Shown only to those who may view registrations (see the template): the Bureau's "post
    # vacant" task links here.
    holders = [
        (role, registrations.current_holder(db, org_id=org.id, role=role))
        for role in sorted(REGISTERED_ROLES)
    ]
    return render(
        request,
        "orgs/detail.html",
        {
            "org": org,
            "people": people,
            "systems": system_count,
            "holders": holders,
            "notice": NOTICES.get(done),
        },
    )


@router.get("/orgs/{org_id}/edit", response_class=HTMLResponse)
def org_edit(org_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    org = service.get_org(db, actor=actor, org_id=org_id)
    require(actor, Action.org_manage, org)  # see org_new
    form = {
        "name": org.name,
        "short_name": org.short_name,
        "credit_code": org.credit_code,
        "contact_phone": org.contact_phone or "",
        "version": org.version,
    }
    return _org_form(request, org=org, form=form)


@router.post("/orgs/{org_id}/edit", response_class=HTMLResponse)
def org_update(
    org_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    version: Annotated[int, Form()],
    name: Annotated[str, Form(max_length=256)] = "",
    short_name: Annotated[str, Form(max_length=64)] = "",
    credit_code: Annotated[str, Form(max_length=64)] = "",
    contact_phone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    org = service.get_org(db, actor=actor, org_id=org_id)
    form = {
        "name": name,
        "short_name": short_name,
        "credit_code": credit_code,
        "contact_phone": contact_phone,
        "version": version,
    }
    submitted = {
        "name": name.strip(),
        "short_name": short_name.strip(),
        "credit_code": credit_code.strip().upper(),
        "contact_phone": optional(contact_phone),
    }
    try:
        data = OrgUpdate.model_validate({"version": version, **changed(org, submitted)})
        with db.begin_nested():  # see org_create
            service.update_org(db, actor=actor, org_id=org.id, data=data)
    except FIXABLE as exc:
        error, status = refusal(exc, ORG_FIELDS)
        return _org_form(request, org=org, form=form, error=error, stale=is_stale(exc), status=status)
    return see_other(f"/orgs/{org.id}?done=updated")


@router.post("/orgs/{org_id}/status")
def org_set_active(
    org_id: int, actor: CurrentActor, db: DB, version: Annotated[int, Form()], active: Annotated[bool, Form()]
) -> Response:
    """Deactivate or re-enable; refusals (the Bureau, a stale version) go to the error page."""
    service.update_org(db, actor=actor, org_id=org_id, data=OrgUpdate(version=version, is_active=active))
    return see_other(f"/orgs/{org_id}?done={'activated' if active else 'deactivated'}")
