"""Open-data pages: the public portal (no login) and the Bureau's inbox of applications (M1, M3, M8).

Public pages render in the shell without navigation (nobody is logged in). Their forms carry a
double-submit token (a cookie set with the page and a hidden field), as the login form does:
a foreign site cannot post an application or a download in a visitor's name.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed
from govshare.catalog.models import Resource
from govshare.catalog.vocab import OpenType, UpdateCycle
from govshare.crypto import constant_time_equal
from govshare.errors import Forbidden, Invalid, NotFound
from govshare.masking.models import MaskingProfile
from govshare.opendata import applications, ratelimit, service
from govshare.opendata.api import Limited, data_limit
from govshare.opendata.models import APPLICANT_LABELS, ApplicationStatus, OpenApplication
from govshare.opendata.schemas import ApplicationIn
from govshare.pagination import PageParams
from govshare.settings import get_settings
from govshare.web.deps import DB, CurrentActor, client_ip, public, reads_first
from govshare.web.forms import FIXABLE, page_context, parse_enum, parse_int, refusal, see_other
from govshare.web.templating import render
from govshare.workdays import today as beijing_today

router = APIRouter(include_in_schema=False)
FORM_COOKIE = "govshare_open_form"
HOUR = timedelta(hours=1)
FIELDS = {
    "applicant_type": ("申请人类型", "请选择个人、企业或其他单位"),
    "applicant_name": ("申请人姓名", "不能超过 64 个字"),
    "org_name": ("单位名称", "不能超过 128 个字"),
    "credit_code": ("统一社会信用代码", "应为 18 位"),
    "phone": ("联系电话", ""),
    "email": ("电子邮箱", ""),
    "purpose": ("用途", "应为 5 至 1000 个字"),
    "items": ("申请的信息项", "请至少勾选一项"),
    "wanted_until": ("使用期限", "请按 年-月-日 填写"),
}
NOTICES = {"approved": "已批准该申请。", "rejected": "已驳回该申请。", "settings": "开放数据脱敏方案已更新。"}


def _form_token(response: Response, token: str) -> Response:
    response.set_cookie(
        FORM_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=get_settings().cookies_secure,
        path="/open",
    )
    return response


def _check_form(request: Request, presented: str) -> None:
    cookie = request.cookies.get(FORM_COOKIE, "")
    if not cookie or not constant_time_equal(cookie, presented):
        raise Forbidden(
            "页面已过期或请求来源不可信，请返回资源页面刷新后重新提交。", "Form token check failed."
        )


def _public(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, name, {**context, "form_token": token}, status_code=status)
    return _form_token(response, token)


# --- the portal -----------------------------------------------------------------------------------


@router.get("/open", response_class=HTMLResponse)
@public
def portal_home(request: Request, db: DB) -> Response:
    return render(request, "opendata/home.html", {"overview": service.overview(db)})


@router.get("/open/resources", response_class=HTMLResponse)
@public
def portal_search(
    request: Request,
    db: DB,
    params: Annotated[PageParams, Depends()],
    q: Annotated[str, Query(max_length=100)] = "",
    org: Annotated[str, Query(max_length=12)] = "",
    category: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    listing = service.search(db, q=q, org_id=parse_int(org), category=category, params=params)
    overview = service.overview(db, newest=0)
    return render(
        request,
        "opendata/search.html",
        {
            "listing": listing,
            "filters": {"q": q, "org": org, "category": category},
            "orgs": overview.by_org,
            "classes": overview.by_class,
            "labels": {"open_type": OpenType, "cycle": UpdateCycle},
            **page_context(params, listing.total, q=q, org=org, category=category),
        },
    )


def _detail(
    request: Request,
    db: Session,
    actor: Actor,
    resource_id: int,
    *,
    form: Mapping[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    shown = service.get(db, resource_id=resource_id)
    preview = service.preview(db, actor=actor, shown=shown) if form is None else None
    return _public(
        request,
        "opendata/resource.html",
        {
            "shown": shown,
            "masking": shown.masking(),
            "preview": preview,
            "titles": service.served_titles(shown, [i["name"] for i in shown.served]),
            "open_type_label": OpenType(shown.open_type).label,
            "cycle_label": UpdateCycle(shown.resource.update_cycle).label,
            "applicant_types": APPLICANT_LABELS,
            "form": form or {"applicant_type": "enterprise", "items": [i["name"] for i in shown.served]},
            "error": error,
            "default_until": (beijing_today() + timedelta(days=180)).isoformat(),
            "rate_limit": get_settings().open_rate_limit_per_minute,
        },
        status=status,
    )


@router.get("/open/resources/{resource_id}", response_class=HTMLResponse)
@public
@reads_first
def portal_resource(request: Request, resource_id: int, actor: Limited, db: DB) -> Response:
    """A resource's page; an unconditionally open table's first rows are shown masked (a delivery:
    counted against the address's limit and audited)."""
    return _detail(request, db, actor, resource_id)


def _download(request: Request, db: Session, actor: Actor, resource_id: int, fmt: str) -> Response:
    reading = service.reading_for(db, resource_id=resource_id)
    query = list(request.query_params.multi_items())
    reading.filters(query)  # refuse a bad filter before the answer starts
    chunks = service.stream(
        request.app.state.reads_first,
        request.app.state.unit_of_work,
        actor=actor,
        resource_id=resource_id,
        fmt=fmt,
        query=query,
    )
    name = service.download_name(reading.resource, fmt)
    return StreamingResponse(
        chunks,
        media_type=service.FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/open/resources/{resource_id}/download.csv")
@public
@reads_first
def portal_download_csv(request: Request, resource_id: int, actor: Limited, db: DB) -> Response:
    return _download(request, db, actor, resource_id, "csv")


@router.get("/open/resources/{resource_id}/download.json")
@public
@reads_first
def portal_download_json(request: Request, resource_id: int, actor: Limited, db: DB) -> Response:
    return _download(request, db, actor, resource_id, "json")


# --- applications (M8) ----------------------------------------------------------------------------


def apply_limit(request: Request) -> Actor:
    ip = client_ip(request)
    ratelimit.check(
        request.app.state.unit_of_work,
        bucket="apply",
        address=ip,
        limit=get_settings().open_applications_per_hour,
        length=HOUR,
    )
    return Actor.anonymous(ip)


@router.post("/open/resources/{resource_id}/apply", response_class=HTMLResponse)
@public
def portal_apply(
    request: Request,
    resource_id: int,
    actor: Annotated[Actor, Depends(apply_limit)],
    db: DB,
    form_token: Annotated[str, Form(max_length=64)] = "",
    applicant_type: Annotated[str, Form(max_length=16)] = "",
    applicant_name: Annotated[str, Form(max_length=200)] = "",
    org_name: Annotated[str, Form(max_length=400)] = "",
    credit_code: Annotated[str, Form(max_length=40)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    email: Annotated[str, Form(max_length=400)] = "",
    purpose: Annotated[str, Form(max_length=4000)] = "",
    items: Annotated[list[str] | None, Form(max_length=200)] = None,
    wanted_until: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    _check_form(request, form_token)
    form = {
        "applicant_type": applicant_type,
        "applicant_name": applicant_name,
        "org_name": org_name,
        "credit_code": credit_code,
        "phone": phone,
        "email": email,
        "purpose": purpose,
        "items": items or [],
        "wanted_until": wanted_until,
    }
    try:
        data = ApplicationIn.model_validate({**form, "wanted_until": _date(wanted_until)})
        with db.begin_nested():
            submitted = applications.submit(db, actor=actor, resource_id=resource_id, data=data)
    except FIXABLE as exc:
        error, status = refusal(exc, FIELDS)
        return _detail(request, db, actor, resource_id, form=form, error=error, status=status)
    shown = service.get(db, resource_id=resource_id)
    return render(
        request,
        "opendata/submitted.html",
        {"application": submitted.application, "code": submitted.code, "shown": shown},
        status_code=201,
    )


def _date(value: str) -> date | str:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return value  # the schema reports it with the field's name


@router.get("/open/applications/lookup", response_class=HTMLResponse)
@public
def portal_lookup_page(request: Request) -> Response:
    return _public(request, "opendata/lookup.html", {"form": {}})


def _found(
    request: Request, db: Session, actor: Actor, number: str, code: str, form_token: str
) -> tuple[OpenApplication, service.OpenResource | None]:
    _check_form(request, form_token)
    application = applications.lookup(db, actor=actor, number=number, code=code)
    try:
        shown: service.OpenResource | None = service.get(db, resource_id=application.resource_id)
    except NotFound:  # the resource was closed or retired since: the status is still shown
        shown = None
    return application, shown


@router.post("/open/applications/lookup", response_class=HTMLResponse)
@public
def portal_lookup(
    request: Request,
    actor: Limited,
    db: DB,
    number: Annotated[str, Form(max_length=40)] = "",
    code: Annotated[str, Form(max_length=64)] = "",
    form_token: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    application, shown = _found(request, db, actor, number, code, form_token)
    usable = (
        application.status == ApplicationStatus.approved.value
        and application.valid_until is not None
        and application.valid_until >= beijing_today()
        and shown is not None
        and shown.is_table
    )
    return _public(
        request,
        "opendata/status.html",
        {"application": application, "shown": shown, "usable": usable, "number": number, "code": code},
    )


@router.post("/open/applications/download")
@public
@reads_first
def portal_application_download(
    request: Request,
    actor: Limited,
    db: DB,
    number: Annotated[str, Form(max_length=40)] = "",
    code: Annotated[str, Form(max_length=64)] = "",
    form_token: Annotated[str, Form(max_length=64)] = "",
    format: Annotated[str, Form(max_length=8)] = "csv",
) -> Response:
    """An approved applicant's download of the approved items (masked), until the approval ends."""
    fmt = service.check_format(format)
    _check_form(request, form_token)
    application = applications.lookup(db, actor=actor, number=number, code=code)
    reading = service.reading_for(db, resource_id=application.resource_id, application=application)
    chunks = service.stream(
        request.app.state.reads_first,
        request.app.state.unit_of_work,
        actor=actor,
        resource_id=application.resource_id,
        fmt=fmt,
        query=[],
        application_id=application.id,
    )
    name = service.download_name(reading.resource, fmt)
    return StreamingResponse(
        chunks,
        media_type=service.FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- the Bureau's inbox ---------------------------------------------------------------------------


def _resources(db: Session, ids: set[int]) -> dict[int, Resource]:
    if not ids:
        return {}
    return {r.id: r for r in db.scalars(select(Resource).where(Resource.id.in_(ids)))}


@router.get("/open-applications", response_class=HTMLResponse)
def inbox(
    request: Request,
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    status: Annotated[str, Query(max_length=16)] = "",
    done: Annotated[str, Query(max_length=16)] = "",
    error: str | None = None,
) -> Response:
    rows, total = applications.list_applications(
        db, actor=actor, status=parse_enum(ApplicationStatus, status), params=params
    )
    can_settings = allowed(actor, Action.open_settings)
    return render(
        request,
        "opendata/inbox.html",
        {
            "applications": rows,
            "resources": _resources(db, {a.resource_id for a in rows}),
            "statuses": list(ApplicationStatus),
            "filters": {"status": status},
            "notice": NOTICES.get(done),
            "error": error,
            "can_settings": can_settings,
            "profile": service.masking_profile(db),
            "profiles": list(db.scalars(select(MaskingProfile).order_by(MaskingProfile.code)))
            if can_settings
            else [],
            **page_context(params, total, status=status),
        },
        status_code=422 if error else 200,
    )


@router.post("/open-applications/settings", response_class=HTMLResponse)
def inbox_settings(
    request: Request, actor: CurrentActor, db: DB, profile: Annotated[str, Form(max_length=32)] = ""
) -> Response:
    try:
        with db.begin_nested():
            service.set_masking_profile(db, actor=actor, code=profile.strip())
    except Invalid as exc:
        return inbox(request, actor, db, PageParams(), error=exc.message)
    return see_other("/open-applications?done=settings")


def _application_page(
    request: Request,
    db: Session,
    actor: Actor,
    application_id: int,
    *,
    done: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    application = applications.get_application(db, actor=actor, application_id=application_id)
    resource = _resources(db, {application.resource_id}).get(application.resource_id)
    titles: Mapping[str, str] = {}
    try:
        titles = service.served_titles(
            service.get(db, resource_id=application.resource_id), application.items
        )
    except NotFound:  # no longer open: names only
        titles = {n: n for n in application.items}
    return render(
        request,
        "opendata/application.html",
        {
            "application": application,
            "resource": resource,
            "titles": titles,
            "can_decide": application.status == ApplicationStatus.pending.value
            and allowed(actor, Action.open_application_decide, application),
            "notice": NOTICES.get(done),
            "error": error,
            "default_until": application.wanted_until.isoformat(),
        },
        status_code=status,
    )


@router.get("/open-applications/{application_id}", response_class=HTMLResponse)
def application_page(
    request: Request, application_id: int, actor: CurrentActor, db: DB, done: str = ""
) -> Response:
    return _application_page(request, db, actor, application_id, done=done)


@router.post("/open-applications/{application_id}/decide", response_class=HTMLResponse)
def application_decide(
    request: Request,
    application_id: int,
    actor: CurrentActor,
    db: DB,
    decision: Annotated[str, Form(max_length=16)] = "",
    items: Annotated[list[str] | None, Form(max_length=200)] = None,
    valid_until: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    version: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if decision not in ("approve", "reject"):
        return _application_page(request, db, actor, application_id, error="请选择批准或驳回。", status=422)
    until = _date(valid_until) if valid_until.strip() else None
    try:
        if isinstance(until, str):
            raise Invalid(
                "请按“年-月-日”填写使用期限截止日期。", "Bad date.", details={"field": "valid_until"}
            )
        with db.begin_nested():
            applications.decide(
                db,
                actor=actor,
                application_id=application_id,
                approve=decision == "approve",
                items=items or [],
                valid_until=until,
                reason=reason,
                version=parse_int(version),
            )
    except (ValidationError, *FIXABLE) as exc:
        message, status = refusal(exc, {})
        return _application_page(request, db, actor, application_id, error=message, status=status)
    done = "approved" if decision == "approve" else "rejected"
    return see_other(f"/open-applications/{application_id}?done={done}")


__all__ = ["data_limit", "router"]
