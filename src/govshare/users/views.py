"""People pages: the list, adding and editing a person, roles, passwords, offboarding (离任), and the
registration (备案) of data administrators and security officers with the Bureau."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from govshare.authz import BUREAU_ROLES, REGISTERED_ROLES, Action, Actor, Role, require
from govshare.db import utcnow
from govshare.orgs import service as orgs
from govshare.orgs.models import OrgKind
from govshare.pagination import PageParams
from govshare.users import offboarding, registrations, service
from govshare.users.models import OffboardingRecord, Registration, RegistrationStatus, User
from govshare.users.schemas import (
    OffboardRequest,
    RegistrationCreate,
    RegistrationDecision,
    RolesUpdate,
    UserCreate,
    UserUpdate,
)
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import (
    FIXABLE,
    changed,
    is_stale,
    optional,
    page_context,
    parse_enum,
    parse_int,
    refusal,
    see_other,
)
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)

# Roles a form may hand out; data administrators and security officers come only from a registration.
ASSIGNABLE_ROLES = [role for role in Role if role not in REGISTERED_ROLES]
SCOPE_LABELS = {"city": "全市", "own_org": "本单位", "own_self": "仅本人"}
STATUS_LABELS = {status.value: status.label for status in RegistrationStatus}

USER_FIELDS = {
    "username": ("用户名", "须以小写字母开头，由 3–64 位小写字母、数字或 . _ - 组成"),
    "display_name": ("姓名", "应为 1–64 个字符"),
    "org_id": ("所属单位", "请从列表中选择"),
    "phone": ("联系电话", "只能包含数字、空格、+ 和 -，共 5–32 位"),
    "password": ("初始密码", "不能超过 128 个字符"),
    "roles": ("角色", "请从列表中选择"),
    "version": ("版本", "请刷新页面后重新编辑"),
    "successor_id": ("接替人员", "请从列表中选择"),
    "reason": ("离任原因", "应为 2–255 个字符"),
    "user_id": ("备案人员", "请从列表中选择"),
    "role": ("备案岗位", "请从列表中选择"),
    "note": ("备注", "不能超过 2000 个字符"),
    "comment": ("审批意见", "不能超过 2000 个字符"),
    "approve": ("审批结论", "请选择通过或退回"),
}
NOTICES = {
    "created": "人员已创建，初始密码为临时密码，本人首次登录后须修改。",
    "updated": "人员信息已保存。",
    "roles": "角色已调整。",
    "password": "密码已重置。请将临时密码告知本人，本人登录后须立即修改。",
    "unlocked": "账号已解锁。",
    "offboarded": "离任已办理：账号已停用，登录会话已全部注销，离任记录见下方。",
    "submitted": "备案已提交，等待市数据资源管理局审批。",
    "approved": "备案已通过，该人员已获得相应角色。",
    "returned": "备案已退回。",
}


# --- people ----------------------------------------------------------------------------------------


@router.get("/users", response_class=HTMLResponse)
def user_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    org_id: Annotated[str, Query(max_length=12)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    role: Annotated[str, Query(max_length=32)] = "",
    active: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    rows, total = service.list_users(
        db,
        actor=actor,
        params=params,
        org_id=parse_int(org_id),
        q=optional(q),
        role=parse_enum(Role, role),
        active={"1": True, "0": False}.get(active),
    )
    return render(
        request,
        "users/list.html",
        {
            "users": rows,
            # People of a deactivated organisation stay on the list, so it stays in the filter too.
            "orgs": orgs.choices(db, actor=actor, action=Action.user_view, active_only=False),
            "roles": list(Role),
            "filters": {"org_id": org_id, "q": q, "role": role, "active": active},
            "now": utcnow(),
            **page_context(params, total, org_id=org_id, q=q.strip(), role=role, active=active),
        },
    )


def _new_user_form(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    form: Mapping[str, Any],
    error: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "users/new.html",
        {
            "form": form,
            "orgs": orgs.choices(db, actor=actor, action=Action.user_manage),
            "roles": ASSIGNABLE_ROLES,
            "error": error,
        },
        status_code=status,
    )


@router.get("/users/new", response_class=HTMLResponse)
def user_new(request: Request, actor: CurrentActor, db: DB) -> Response:
    # A form page changes nothing, so no service runs; the permission check shows the refusal
    # before anyone fills in the form (the POST is checked again by the service).
    require(actor, Action.user_manage)
    return _new_user_form(request, db, actor, form={"org_id": str(actor.org_id or ""), "roles": []})


@router.post("/users", response_class=HTMLResponse)
def user_create(
    request: Request,
    actor: CurrentActor,
    db: DB,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=128)] = "",
    org_id: Annotated[str, Form(max_length=12)] = "",
    phone: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=128)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    # The password is never sent back to the browser.
    form = {
        "username": username,
        "display_name": display_name,
        "org_id": org_id,
        "phone": phone,
        "roles": roles or [],
    }
    try:
        data = UserCreate.model_validate({**form, "phone": optional(phone), "password": password})
        # The savepoint undoes whatever the service flushed before it refused (here: the person,
        # when a role is refused), because returning the form lets the unit of work commit.
        with db.begin_nested():
            user = service.create_user(db, actor=actor, data=data)
    except FIXABLE as exc:
        error, status = refusal(exc, USER_FIELDS)
        return _new_user_form(request, db, actor, form=form, error=error, status=status)
    return see_other(f"/users/{user.id}?done=created")


def _user_page(
    request: Request,
    db: Session,
    actor: Actor,
    user: User,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    records = offboarding.records_for(db, actor=actor, user_id=user.id)
    return render(
        request,
        "users/detail.html",
        {
            "user": user,
            "now": utcnow(),
            "notice": notice,
            "error": error,
            "records": [(record, _report(record)) for record in records],
            "assignable": [
                r for r in ASSIGNABLE_ROLES if r not in BUREAU_ROLES or user.org.kind == OrgKind.bureau
            ],
            "registered": [Role(r) for r in user.role_names if Role(r) in REGISTERED_ROLES],
            **_REPORT_CONTEXT,
        },
        status_code=status,
    )


@router.get("/users/{user_id}", response_class=HTMLResponse)
def user_detail(user_id: int, request: Request, actor: CurrentActor, db: DB, done: str = "") -> Response:
    user = service.get_user(db, actor=actor, user_id=user_id)
    return _user_page(request, db, actor, user, notice=NOTICES.get(done))


def _edit_form(
    request: Request,
    user: User,
    *,
    form: Mapping[str, Any],
    error: str | None = None,
    stale: bool = False,
    status: int = 200,
) -> Response:
    context = {"user": user, "form": form, "error": error, "stale": stale}
    return render(request, "users/edit.html", context, status_code=status)


@router.get("/users/{user_id}/edit", response_class=HTMLResponse)
def user_edit(user_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    user = service.get_user(db, actor=actor, user_id=user_id)
    require(actor, Action.user_manage, user)  # see user_new
    form = {"display_name": user.display_name, "phone": user.phone or "", "version": user.version}
    return _edit_form(request, user, form=form)


@router.post("/users/{user_id}/edit", response_class=HTMLResponse)
def user_update(
    user_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    version: Annotated[int, Form()],
    display_name: Annotated[str, Form(max_length=128)] = "",
    phone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    user = service.get_user(db, actor=actor, user_id=user_id)
    form = {"display_name": display_name, "phone": phone, "version": version}
    submitted = {"display_name": display_name.strip(), "phone": optional(phone)}
    try:
        data = UserUpdate.model_validate({"version": version, **changed(user, submitted)})
        with db.begin_nested():  # see user_create
            service.update_user(db, actor=actor, user_id=user.id, data=data)
    except FIXABLE as exc:
        error, status = refusal(exc, USER_FIELDS)
        return _edit_form(request, user, form=form, error=error, stale=is_stale(exc), status=status)
    return see_other(f"/users/{user.id}?done=updated")


@router.post("/users/{user_id}/roles", response_class=HTMLResponse)
def user_set_roles(
    user_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    try:
        wanted = RolesUpdate.model_validate({"roles": roles or []}).roles
        with db.begin_nested():  # see user_create
            user = service.set_roles(db, actor=actor, user_id=user_id, roles=wanted)
    except FIXABLE as exc:
        error, _ = refusal(exc, USER_FIELDS)
    else:
        return see_other(f"/users/{user.id}?done=roles")
    return _user_page(
        request, db, actor, service.get_user(db, actor=actor, user_id=user_id), error=error, status=422
    )


@router.post("/users/{user_id}/password", response_class=HTMLResponse)
def user_reset_password(
    user_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    new_password: Annotated[str, Form(max_length=128)] = "",
    confirm_password: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    if new_password != confirm_password:
        error = "两次输入的临时密码不一致，请重新输入。"
    else:
        try:
            with db.begin_nested():  # see user_create
                user = service.reset_password(db, actor=actor, user_id=user_id, new=new_password)
        except FIXABLE as exc:
            error, _ = refusal(exc, USER_FIELDS)
        else:
            return see_other(f"/users/{user.id}?done=password")
    return _user_page(
        request, db, actor, service.get_user(db, actor=actor, user_id=user_id), error=error, status=422
    )


@router.post("/users/{user_id}/unlock")
def user_unlock(user_id: int, actor: CurrentActor, db: DB) -> Response:
    user = service.unlock_user(db, actor=actor, user_id=user_id)
    return see_other(f"/users/{user.id}?done=unlocked")


# --- offboarding (离任) -----------------------------------------------------------------------------

# How the sections of an offboarding report (users.offboarding.offboard and its hooks) are titled.
_REPORT_CONTEXT = {
    "scope_labels": SCOPE_LABELS,
    "report_labels": {"business_systems": "业务系统", "systems_handed_over": "移交给接替人员的业务系统"},
    "report_known": {
        "access",
        "sessions_revoked",
        "tasks_handed_over",
        "registrations_ended",
        "roles_revoked",
    },
}


def _report(record: OffboardingRecord) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(record.report)
    return report


def _offboard_form(
    request: Request,
    db: Session,
    actor: Actor,
    user: User,
    *,
    form: Mapping[str, Any],
    error: str | None = None,
    status: int = 200,
) -> Response:
    people = service.choices(db, actor=actor, org_id=user.org_id)
    return render(
        request,
        "users/offboard.html",
        {
            "user": user,
            "successors": [p for p in people if p.id != user.id],
            "form": form,
            "error": error,
        },
        status_code=status,
    )


@router.get("/users/{user_id}/offboard", response_class=HTMLResponse)
def user_offboard_form(user_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    user = service.get_user(db, actor=actor, user_id=user_id)
    require(actor, Action.user_offboard, user)  # see user_new
    return _offboard_form(request, db, actor, user, form={})


@router.post("/users/{user_id}/offboard", response_class=HTMLResponse)
def user_offboard(
    user_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    successor_id: Annotated[str, Form(max_length=12)] = "",
    reason: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    form = {"successor_id": successor_id, "reason": reason}
    try:
        data = OffboardRequest.model_validate(form)
        with db.begin_nested():  # see user_create
            record = offboarding.offboard(
                db, actor=actor, user_id=user_id, successor_id=data.successor_id, reason=data.reason
            )
    except FIXABLE as exc:
        error, status = refusal(exc, USER_FIELDS)
    else:
        return see_other(f"/users/{user_id}?done=offboarded#record-{record.id}")
    user = service.get_user(db, actor=actor, user_id=user_id)
    return _offboard_form(request, db, actor, user, form=form, error=error, status=status)


@router.get("/offboarding/{record_id}", response_class=HTMLResponse)
def offboarding_record(record_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    record = offboarding.get_record(db, actor=actor, record_id=record_id)
    return render(
        request, "users/offboarding.html", {"record": record, "report": _report(record), **_REPORT_CONTEXT}
    )


# --- registrations (备案) ---------------------------------------------------------------------------


@router.get("/registrations", response_class=HTMLResponse)
def registration_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    status: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    rows, total = registrations.list_registrations(
        db, actor=actor, params=params, status=parse_enum(RegistrationStatus, status)
    )
    return render(
        request,
        "users/registrations.html",
        {
            "registrations": rows,
            "statuses": list(RegistrationStatus),
            "status_labels": STATUS_LABELS,
            "filters": {"status": status},
            **page_context(params, total, status=status),
        },
    )


def _registration_form(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    form: Mapping[str, Any],
    error: str | None = None,
    status: int = 200,
) -> Response:
    org_id = parse_int(str(form.get("org_id", ""))) or actor.org_id
    return render(
        request,
        "users/registration_new.html",
        {
            "form": form,
            "orgs": orgs.choices(db, actor=actor, action=Action.registration_submit),
            "org_id": org_id,
            "people": [] if org_id is None else service.choices(db, actor=actor, org_id=org_id),
            "posts": sorted(REGISTERED_ROLES),
            "error": error,
        },
        status_code=status,
    )


@router.get("/registrations/new", response_class=HTMLResponse)
def registration_new(
    request: Request, actor: CurrentActor, db: DB, org_id: Annotated[str, Query(max_length=12)] = ""
) -> Response:
    require(actor, Action.registration_submit)  # see user_new
    return _registration_form(request, db, actor, form={"org_id": org_id})


@router.post("/registrations", response_class=HTMLResponse)
def registration_submit(
    request: Request,
    actor: CurrentActor,
    db: DB,
    org_id: Annotated[str, Form(max_length=12)] = "",
    user_id: Annotated[str, Form(max_length=12)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    form = {"org_id": org_id, "user_id": user_id, "role": role, "note": note}
    try:
        data = RegistrationCreate.model_validate({"user_id": user_id, "role": role, "note": optional(note)})
        with db.begin_nested():  # see user_create
            reg = registrations.submit(db, actor=actor, user_id=data.user_id, role=data.role, note=data.note)
    except FIXABLE as exc:
        error, status = refusal(exc, USER_FIELDS)
        return _registration_form(request, db, actor, form=form, error=error, status=status)
    return see_other(f"/registrations/{reg.id}?done=submitted")


def _registration_page(
    request: Request,
    db: Session,
    actor: Actor,
    reg: Registration,
    *,
    notice: str | None = None,
    error: str | None = None,
    decision: str = "",
    comment: str = "",
    status: int = 200,
) -> Response:
    return render(
        request,
        "users/registration.html",
        {
            "reg": reg,
            "role": Role(reg.role),
            "status_labels": STATUS_LABELS,
            "notice": notice,
            "error": error,
            "decision": decision,
            "comment": comment,
        },
        status_code=status,
    )


@router.get("/registrations/{registration_id}", response_class=HTMLResponse)
def registration_detail(
    registration_id: int, request: Request, actor: CurrentActor, db: DB, done: str = ""
) -> Response:
    reg = registrations.get_registration(db, actor=actor, registration_id=registration_id)
    return _registration_page(request, db, actor, reg, notice=NOTICES.get(done))


@router.post("/registrations/{registration_id}/decision", response_class=HTMLResponse)
def registration_decide(
    registration_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    decision: Annotated[str, Form(max_length=16)] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    try:
        approve = {"approve": True, "return": False}.get(decision)
        data = RegistrationDecision.model_validate({"approve": approve, "comment": optional(comment)})
        with db.begin_nested():  # see user_create
            reg = registrations.decide(
                db, actor=actor, registration_id=registration_id, approve=data.approve, comment=data.comment
            )
    except FIXABLE as exc:
        error, status = refusal(exc, USER_FIELDS)
    else:
        return see_other(f"/registrations/{reg.id}?done={'approved' if data.approve else 'returned'}")
    reg = registrations.get_registration(db, actor=actor, registration_id=registration_id)
    return _registration_page(
        request, db, actor, reg, error=error, decision=decision, comment=comment, status=status
    )
