"""Security policy pages: the register, a policy with its version history, adopting, revising,
reviewing and retiring."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed, require
from govshare.errors import Invalid
from govshare.orgs import service as orgs
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams
from govshare.policies import service
from govshare.policies.models import BUREAU_KINDS, PolicyKind, PolicyStatus, SecurityPolicy
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import FIXABLE, is_stale, page_context, parse_enum, parse_int, refusal, see_other
from govshare.web.templating import render
from govshare.workdays import today as beijing_today

router = APIRouter(include_in_schema=False)

FIELDS = {
    "kind": ("制度类别", "请从列表中选择"),
    "title": ("制度名称", "不能超过 200 个字"),
    "body": ("制度正文", "不能超过 20000 个字"),
    "effective_on": ("生效日期", "请按 年-月-日 填写"),
    "review_months": ("审核周期", "应为 1–36 个月"),
    "version": ("版本", "请刷新页面后重新操作"),
}
NOTICES = {
    "created": "制度已发布。",
    "revised": "新版本已发布，上一版本保留在版本记录中。",
    "reviewed": "已记录本次定期审核（无需修改），下次审核日期已顺延。",
    "retired": "制度已废止。",
}


def _org_names(db: Session, ids: list[int] | None) -> dict[int, str]:
    """The owners offered by the filter: those given, or (None) every organisation with a policy."""
    stmt = select(Organisation.id, Organisation.short_name).order_by(Organisation.id)
    if ids is None:
        stmt = stmt.where(Organisation.id.in_(select(SecurityPolicy.org_id)))
    else:
        stmt = stmt.where(Organisation.id.in_(ids))
    return {i: name for i, name in db.execute(stmt)}


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(
            "请按“年-月-日”填写生效日期。", "effective_on must be a date.", details={"field": "effective_on"}
        ) from None


def _months(value: str) -> int:
    months = parse_int(value)
    if months is None:
        raise Invalid(
            "审核周期应为 1–36 个月。", "review_months must be a number.", details={"field": "review_months"}
        )
    return months


@router.get("/policies", response_class=HTMLResponse)
def policy_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    org: Annotated[str, Query(max_length=12)] = "",
    kind: Annotated[str, Query(max_length=32)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    owners = service.readable_orgs(db, actor=actor)
    org_id = parse_int(org)
    rows, total = service.list_policies(
        db,
        actor=actor,
        params=params,
        org_id=org_id if owners is None or org_id in owners else None,
        kind=parse_enum(PolicyKind, kind),
        status=parse_enum(PolicyStatus, status),
    )
    today = beijing_today()
    return render(
        request,
        "policies/list.html",
        {
            "policies": rows,
            "overdue": {p.id for p in rows if service.is_overdue(p, today)},
            "owners": _org_names(db, owners),
            "kinds": list(PolicyKind),
            "statuses": list(PolicyStatus),
            "filters": {"org": org, "kind": kind, "status": status},
            "can_create": allowed(actor, Action.policy_manage),
            **page_context(params, total, org=org, kind=kind, status=status),
        },
    )


def _is_bureau(db: Session, actor: Actor) -> bool:
    bureau = orgs.bureau(db)
    return bureau is not None and bureau.id == actor.org_id


def _form(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    policy: SecurityPolicy | None,
    form: Mapping[str, Any],
    error: str | None = None,
    stale: bool = False,
    status: int = 200,
) -> Response:
    kinds = [k for k in PolicyKind if _is_bureau(db, actor) or k not in BUREAU_KINDS]
    return render(
        request,
        "policies/form.html",
        {"policy": policy, "form": form, "kinds": kinds, "error": error, "stale": stale},
        status_code=status,
    )


@router.get("/policies/new", response_class=HTMLResponse)
def policy_new(request: Request, actor: CurrentActor, db: DB) -> Response:
    require(actor, Action.policy_manage)  # the POST is checked again by the service
    form = {"effective_on": beijing_today().isoformat(), "review_months": 12}
    return _form(request, db, actor, policy=None, form=form)


@router.post("/policies", response_class=HTMLResponse)
def policy_create(
    request: Request,
    actor: CurrentActor,
    db: DB,
    kind: Annotated[str, Form(max_length=32)] = "",
    title: Annotated[str, Form(max_length=400)] = "",
    body: Annotated[str, Form(max_length=40_000)] = "",
    effective_on: Annotated[str, Form(max_length=20)] = "",
    review_months: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    form = {
        "kind": kind,
        "title": title,
        "body": body,
        "effective_on": effective_on,
        "review_months": review_months,
    }
    try:
        text = service.PolicyText(
            kind=parse_enum(PolicyKind, kind),
            title=title,
            body=body,
            effective_on=_date(effective_on),
            review_months=_months(review_months),
        )
        # The savepoint undoes whatever the service flushed before it refused (see orgs.views).
        with db.begin_nested():
            policy = service.create_policy(db, actor=actor, data=text)
    except FIXABLE as exc:
        error, status = refusal(exc, FIELDS)
        return _form(request, db, actor, policy=None, form=form, error=error, status=status)
    return see_other(f"/policies/{policy.id}?done=created")


def _detail(
    request: Request,
    db: Session,
    actor: Actor,
    policy_id: int,
    *,
    done: str = "",
    error: str | None = None,
    stale: bool = False,
    status: int = 200,
) -> Response:
    policy = service.get_policy(db, actor=actor, policy_id=policy_id)
    history = service.versions(db, actor=actor, policy_id=policy.id)
    return render(
        request,
        "policies/detail.html",
        {
            "policy": policy,
            "history": history,
            "owner": _org_names(db, [policy.org_id]).get(policy.org_id, ""),
            "overdue": service.is_overdue(policy),
            "can_manage": policy.status == PolicyStatus.active.value
            and allowed(actor, Action.policy_manage, policy),
            "notice": NOTICES.get(done),
            "error": error,
            "stale": stale,
        },
        status_code=status,
    )


@router.get("/policies/{policy_id}", response_class=HTMLResponse)
def policy_detail(policy_id: int, request: Request, actor: CurrentActor, db: DB, done: str = "") -> Response:
    return _detail(request, db, actor, policy_id, done=done)


@router.get("/policies/{policy_id}/versions/{version}", response_class=HTMLResponse)
def policy_version(policy_id: int, version: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    policy = service.get_policy(db, actor=actor, policy_id=policy_id)
    found = service.get_version(db, actor=actor, policy_id=policy.id, version=version)
    return render(request, "policies/version.html", {"policy": policy, "item": found})


@router.get("/policies/{policy_id}/revise", response_class=HTMLResponse)
def policy_revise_form(policy_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    policy = service.get_policy(db, actor=actor, policy_id=policy_id)
    require(actor, Action.policy_manage, policy)
    form = {
        "title": policy.title,
        "body": policy.body,
        "effective_on": policy.effective_on.isoformat(),
        "review_months": policy.review_months,
        "version": policy.version,
        "change_note": "",
    }
    return _form(request, db, actor, policy=policy, form=form)


@router.post("/policies/{policy_id}/revise", response_class=HTMLResponse)
def policy_revise(
    policy_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    version: Annotated[int, Form()],
    title: Annotated[str, Form(max_length=400)] = "",
    body: Annotated[str, Form(max_length=40_000)] = "",
    effective_on: Annotated[str, Form(max_length=20)] = "",
    review_months: Annotated[str, Form(max_length=4)] = "",
    change_note: Annotated[str, Form(max_length=4_000)] = "",
) -> Response:
    policy = service.get_policy(db, actor=actor, policy_id=policy_id)
    form = {
        "title": title,
        "body": body,
        "effective_on": effective_on,
        "review_months": review_months,
        "version": version,
        "change_note": change_note,
    }
    try:
        text = service.PolicyText(
            title=title, body=body, effective_on=_date(effective_on), review_months=_months(review_months)
        )
        with db.begin_nested():
            service.revise_policy(
                db, actor=actor, policy_id=policy.id, version=version, data=text, change_note=change_note
            )
    except FIXABLE as exc:
        error, status = refusal(exc, FIELDS)
        return _form(
            request, db, actor, policy=policy, form=form, error=error, stale=is_stale(exc), status=status
        )
    return see_other(f"/policies/{policy.id}?done=revised")


@router.post("/policies/{policy_id}/review", response_class=HTMLResponse)
def policy_review(
    policy_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    version: Annotated[int, Form()],
    note: Annotated[str, Form(max_length=4_000)] = "",
) -> Response:
    try:
        with db.begin_nested():
            service.review_policy(db, actor=actor, policy_id=policy_id, version=version, note=note)
    except FIXABLE as exc:
        error, status = refusal(exc, FIELDS)
        return _detail(request, db, actor, policy_id, error=error, stale=is_stale(exc), status=status)
    return see_other(f"/policies/{policy_id}?done=reviewed")


@router.post("/policies/{policy_id}/retire", response_class=HTMLResponse)
def policy_retire(
    policy_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    version: Annotated[int, Form()],
    reason: Annotated[str, Form(max_length=4_000)] = "",
) -> Response:
    try:
        with db.begin_nested():
            service.retire_policy(db, actor=actor, policy_id=policy_id, version=version, reason=reason)
    except FIXABLE as exc:
        error, status = refusal(exc, FIELDS)
        return _detail(request, db, actor, policy_id, error=error, stale=is_stale(exc), status=status)
    return see_other(f"/policies/{policy_id}?done=retired")
