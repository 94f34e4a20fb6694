"""Sharing pages: the request action on a resource page, 我的申请, 待我审批 (with the working days
left to answer), a request with the provider's decision form, and 共享授权 held and given, with the
provider's suspend, resume, revoke and renew. The pages for using the data of a grant (数据查询,
数据异议, 数据导出) are in `sharing.data_views`; the tabs here lead to them.

The pages only present and collect; every rule (who may request what, who decides, what a grant may
hold) is in `sharing.service`, which the JSON API calls the same way. A refusal a person can fix
(422, 409, and on the request form also the 403 of a resource that is not shared) comes back on the
form with what was typed; other refusals go to the error page, which audits denied attempts.
The /catalog/{resource_id}/request paths are routed before `catalog.views`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed, require
from govshare.catalog import disclosure
from govshare.catalog import service as catalog
from govshare.catalog.models import Resource
from govshare.errors import Conflict, DomainError, Forbidden, Invalid
from govshare.exchange.access import published_items
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams
from govshare.sharing import service
from govshare.sharing.models import Grant, ShareRequest
from govshare.systems.models import BusinessSystem
from govshare.users.models import User
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import page_context, parse_int, see_other
from govshare.web.templating import render
from govshare.workdays import EMPTY, Calendar, today

router = APIRouter(include_in_schema=False)

DEFAULT_DAYS = 365
REGION_ITEM = "region_code"  # 行政区划代码: the item a partial approval may limit rows by
NOTICES = {
    "granted": "已获得授权。请按申请的用途使用数据，授权到期前可联系提供部门续期。",
    "filed": "共享申请已提交，提供部门将在截止日期前答复；答复后本页显示审批结果。",
    "decided": "答复已提交，申请部门可在“我的申请”中看到结果。",
    "disputed": "异议已提交，由市数据资源管理局协调，其裁定为最终结果。",
    "ruled": "裁定已提交，申请部门和提供部门均可在本页看到结果。",
    "suspend": "授权已暂停，持有部门暂时不能调用数据。",
    "resume": "授权已恢复。",
    "revoke": "授权已撤销。",
    "renew": "授权已续期。",
}
# Refusals shown on the form; on the request form also the 403 of a resource that is not shared.
FIXABLE = (Invalid, Conflict)
REQUEST_REFUSALS = (Invalid, Conflict, Forbidden)
DISPUTE_LABELS = {"open": "待市数据资源管理局协调", "upheld": "维持原答复", "overruled": "已改为同意"}
CHANGE_LABELS = {"suspend": "暂停", "resume": "恢复", "revoke": "撤销", "renew": "续期"}


# --- presenting requests and grants --------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A reply deadline as the pages show it: the date, and the working days left (or overdue)."""

    day: date
    provisional: bool
    days: int
    overdue: bool

    @property
    def text(self) -> str:
        if self.overdue:
            return f"已超期 {self.days} 个工作日"
        return "今日到期" if self.days == 0 else f"剩余 {self.days} 个工作日"


class Dated(Protocol):
    """What has a reply deadline: a share request, a feedback case."""

    @property
    def due_date(self) -> date | None: ...

    @property
    def due_provisional(self) -> bool: ...


def due_of(request: Dated, on: date | None = None, calendar: Calendar = EMPTY) -> Due | None:
    """The request's (or case's) deadline counted from `on` (today in China) in `calendar`'s working
    days (the page passes the one with the Bureau's holiday table); None without a deadline."""
    if request.due_date is None:
        return None
    on = on or today()
    if on <= request.due_date:
        left = calendar.working_days_between(on, request.due_date)
        return Due(request.due_date, request.due_provisional or left.provisional, left.days, False)
    late = calendar.working_days_between(request.due_date, on)
    return Due(request.due_date, request.due_provisional or late.provisional, late.days, True)


