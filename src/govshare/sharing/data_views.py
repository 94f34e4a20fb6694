"""Sharing pages for using data under a grant: 数据查询 (masked rows of a held grant, filtered and
paged), 数据异议 (doubt and error feedback cases, filed from a row and answered by the provider), and
数据导出 (bulk exports the Bureau approves, downloaded by the requester).

As in `sharing.views`, the pages only present and collect: which rows a department sees and how they
are masked is decided by `sharing.rows`, feedback by `sharing.feedback`, exports by
`sharing.exports` — the same calls the JSON API makes, so every read and every change is authorised
and audited there. A refusal a person can fix (422, 409) comes back on the form with what was typed.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed, require
from govshare.catalog.models import Resource
from govshare.db import utcnow
from govshare.errors import Forbidden, Invalid
from govshare.exchange.access import published_items
from govshare.exchange.models import Batch
from govshare.pagination import PageParams
from govshare.sharing import exports, feedback, rows, service
from govshare.sharing.models import DataExport, Feedback, Grant
from govshare.sharing.views import (
    FIXABLE,
    _grant_page,
    _page,
    _refusal,
    due_of,
    filter_items,
    typed_filters,
)
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import page_context, see_other
from govshare.workdays import Calendar

router = APIRouter(include_in_schema=False)

PAGE_ROWS = 50
RECENT_BATCHES = 20
NOTICES = {
    "filed": "异议已提交，提供部门将在截止日期前核实答复；答复后本页显示结果。",
    "answered": "答复已提交，提出异议的部门可在“数据异议”中看到结果。",
    "closed": "案件已办结。",
    "reopened": "案件已重新打开，提供部门须在新的截止日期前再次核实。",
    "requested": "导出申请已提交，由市数据资源管理局审批；批准后可在本页下载。",
    "approved": "已批准导出，申请部门可在有效期内下载。",
    "rejected": "已驳回导出申请。",
}
FEEDBACK_SIDES = {"mine": "我提出的", "inbox": "待我核实", "all": "全市"}


def _held(db: Session, actor: Actor, grant_id: int) -> Grant:
    """A grant the actor's department holds, for using its data (the provider and the Bureau see
    the grant page but do not query under it)."""
    grant = service.get_grant(db, actor=actor, grant_id=grant_id)
    require(actor, Action.data_consume)
    if actor.org_id != grant.org_id:
        raise Forbidden("只有持有该授权的部门可以使用其数据。", "Only the holder uses a grant.")
    return grant


# --- 数据查询 ------------------------------------------------------------------------------------


@router.get("/sharing/grants/{grant_id}/data", response_class=HTMLResponse)
def grant_data(
    grant_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """数据查询: a page of the grant's rows, masked, filtered by the form, with a link to the next."""
    grant = _held(db, actor, grant_id)
    items = filter_items(db, grant)
    query = typed_filters(list(request.query_params.multi_items()), items)
    delivery: rows.Delivery | None = None
    error: str | None = None
    errors: dict[str, str] = {}
    status = 200
    try:
        with db.begin_nested():  # a refused filter leaves nothing behind
            delivery = rows.read_rows(
                db,
                actor=actor,
                resource_id=grant.resource_id,
                purpose=grant.purpose,
                query=query,
                limit=PAGE_ROWS,
                cursor=cursor or None,
            )
    except Invalid as exc:
        error, errors, status = _refusal(exc)
    titles = {i["name"]: i["title"] for i in items}
    columns = delivery.columns if delivery is not None else []
    next_url = None
    if delivery is not None and delivery.next_cursor:
        next_url = f"/sharing/grants/{grant.id}/data?" + urlencode([*query, ("cursor", delivery.next_cursor)])
    csv_url = f"/api/v1/resources/{grant.resource_id}/rows?" + urlencode(
        [("purpose", grant.purpose), *query, ("limit", str(rows.MAX_LIMIT)), ("format", "csv")]
    )
    return _page(
        request,
        "sharing/data.html",
        actor,
        db,
        {
            "grant": grant,
            "resource": db.get(Resource, grant.resource_id),
            "filter_items": [i for i in items if delivery is None or i["name"] in columns],
            "typed": dict(query),
            "columns": [(c, titles.get(c, c), delivery.masking[c]) for c in columns] if delivery else [],
            "rows": delivery.rows if delivery is not None else [],
            "paged": cursor is not None,
            "next_url": next_url,
            "csv_url": csv_url,
            "can_report": allowed(actor, Action.sharing_request),
            "error": error,
            "errors": errors,
        },
        status_code=status,
    )