class Names:
    """Names of departments, people, systems and resources, and the titles of items, for the pages."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self._titles: dict[int, dict[str, str]] = {}

    def org(self, org_id: int | None) -> str:
        org = self.db.get(Organisation, org_id) if org_id is not None else None
        return org.name if org is not None else "—"

    def user(self, user_id: int | None) -> str:
        user = self.db.get(User, user_id) if user_id is not None else None
        return user.display_name if user is not None else "—"

    def system(self, system_id: int | None) -> str | None:
        system = self.db.get(BusinessSystem, system_id) if system_id is not None else None
        return system.name if system is not None else None

    def resource(self, resource_id: int) -> Resource:
        resource = self.db.get(Resource, resource_id)
        assert resource is not None
        return resource

    def items(self, resource_id: int, names: list[str]) -> list[str]:
        """`title（name）` of each item, as the catalog lists it."""
        if resource_id not in self._titles:
            resource = self.resource(resource_id)
            self._titles[resource_id] = {i["name"]: i["title"] for i in published_items(self.db, resource)}
        titles = self._titles[resource_id]
        return [f"{titles[n]}（{n}）" if n in titles else n for n in names]


def _grant_of(db: Session, request: ShareRequest) -> Grant | None:
    """The request's grant: the latest, since a Bureau ruling on a dispute replaces the provider's."""
    return db.scalar(select(Grant).where(Grant.request_id == request.id).order_by(Grant.id.desc()).limit(1))


def _tabs(actor: Actor) -> list[tuple[str, str]]:
    """The sharing pages' tabs the actor may use."""
    tabs = [("/sharing/requests", "我的申请")]
    if allowed(actor, Action.sharing_decide) or allowed(actor, Action.grant_manage):
        tabs.append(("/sharing/inbox", "待我审批"))
    tabs.append(("/sharing/grants", "共享授权"))
    tabs.append(("/sharing/feedback", "数据异议"))
    tabs.append(("/sharing/exports", "数据导出"))
    if allowed(actor, Action.sharing_supervise):
        tabs.append(("/sharing/purposes", "用途核查"))
    return tabs


def _page(
    request: Request, name: str, actor: Actor, db: Session, context: dict[str, Any], **kw: Any
) -> Response:
    return render(
        request,
        name,
        {
            "tabs": _tabs(actor),
            "path": request.url.path,
            "names": Names(db),
            "status_labels": service.STATUS_LABELS,
            "grant_labels": service.GRANT_LABELS,
            "dispute_labels": DISPUTE_LABELS,
            "sharing_labels": service.SHARING_LABELS,
            "due_of": partial(due_of, calendar=Calendar.load(db)),
            "max_days": service.MAX_DAYS,
            **context,
        },
        **kw,
    )


@router.get("/sharing", response_class=HTMLResponse)
def sharing_home(actor: CurrentActor) -> Response:
    """The navigation entry: an approver starts at the inbox, everyone else at their requests."""
    require(actor, Action.sharing_view)
    return see_other("/sharing/inbox" if allowed(actor, Action.sharing_decide) else "/sharing/requests")


# --- the resource page's action ------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """What the catalog entry page shows a department about using the resource."""

    action: str | None  # the button's label, or None when the person cannot request it
    grants: list[Grant]
    pending: list[ShareRequest]
    not_shared_reason: str | None


def resource_panel(db: Session, actor: Actor, resource: Resource) -> Panel | None:
    """The sharing part of the catalog entry page for a person who may request data for another
    department (None for the providing department, the Bureau, and people who do not request data)."""
    if (
        actor.org_id is None
        or actor.org_id == resource.org_id
        or not allowed(actor, Action.sharing_request)
        or not allowed(actor, Action.sharing_view)
    ):
        return None
    published = resource.published_version_id is not None and resource.status != "retired"
    reason = None
    if resource.sharing_type == "not_shared":
        reason = catalog.shown_version(db, resource).not_shared_reason or "提供部门未填写理由"
    action = None
    if published and reason is None:
        action = "申请使用" if resource.sharing_type == "unconditional" else "提交共享申请"
    return Panel(
        action=action,
        grants=service.active_grants(db, org_id=actor.org_id, resource_id=resource.id),
        pending=service.open_requests(db, org_id=actor.org_id, resource_id=resource.id),
        not_shared_reason=reason,
    )


def _request_form(
    request: Request,
    db: Session,
    actor: Actor,
    resource: Resource,
    form: dict[str, Any],
    *,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    systems = db.scalars(
        select(BusinessSystem)
        .where(BusinessSystem.org_id == actor.org_id, BusinessSystem.is_active.is_(True))
        .order_by(BusinessSystem.name)
    ).all()
    assert actor.org_id is not None
    return _page(
        request,
        "sharing/request_form.html",
        actor,
        db,
        {
            "resource": resource,
            "provider": db.get(Organisation, resource.org_id),
            # Restricted items (S9) the department may not see are not offered either.
            "items": disclosure.shown_items(
                db, actor=actor, resource=resource, items=published_items(db, resource)
            ).items,
            "systems": systems,
            "held": service.active_grants(db, org_id=actor.org_id, resource_id=resource.id),
            "form": form,
            "error": error,
            "errors": errors or {},
        },
        status_code=status,
    )


def _days(value: str, field: str, label: str, *, required: bool = True) -> int | None:
    """A number of days typed into a form; raises Invalid naming the field."""
    value = value.strip()
    if not value and not required:
        return None
    if not value.isdecimal():
        raise Invalid(
            f"{label}应为 1 到 {service.MAX_DAYS} 之间的整数。",
            f"{field} is not a number.",
            details={"field": field},
        )
    return int(value)


def _refusal(exc: DomainError) -> tuple[str, dict[str, str], int]:
    field = exc.details.get("field") if isinstance(exc.details, dict) else None
    return exc.message, ({str(field): exc.message} if field else {}), exc.status


@router.get("/catalog/{resource_id}/request", response_class=HTMLResponse)
def request_new(resource_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    resource = service.requestable(db, actor=actor, resource_id=resource_id)
    blank = {"items": [], "purpose": "", "basis": "", "scope_of_use": "", "duration_days": str(DEFAULT_DAYS)}
    return _request_form(request, db, actor, resource, blank | {"system_id": ""})


@router.post("/catalog/{resource_id}/request", response_class=HTMLResponse)
def request_create(
    resource_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    items: Annotated[list[str] | None, Form(max_length=500)] = None,
    purpose: Annotated[str, Form(max_length=400)] = "",
    basis: Annotated[str, Form(max_length=1000)] = "",
    scope_of_use: Annotated[str, Form(max_length=1000)] = "",
    duration_days: Annotated[str, Form(max_length=8)] = "",
    system_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    require(actor, Action.sharing_request)
    resource = catalog.get_resource(db, actor=actor, resource_id=resource_id)
    form = {
        "items": items or [],
        "purpose": purpose,
        "basis": basis,
        "scope_of_use": scope_of_use,
        "duration_days": duration_days,
        "system_id": system_id,
    }
    try:
        days = _days(duration_days, "duration_days", "使用期限（天）")
        assert days is not None
        data = service.RequestIn(
            resource_id=resource.id,
            items=items or [],
            purpose=purpose,
            basis=basis,
            duration_days=days,
            scope_of_use=scope_of_use,
            system_id=parse_int(system_id),
        )
        with db.begin_nested():  # undo what was flushed before a refusal: the form is answered, not raised
            filed, grant = service.file_request(db, actor=actor, data=data)
    except REQUEST_REFUSALS as exc:
        error, errors, status = _refusal(exc)
        return _request_form(request, db, actor, resource, form, error=error, errors=errors, status=status)
    return see_other(f"/sharing/requests/{filed.id}?done={'granted' if grant else 'filed'}")


# --- requests ------------------------------------------------------------------------------------


@router.get("/sharing/requests", response_class=HTMLResponse)
def requests_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    status: Annotated[str, Query(max_length=16)] = "",
    side: Annotated[str, Query(max_length=8)] = "mine",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """我的申请 (the department's requests), or for the Bureau all requests in the city."""
    status = status if status in service.STATUS_LABELS else ""
    side = "all" if side == "all" and allowed(actor, Action.sharing_supervise) else "mine"
    params = PageParams(page=page)
    rows, total = service.list_requests(
        db, actor=actor, side=side, status=status or None, limit=params.page_size, offset=params.offset
    )
    return _page(
        request,
        "sharing/requests.html",
        actor,
        db,
        {
            "rows": rows,
            "status": status,
            "side": side,
            "can_see_all": allowed(actor, Action.sharing_supervise),
            **page_context(params, total, status=status, side="all" if side == "all" else ""),
        },
    )


@router.get("/sharing/inbox", response_class=HTMLResponse)
def inbox(
    request: Request, actor: CurrentActor, db: DB, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> Response:
    """待我审批: pending requests to the department, the one due soonest first."""
    params = PageParams(page=page)
    rows, total = service.list_inbox(db, actor=actor, limit=params.page_size, offset=params.offset)
    return _page(
        request,
        "sharing/inbox.html",
        actor,
        db,
        {"rows": rows, "can_decide": allowed(actor, Action.sharing_decide), **page_context(params, total)},
    )


def _decision_form(request_: ShareRequest) -> dict[str, Any]:
    return {
        "decision": "",
        "reason": "",
        "items": list(request_.items),
        "region_codes": "",
        "masking_profile": "",
        "duration_days": str(request_.duration_days),
    }


def _request_page(
    request: Request,
    db: Session,
    actor: Actor,
    request_: ShareRequest,
    *,
    notice: str | None = None,
    form: dict[str, Any] | None = None,
    dispute_form: dict[str, Any] | None = None,
    ruling_form: dict[str, Any] | None = None,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    resource = db.get(Resource, request_.resource_id)
    assert resource is not None
    items = published_items(db, resource)
    can_decide = (
        request_.status == "pending"
        and actor.org_id == request_.provider_org_id
        and allowed(actor, Action.sharing_decide, resource)
    )
    return _page(
        request,
        "sharing/request.html",
        actor,
        db,
        {
            "req": request_,
            "resource": resource,
            "grant": _grant_of(db, request_),
            "due": due_of(request_, calendar=Calendar.load(db)),
            "can_decide": can_decide,
            "requested_items": [i for i in items if i["name"] in request_.items],
            "has_region": any(i["name"] == REGION_ITEM for i in items),
            "form": form or _decision_form(request_),
            "can_dispute": request_.status in ("rejected", "partial")
            and request_.dispute_status is None
            and actor.org_id == request_.org_id
            and allowed(actor, Action.sharing_request),
            "can_rule": request_.dispute_status == "open" and allowed(actor, Action.sharing_rule),
            "dispute_form": dispute_form or {"reason": ""},
            "ruling_form": ruling_form or _decision_form(request_),
            "notice": notice,
            "error": error,
            "errors": errors or {},
        },
        status_code=status,
    )


@router.get("/sharing/requests/{request_id}", response_class=HTMLResponse)
def request_detail(
    request_id: int, request: Request, actor: CurrentActor, db: DB, done: str = ""
) -> Response:
    request_ = service.get_request(db, actor=actor, request_id=request_id)
    return _request_page(request, db, actor, request_, notice=NOTICES.get(done))


def parse_codes(text: str) -> list[str]:
    """行政区划代码 typed as a list: separated by commas (either width), 、, semicolons or spaces."""
    return [code for code in re.split(r"[,，、;；\s]+", text) if code]


@dataclass(frozen=True)
class AnswerForm:
    """The decision form (the provider's approver) and the ruling form (the Bureau) as typed."""

    decision: str
    reason: str
    items: list[str]
    region_codes: str
    masking_profile: str
    duration_days: str

    def data(self, refusal: str, choose: str) -> service.DecisionIn:
        """The answer for the service: `refusal` is the choice that grants nothing (reject or
        uphold); `choose` the message when nothing was chosen. Raises Invalid naming the field."""
        if self.decision not in ("approve", "partial", refusal):
            raise Invalid(choose, "No decision chosen.", details={"field": "decision"})
        if self.decision == refusal:
            return service.DecisionIn(decision=self.decision, reason=self.reason)
        if not self.items:
            raise Invalid(
                "请至少勾选一个同意提供的信息项；全部不同意请另选。",
                "No items ticked.",
                details={"field": "items"},
            )
        codes = parse_codes(self.region_codes)
        return service.DecisionIn(
            decision=self.decision,
            reason=self.reason,
            items=self.items,
            row_scope={REGION_ITEM: codes} if codes else None,
            masking_profile=self.masking_profile.strip() or None,
            duration_days=_days(self.duration_days, "duration_days", "授权期限（天）", required=False),
        )


def _answer_form(
    decision: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    items: Annotated[list[str] | None, Form(max_length=500)] = None,
    region_codes: Annotated[str, Form(max_length=4000)] = "",
    masking_profile: Annotated[str, Form(max_length=40)] = "",
    duration_days: Annotated[str, Form(max_length=8)] = "",
) -> AnswerForm:
    return AnswerForm(decision, reason, items or [], region_codes, masking_profile, duration_days)


Answer = Annotated[AnswerForm, Depends(_answer_form)]


def _answered(
    request: Request,
    db: Session,
    actor: Actor,
    request_: ShareRequest,
    exc: DomainError,
    *,
    form: dict[str, Any] | None = None,
    dispute_form: dict[str, Any] | None = None,
    ruling_form: dict[str, Any] | None = None,
) -> Response:
    """The request page again, with the refused form as it was typed and why it was refused."""
    error, errors, status = _refusal(exc)
    db.refresh(request_)
    return _request_page(
        request,
        db,
        actor,
        request_,
        form=form,
        dispute_form=dispute_form,
        ruling_form=ruling_form,
        error=error,
        errors=errors,
        status=status,
    )


@router.post("/sharing/requests/{request_id}/decision", response_class=HTMLResponse)
def request_decide(request_id: int, request: Request, actor: CurrentActor, db: DB, form: Answer) -> Response:
    """The provider's approver answers: approve, approve in part, or reject, with a reason."""
    request_ = service.get_request(db, actor=actor, request_id=request_id)
    try:
        data = form.data("reject", "请选择答复：同意、部分同意或不同意。")
        with db.begin_nested():  # see request_create
            service.decide(db, actor=actor, request_id=request_.id, data=data)
    except FIXABLE as exc:
        return _answered(request, db, actor, request_, exc, form=asdict(form))
    return see_other(f"/sharing/requests/{request_.id}?done=decided")


@router.post("/sharing/requests/{request_id}/dispute", response_class=HTMLResponse)
def request_dispute(
    request_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The requesting department disputes a rejection or a partial approval; the Bureau rules."""
    request_ = service.get_request(db, actor=actor, request_id=request_id)
    try:
        with db.begin_nested():  # see request_create
            service.dispute(db, actor=actor, request_id=request_.id, reason=reason)
    except FIXABLE as exc:
        return _answered(request, db, actor, request_, exc, dispute_form={"reason": reason})
    return see_other(f"/sharing/requests/{request_.id}?done=disputed")


@router.post("/sharing/requests/{request_id}/ruling", response_class=HTMLResponse)
def request_rule(request_id: int, request: Request, actor: CurrentActor, db: DB, form: Answer) -> Response:
    """The Bureau's final ruling: uphold the provider's answer, or approve (in part)."""
    request_ = service.get_request(db, actor=actor, request_id=request_id)
    try:
        data = form.data("uphold", "请选择裁定：维持原答复、同意或部分同意。")
        with db.begin_nested():  # see request_create
            service.rule(db, actor=actor, request_id=request_.id, data=data)
    except FIXABLE as exc:
        return _answered(request, db, actor, request_, exc, ruling_form=asdict(form))
    return see_other(f"/sharing/requests/{request_.id}?done=ruled")


# --- grants --------------------------------------------------------------------------------------

GRANT_SIDES = {"held": "本单位持有", "given": "本单位提供", "all": "全市授权"}


@router.get("/sharing/grants", response_class=HTMLResponse)
def grants_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    side: Annotated[str, Query(max_length=8)] = "held",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """共享授权: what the department holds, what it has given, and for the Bureau every grant."""
    sides = {k: v for k, v in GRANT_SIDES.items() if k != "all" or allowed(actor, Action.sharing_supervise)}
    side = side if side in sides else "held"
    params = PageParams(page=page)
    rows, total = service.list_grants(
        db, actor=actor, side=side, limit=params.page_size, offset=params.offset
    )
    return _page(
        request,
        "sharing/grants.html",
        actor,
        db,
        {"rows": rows, "side": side, "sides": sides, **page_context(params, total, side=side)},
    )


@router.get("/sharing/purposes", response_class=HTMLResponse)
def purpose_review(
    request: Request,
    actor: CurrentActor,
    db: DB,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    org: Annotated[int | None, Query()] = None,
) -> Response:
    """用途核查 (the Bureau): per consuming department, resource and purpose, the purposes declared in
    grants against the uses made, refusals for purposes no grant covers first."""
    rows = service.purpose_review(db, actor=actor, org_id=org, days=days)
    for row in rows:
        row["last"] = datetime.fromisoformat(row["last_at"]) if row["last_at"] else None
    rows.sort(key=lambda r: (r["declared"], -r["purpose_mismatches"] - r["without_grant"], r["org_id"]))
    consumers = sorted({r["org_id"] for r in service.purpose_review(db, actor=actor, days=days)})
    return _page(
        request,
        "sharing/purposes.html",
        actor,
        db,
        {"rows": rows, "days": days, "org": org, "consumers": consumers},
    )


def _grant_page(
    request: Request,
    db: Session,
    actor: Actor,
    grant: Grant,
    *,
    notice: str | None = None,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
    export_form: dict[str, Any] | None = None,
) -> Response:
    resource = db.get(Resource, grant.resource_id)
    assert resource is not None
    request_ = db.get(ShareRequest, grant.request_id)
    usable = (
        actor.org_id == grant.org_id
        and grant.status == "active"
        and resource.provision_method == "table"
        and allowed(actor, Action.data_consume)
    )
    return _page(
        request,
        "sharing/grant.html",
        actor,
        db,
        {
            "grant": grant,
            "resource": resource,
            "req": request_,
            "can_manage": allowed(actor, Action.grant_manage, resource),
            "change_labels": CHANGE_LABELS,
            "notice": notice,
            "error": error,
            "errors": errors or {},
            "typed": typed or {},
            "can_query": usable,
            "can_export": usable and allowed(actor, Action.sharing_request),
            "filter_items": filter_items(db, grant) if usable else [],
            "export_form": export_form or {"format": "csv", "reason": "", "filters": {}},
        },
        status_code=status,
    )


DATE_TYPES = ("D", "T")


def filter_items(db: Session, grant: Grant) -> list[dict[str, Any]]:
    """The grant's items as the query and export forms offer them for filtering: `is_date` ones get
    from/to inputs (`item__gte`, `item__lte`), the others one input for equality."""
    resource = db.get(Resource, grant.resource_id)
    assert resource is not None
    return [
        {**item, "is_date": item["data_type"] in DATE_TYPES}
        for item in published_items(db, resource)
        if item["name"] in grant.items
    ]


def typed_filters(pairs: list[tuple[str, str]], items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The filter inputs a person filled in (`item`, `item__gte`, `item__lte` of the offered items),
    as query pairs for `rows.read_rows`; blank inputs and anything else are not filters."""
    names = {i["name"] for i in items}
    typed = []
    for key, value in pairs:
        item, _, op = key.partition("__")
        if item in names and op in ("", "gte", "lte") and value.strip():
            typed.append((key, value.strip()))
    return typed


@router.get("/sharing/grants/{grant_id}", response_class=HTMLResponse)
def grant_detail(grant_id: int, request: Request, actor: CurrentActor, db: DB, done: str = "") -> Response:
    grant = service.get_grant(db, actor=actor, grant_id=grant_id)
    return _grant_page(request, db, actor, grant, notice=NOTICES.get(done))


@router.post("/sharing/grants/{grant_id}/{change}", response_class=HTMLResponse)
def grant_change(
    grant_id: int,
    change: str,
    request: Request,
    actor: CurrentActor,
    db: DB,
    reason: Annotated[str, Form(max_length=500)] = "",
    days: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Suspend, resume, revoke or renew: the provider's data administrator or the Bureau."""
    grant = service.get_grant(db, actor=actor, grant_id=grant_id)
    if change not in CHANGE_LABELS:
        raise Invalid("调整方式应为暂停、恢复、撤销或续期。", "Unknown change.")
    try:
        renew_days = _days(days, "days", "续期天数") if change == "renew" else None
        with db.begin_nested():  # see request_create
            service.change_grant(
                db, actor=actor, grant_id=grant.id, change=change, reason=reason, days=renew_days
            )
    except FIXABLE as exc:
        error, errors, status = _refusal(exc)
        db.refresh(grant)
        typed = {"change": change, "reason": reason, "days": days}
        return _grant_page(request, db, actor, grant, error=error, errors=errors, typed=typed, status=status)
    return see_other(f"/sharing/grants/{grant.id}?done={change}")