# --- 数据异议 ------------------------------------------------------------------------------------


def _feedback_sides(actor: Actor) -> dict[str, str]:
    sides = {"mine": FEEDBACK_SIDES["mine"]}
    if allowed(actor, Action.data_provide):
        sides["inbox"] = FEEDBACK_SIDES["inbox"]
    if allowed(actor, Action.sharing_supervise):
        sides["all"] = FEEDBACK_SIDES["all"]
    return sides


@router.get("/sharing/feedback", response_class=HTMLResponse)
def feedback_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    side: Annotated[str, Query(max_length=8)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """数据异议: cases the department filed, cases on its data to verify, and for the Bureau all."""
    require(actor, Action.sharing_view)
    sides = _feedback_sides(actor)
    if side not in sides:  # a data administrator starts with what it must verify
        side = "inbox" if "inbox" in sides and not allowed(actor, Action.sharing_request) else "mine"
    status = status if status in feedback.STATUS else ""
    params = PageParams(page=page)
    cases, total = feedback.list_feedback(
        db, actor=actor, side=side, status=status or None, limit=params.page_size, offset=params.offset
    )
    return _page(
        request,
        "sharing/feedback_list.html",
        actor,
        db,
        {
            "cases": cases,
            "side": side,
            "sides": sides,
            "status": status,
            "feedback_status": feedback.STATUS,
            "kinds": feedback.KINDS,
            **page_context(params, total, side=side, status=status),
        },
    )


def _feedback_form(
    request: Request,
    db: Session,
    actor: Actor,
    grant: Grant,
    form: dict[str, Any],
    *,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    existing: int | None = None,
) -> Response:
    return _page(
        request,
        "sharing/feedback_form.html",
        actor,
        db,
        {
            "grant": grant,
            "resource": db.get(Resource, grant.resource_id),
            "items": filter_items(db, grant),
            "kinds": feedback.KINDS,
            "form": form,
            "existing": existing,
            "error": error,
            "errors": errors or {},
        },
        status_code=status,
    )


@router.get("/sharing/feedback/new", response_class=HTMLResponse)
def feedback_new(
    request: Request,
    actor: CurrentActor,
    db: DB,
    grant: Annotated[int, Query(ge=1)],
    row_id: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The report form for one row of a held grant (reached from the row's 报告异议 link)."""
    require(actor, Action.sharing_request)
    held = _held(db, actor, grant)
    form = {"row_id": row_id, "kind": "", "items": [], "description": ""}
    return _feedback_form(request, db, actor, held, form)


@router.post("/sharing/feedback/new", response_class=HTMLResponse)
def feedback_create(
    request: Request,
    actor: CurrentActor,
    db: DB,
    grant_id: Annotated[int, Form(ge=1)],
    row_id: Annotated[str, Form(max_length=64)] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    items: Annotated[list[str] | None, Form(max_length=500)] = None,
    description: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    require(actor, Action.sharing_request)
    grant = _held(db, actor, grant_id)
    form = {"row_id": row_id, "kind": kind, "items": items or [], "description": description}
    try:
        if not row_id.strip():
            raise Invalid(
                "请给出数据行编号（_row_id）：在数据查询页面对该行点击“报告异议”。",
                "row_id is required.",
                details={"field": "row_id"},
            )
        with db.begin_nested():  # see sharing.views.request_create
            case = feedback.file_feedback(
                db,
                actor=actor,
                resource_id=grant.resource_id,
                purpose=grant.purpose,
                kind=kind,
                description=description,
                items=items or [],
                row_id=row_id,
            )
    except FIXABLE as exc:
        error, errors, status = _refusal(exc)
        existing = exc.details.get("feedback_id") if isinstance(exc.details, dict) else None
        return _feedback_form(
            request, db, actor, grant, form, error=error, errors=errors, status=status, existing=existing
        )
    return see_other(f"/sharing/feedback/{case.id}?done=filed")


def _feedback_page(
    request: Request,
    db: Session,
    actor: Actor,
    case: Feedback,
    *,
    notice: str | None = None,
    answer_form: dict[str, Any] | None = None,
    close_form: dict[str, Any] | None = None,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    resource = db.get(Resource, case.resource_id)
    assert resource is not None
    provider = actor.org_id == case.provider_org_id
    can_answer = case.status == "open" and provider and allowed(actor, Action.data_provide, resource)
    batches = []
    if can_answer:
        batches = list(
            db.scalars(
                select(Batch)
                .where(Batch.resource_id == resource.id, Batch.received_at >= case.filed_at)
                .order_by(Batch.received_at.desc())
                .limit(RECENT_BATCHES)
            )
        )
    titles = {i["name"]: i["title"] for i in published_items(db, resource)}
    return _page(
        request,
        "sharing/feedback.html",
        actor,
        db,
        {
            "case": case,
            "resource": resource,
            "row_id": feedback.feedback_dict(case)["row_id"] if actor.org_id == case.org_id else None,
            "key_values": [(titles.get(k, k), v) for k, v in feedback.provider_row(db, case).items()]
            if provider
            else None,
            "item_titles": [f"{titles.get(n, n)}（{n}）" for n in case.items],
            "due": due_of(case, calendar=Calendar.load(db)),
            "kinds": feedback.KINDS,
            "answers": feedback.ANSWERS,
            "feedback_status": feedback.STATUS,
            "can_answer": can_answer,
            "batches": batches,
            "can_close": case.status == "answered"
            and actor.org_id == case.org_id
            and allowed(actor, Action.sharing_request),
            "answer_form": answer_form or {"answer": "", "batch_id": "", "reason": ""},
            "close_form": close_form or {"comment": ""},
            "notice": notice,
            "error": error,
            "errors": errors or {},
        },
        status_code=status,
    )


@router.get("/sharing/feedback/{feedback_id}", response_class=HTMLResponse)
def feedback_detail(
    feedback_id: int, request: Request, actor: CurrentActor, db: DB, done: str = ""
) -> Response:
    case = feedback.get_feedback(db, actor=actor, feedback_id=feedback_id)
    return _feedback_page(request, db, actor, case, notice=NOTICES.get(done))


@router.post("/sharing/feedback/{feedback_id}/answer", response_class=HTMLResponse)
def feedback_answer(
    feedback_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    answer: Annotated[str, Form(max_length=16)] = "",
    batch_id: Annotated[str, Form(max_length=36)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The provider's data administrator answers: corrected by a batch, or confirmed correct."""
    case = feedback.get_feedback(db, actor=actor, feedback_id=feedback_id)
    try:
        if answer not in feedback.ANSWERS:
            raise Invalid(
                "请选择答复：已更正或经核实无误。", "No answer chosen.", details={"field": "answer"}
            )
        with db.begin_nested():  # see sharing.views.request_create
            feedback.answer_feedback(
                db,
                actor=actor,
                feedback_id=case.id,
                answer=answer,
                reason=reason,
                batch_id=(batch_id.strip() or None) if answer == "corrected" else None,
            )
    except FIXABLE as exc:
        error, errors, status = _refusal(exc)
        db.refresh(case)
        typed = {"answer": answer, "batch_id": batch_id, "reason": reason}
        return _feedback_page(
            request, db, actor, case, answer_form=typed, error=error, errors=errors, status=status
        )
    return see_other(f"/sharing/feedback/{case.id}?done=answered")


@router.post("/sharing/feedback/{feedback_id}/close", response_class=HTMLResponse)
def feedback_close(
    feedback_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    accept: Annotated[str, Form(max_length=8)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The consumer accepts the answer (办结) or reopens the case with a comment."""
    case = feedback.get_feedback(db, actor=actor, feedback_id=feedback_id)
    try:
        if accept not in ("yes", "no"):  # (refused on the form, which keeps the comment typed)
            raise Invalid("请选择办结或重新打开。", "accept must be yes or no.", details={"field": "accept"})
        with db.begin_nested():  # see sharing.views.request_create
            feedback.close_feedback(
                db, actor=actor, feedback_id=case.id, accept=accept == "yes", comment=comment
            )
    except FIXABLE as exc:
        error, errors, status = _refusal(exc)
        db.refresh(case)
        return _feedback_page(
            request,
            db,
            actor,
            case,
            close_form={"comment": comment},
            error=error,
            errors=errors,
            status=status,
        )
    return see_other(f"/sharing/feedback/{case.id}?done={'closed' if accept == 'yes' else 'reopened'}")


async def _posted(request: Request) -> list[tuple[str, str]]:
    """Every field of the posted form (the filter inputs are named after the grant's items)."""
    form = await request.form()  # parsed once and cached by Starlette
    return [(key, value) for key, value in form.multi_items() if isinstance(value, str)]


Posted = Annotated[list[tuple[str, str]], Depends(_posted)]


# --- 数据导出 ------------------------------------------------------------------------------------


@router.get("/sharing/exports", response_class=HTMLResponse)
def exports_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    side: Annotated[str, Query(max_length=8)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """数据导出: the department's export requests, or for the Bureau every one, the newest first."""
    require(actor, Action.sharing_view)
    can_see_all = allowed(actor, Action.sharing_supervise)
    side = "all" if can_see_all and side != "mine" else "mine"
    params = PageParams(page=page)
    found, total = exports.list_exports(
        db, actor=actor, side=side, limit=params.page_size, offset=params.offset
    )
    return _page(
        request,
        "sharing/exports.html",
        actor,
        db,
        {
            "exports": found,
            "side": side,
            "can_see_all": can_see_all,
            "export_status": exports.STATUS,
            "max_downloads": exports.MAX_DOWNLOADS,
            **page_context(params, total, side=side),
        },
    )


@router.post("/sharing/exports", response_class=HTMLResponse)
def export_create(
    request: Request,
    actor: CurrentActor,
    db: DB,
    grant_id: Annotated[int, Form(ge=1)],
    posted: Posted,
    format: Annotated[str, Form(max_length=8)] = "csv",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """申请导出 from the grant page: the grant's purpose, the chosen format, reason and filters."""
    require(actor, Action.sharing_request)
    grant = _held(db, actor, grant_id)
    typed = typed_filters(posted, filter_items(db, grant))
    filters: dict[str, list[str]] = {}
    for key, value in typed:
        filters.setdefault(key, []).append(value)
    try:
        with db.begin_nested():  # see sharing.views.request_create
            export = exports.request_export(
                db,
                actor=actor,
                resource_id=grant.resource_id,
                purpose=grant.purpose,
                reason=reason,
                format=format,
                filters=filters,
            )
    except FIXABLE as exc:
        error, errors, status = _refusal(exc)
        db.refresh(grant)
        form = {"format": format, "reason": reason, "filters": dict(typed)}
        return _grant_page(
            request, db, actor, grant, error=error, errors=errors, status=status, export_form=form
        )
    return see_other(f"/sharing/exports/{export.id}?done=requested")


def _export_page(
    request: Request,
    db: Session,
    actor: Actor,
    export: DataExport,
    *,
    notice: str | None = None,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    expired = export.expires_at is not None and export.status == "approved" and _past(export)
    return _page(
        request,
        "sharing/export.html",
        actor,
        db,
        {
            "export": export,
            "resource": db.get(Resource, export.resource_id),
            "export_status": exports.STATUS,
            "max_downloads": exports.MAX_DOWNLOADS,
            "can_decide": export.status == "pending" and allowed(actor, Action.export_approve),
            "can_download": export.status == "approved"
            and not expired
            and export.downloads < exports.MAX_DOWNLOADS
            and actor.org_id == export.org_id,
            "form": form or {"decision": "", "reason": ""},
            "notice": notice,
            "error": error,
            "errors": errors or {},
        },
        status_code=status,
    )


def _past(export: DataExport) -> bool:
    assert export.expires_at is not None
    return utcnow() >= export.expires_at


@router.get("/sharing/exports/{export_id}", response_class=HTMLResponse)
def export_detail(export_id: int, request: Request, actor: CurrentActor, db: DB, done: str = "") -> Response:
    export = exports.get_export(db, actor=actor, export_id=export_id)
    return _export_page(request, db, actor, export, notice=NOTICES.get(done))


@router.post("/sharing/exports/{export_id}/decision", response_class=HTMLResponse)
def export_decide(
    export_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    decision: Annotated[str, Form(max_length=8)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The Bureau's administrator approves or rejects, with an opinion."""
    export = exports.get_export(db, actor=actor, export_id=export_id)
    try:
        if decision not in ("approve", "reject"):
            raise Invalid("请选择批准或驳回。", "No decision chosen.", details={"field": "decision"})
        with db.begin_nested():  # see sharing.views.request_create
            exports.decide_export(
                db, actor=actor, export_id=export.id, approve=decision == "approve", reason=reason
            )
    except FIXABLE as exc:
        error, errors, status = _refusal(exc)
        db.refresh(export)
        form = {"decision": decision, "reason": reason}
        return _export_page(request, db, actor, export, form=form, error=error, errors=errors, status=status)
    return see_other(
        f"/sharing/exports/{export.id}?done={'approved' if decision == 'approve' else 'rejected'}"
    )


@router.get("/sharing/exports/{export_id}/file")
def export_file(export_id: int, actor: CurrentActor, db: DB) -> Response:
    """The approved export's file, generated now under the grant (each download counts)."""
    file = exports.download(db, actor=actor, export_id=export_id)
    return Response(
        file.content,
        media_type=file.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{file.filename}"',
            "X-Content-SM3": file.export.file_sm3 or "",
        },
    )
