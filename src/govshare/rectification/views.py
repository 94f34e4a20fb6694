"""Rectification pages: violations (list with filters, detail with evidence links, entry form),
notices (list, issue form, detail with timeline, the department's report form, the Bureau's
verify/reject forms), report attachments, and escalations with the printable, downloadable document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed, require
from govshare.errors import Invalid
from govshare.pagination import PageParams
from govshare.rectification import detection, escalation, service
from govshare.rectification.models import RectificationNotice, Violation
from govshare.settings import get_settings
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import FIXABLE, is_stale, page_context, parse_int, refusal, see_other
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)

DONE = {
    "entered": "违规情形已登记。",
    "dismissed": "违规记录已撤销。",
    "issued": "整改通知已下发，部门的数据资源管理员会在工作台看到待办。",
    "reported": "整改报告已报送，等待市数据资源管理局核验。",
    "verified": "整改已核验通过，通知办结，相关违规记录已消除。",
    "rejected": "整改报告已退回，部门须重新整改并报送。",
}


def _names(db: Session) -> Any:
    from govshare.orgs.models import Organisation
    from govshare.users.models import User

    class Names:
        def user(self, user_id: int | None) -> str:
            user = db.get(User, user_id) if user_id is not None else None
            return f"{user.display_name}（{user.username}）" if user else "—"

        def org(self, org_id: int) -> str:
            org = db.get(Organisation, org_id)
            return org.name if org else str(org_id)

    return Names()


def _labels() -> dict[str, Any]:
    return {
        "kinds": service.KINDS,
        "rules": service.RULES,
        "violation_statuses": service.VIOLATION_STATUS,
        "notice_statuses": service.NOTICE_STATUS,
    }


@router.get("/rectification", response_class=HTMLResponse)
def violation_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    org_id: Annotated[str, Query(max_length=12)] = "",
    kind: Annotated[str, Query(max_length=16)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    done: Annotated[str, Query(max_length=16)] = "",
    found: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    require(actor, Action.rectification_view)
    kind = kind if kind in service.KINDS else ""
    status = status if status in service.VIOLATION_STATUS else ""
    org = parse_int(org_id)
    params = PageParams(page=page)
    rows, total = service.list_violations(
        db,
        actor=actor,
        params=params,
        where=service.ViolationFilter(org_id=org, kind=kind or None, status=status or None),
    )
    supervise = allowed(actor, Action.rectification_supervise)
    return render(
        request,
        "rectification/violations.html",
        {
            "violations": rows,
            "org_id": org,
            "kind": kind,
            "status": status,
            "departments": service.departments(db),
            "supervise": supervise,
            "names": _names(db),
            "notice": DONE.get(done) or (f"检测完成：{found}。" if found else None),
            **_labels(),
            **page_context(params, total, org_id=org, kind=kind, status=status),
        },
    )


@router.post("/rectification/detect", response_class=HTMLResponse)
def violation_detect(actor: CurrentActor, db: DB) -> Response:
    found = detection.detect(db, actor=actor)
    return see_other(f"/rectification?found={quote(found.text())}")


def _entry_page(
    request: Request,
    db: Session,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "rectification/violation_new.html",
        {"departments": service.departments(db), "form": form or {}, "error": error},
        status_code=status,
    )


@router.get("/rectification/violations/new", response_class=HTMLResponse)
def violation_new(request: Request, actor: CurrentActor, db: DB) -> Response:
    require(actor, Action.rectification_supervise)
    return _entry_page(request, db)


@router.post("/rectification/violations/new", response_class=HTMLResponse)
def violation_enter(
    request: Request,
    actor: CurrentActor,
    db: DB,
    org_id: Annotated[str, Form(max_length=12)] = "",
    summary: Annotated[str, Form(max_length=2000)] = "",
    evidence: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    require(actor, Action.rectification_supervise)
    form = {"org_id": org_id, "summary": summary, "evidence": evidence}
    try:
        org = parse_int(org_id)
        if org is None:
            raise Invalid("请选择违规的部门。", "org_id is required.", details={"field": "org_id"})
        with db.begin_nested():
            created = service.enter_violation(db, actor=actor, org_id=org, summary=summary, evidence=evidence)
    except FIXABLE as exc:
        error, code = refusal(exc, {})
        return _entry_page(request, db, form, error, code)
    return see_other(f"/rectification/violations/{created.id}?done=entered")


def _violation_page(
    request: Request,
    db: Session,
    actor: Actor,
    item: Violation,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "rectification/violation.html",
        {
            "item": item,
            "notice_row": db.get(RectificationNotice, item.notice_id) if item.notice_id else None,
            "supervise": allowed(actor, Action.rectification_supervise, item),
            "names": _names(db),
            "notice": notice,
            "error": error,
            **_labels(),
        },
        status_code=status,
    )


@router.get("/rectification/violations/{violation_id}", response_class=HTMLResponse)
def violation_detail(
    violation_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    done: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    item = service.get_violation(db, actor=actor, violation_id=violation_id)
    return _violation_page(request, db, actor, item, notice=DONE.get(done))


@router.post("/rectification/violations/{violation_id}/dismiss", response_class=HTMLResponse)
def violation_dismiss(
    violation_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    reason: Annotated[str, Form(max_length=2000)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    item = service.get_violation(db, actor=actor, violation_id=violation_id)
    try:
        with db.begin_nested():
            service.dismiss_violation(
                db, actor=actor, violation_id=violation_id, reason=reason, expected_version=parse_int(version)
            )
    except FIXABLE as exc:
        error, code = refusal(exc, {})
        db.refresh(item)
        return _violation_page(request, db, actor, item, error=error, status=code)
    return see_other(f"/rectification/violations/{violation_id}?done=dismissed")


# --- notices -------------------------------------------------------------------------------------


@router.get("/rectification/notices", response_class=HTMLResponse)
def notice_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    status: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    require(actor, Action.rectification_view)
    status = status if status in service.NOTICE_STATUS else ""
    params = PageParams(page=page)
    rows, total = service.list_notices(db, actor=actor, params=params, status=status or None)
    return render(
        request,
        "rectification/notices.html",
        {
            "notices": rows,
            "status": status,
            "supervise": allowed(actor, Action.rectification_supervise),
            "names": _names(db),
            **_labels(),
            **page_context(params, total, status=status),
        },
    )


def _issue_page(
    request: Request,
    db: Session,
    actor: Actor,
    org_id: int | None,
    form: dict[str, Any],
    error: str | None = None,
    status: int = 200,
) -> Response:
    candidates: list[Violation] = []
    if org_id is not None:
        candidates = list(
            db.scalars(
                select(Violation)
                .where(Violation.org_id == org_id, Violation.status == "open")
                .order_by(Violation.id)
                .limit(200)
            )
        )
    return render(
        request,
        "rectification/notice_new.html",
        {
            "departments": service.departments(db),
            "org_id": org_id,
            "candidates": candidates,
            "form": form,
            "default_days": get_settings().rectification_deadline_working_days,
            "error": error,
            **_labels(),
        },
        status_code=status,
    )


@router.get("/rectification/notices/new", response_class=HTMLResponse)
def notice_new(
    request: Request,
    actor: CurrentActor,
    db: DB,
    org_id: Annotated[str, Query(max_length=12)] = "",
    v: Annotated[list[int] | None, Query()] = None,
) -> Response:
    require(actor, Action.rectification_supervise)
    return _issue_page(request, db, actor, parse_int(org_id), {"violation_ids": set(v or [])})


@router.post("/rectification/notices/new", response_class=HTMLResponse)
def notice_issue(
    request: Request,
    actor: CurrentActor,
    db: DB,
    org_id: Annotated[str, Form(max_length=12)] = "",
    violation_ids: Annotated[list[int] | None, Form()] = None,
    requirement: Annotated[str, Form(max_length=10_000)] = "",
    working_days: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    require(actor, Action.rectification_supervise)
    ids = violation_ids or []
    form = {"violation_ids": set(ids), "requirement": requirement, "working_days": working_days}
    try:
        days = parse_int(working_days) if working_days.strip() else None
        if working_days.strip() and days is None:
            raise Invalid(
                "整改期限请填写 1 到 60 之间的整数。", "working_days.", details={"field": "working_days"}
            )
        with db.begin_nested():
            notice = service.issue_notice(
                db, actor=actor, violation_ids=ids, requirement=requirement, working_days=days
            )
    except FIXABLE as exc:
        error, code = refusal(exc, {})
        return _issue_page(request, db, actor, parse_int(org_id), form, error, code)
    return see_other(f"/rectification/notices/{notice.id}?done=issued")


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def timeline(db: Session, notice: RectificationNotice) -> list[tuple[datetime, str]]:
    names = _names(db)
    steps = [
        (
            _as_utc(notice.issued_at),
            f"{names.user(notice.issued_by)} 下发整改通知，期限 {notice.due_date:%Y-%m-%d}",
        )
    ]
    for r in service.reports_of(db, notice):
        steps.append((_as_utc(r.submitted_at), f"{names.user(r.submitted_by)} 报送整改报告 #{r.id}"))
        if r.decided_at is not None:
            verdict = "核验通过" if r.verdict == "verified" else "退回"
            steps.append(
                (
                    _as_utc(r.decided_at),
                    f"{names.user(r.decided_by)} {verdict}整改报告 #{r.id}：{r.decision_reason}",
                )
            )
    if notice.escalated_at is not None:
        steps.append((_as_utc(notice.escalated_at), "逾期未整改，已生成上报市政府的报告"))
    return sorted(steps, key=lambda s: s[0])


def _notice_page(
    request: Request,
    db: Session,
    actor: Actor,
    notice: RectificationNotice,
    *,
    notice_text: str | None = None,
    error: str | None = None,
    stale: bool = False,
    status: int = 200,
) -> Response:
    return render(
        request,
        "rectification/notice.html",
        {
            "item": notice,
            "violations": service.violations_of(db, notice),
            "reports": service.reports_of(db, notice),
            "escalation": service.escalation_of(db, notice),
            "timeline": timeline(db, notice),
            "actions": service.actions_for(actor, notice),
            "max_kb": get_settings().rectification_report_max_bytes // 1024,
            "accept": ",".join(service.ATTACHMENT_TYPES),
            "names": _names(db),
            "notice": notice_text,
            "error": error,
            "stale": stale,
            "reload": f"/rectification/notices/{notice.id}",
            **_labels(),
        },
        status_code=status,
    )


@router.get("/rectification/notices/{notice_id}", response_class=HTMLResponse)
def notice_detail(
    notice_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    done: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    notice = service.get_notice(db, actor=actor, notice_id=notice_id)
    return _notice_page(request, db, actor, notice, notice_text=DONE.get(done))


def _act(request: Request, db: Session, actor: Actor, notice_id: int, done: str, call: Any) -> Response:
    notice = service.get_notice(db, actor=actor, notice_id=notice_id)
    try:
        with db.begin_nested():
            call()
    except FIXABLE as exc:
        error, code = refusal(exc, {})
        db.refresh(notice)
        return _notice_page(request, db, actor, notice, error=error, stale=is_stale(exc), status=code)
    return see_other(f"/rectification/notices/{notice_id}?done={done}")


@router.post("/rectification/notices/{notice_id}/report", response_class=HTMLResponse)
async def notice_report(
    notice_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    text: Annotated[str, Form(max_length=10_000)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
    attachment: Annotated[UploadFile | None, File()] = None,
) -> Response:
    upload = None
    if attachment is not None and attachment.filename:
        limit = get_settings().rectification_report_max_bytes
        content = await attachment.read(limit + 1)
        upload = service.Attachment(name=attachment.filename, content=content)
    return _act(
        request,
        db,
        actor,
        notice_id,
        "reported",
        lambda: service.submit_report(
            db,
            actor=actor,
            notice_id=notice_id,
            text=text,
            attachment=upload,
            expected_version=parse_int(version),
        ),
    )


@router.post("/rectification/notices/{notice_id}/verify", response_class=HTMLResponse)
def notice_verify(
    notice_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    opinion: Annotated[str, Form(max_length=2000)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    return _act(
        request,
        db,
        actor,
        notice_id,
        "verified",
        lambda: service.verify(
            db, actor=actor, notice_id=notice_id, opinion=opinion, expected_version=parse_int(version)
        ),
    )


@router.post("/rectification/notices/{notice_id}/reject", response_class=HTMLResponse)
def notice_reject(
    notice_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    reason: Annotated[str, Form(max_length=2000)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    return _act(
        request,
        db,
        actor,
        notice_id,
        "rejected",
        lambda: service.reject(
            db, actor=actor, notice_id=notice_id, reason=reason, expected_version=parse_int(version)
        ),
    )


@router.get("/rectification/reports/{report_id}/attachment")
def report_attachment(report_id: int, actor: CurrentActor, db: DB) -> Response:
    report = service.attachment_of(db, actor=actor, report_id=report_id)
    assert report.file_content is not None
    return Response(
        report.file_content,
        media_type=report.file_type or "application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(report.file_name or 'attachment')}",
            "X-Content-SM3": report.file_sm3 or "",
        },
    )


# --- escalations ---------------------------------------------------------------------------------


@router.get("/rectification/escalations", response_class=HTMLResponse)
def escalation_list(
    request: Request, actor: CurrentActor, db: DB, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> Response:
    params = PageParams(page=page)
    rows, total = escalation.list_escalations(db, actor=actor, params=params)
    return render(
        request,
        "rectification/escalations.html",
        {"escalations": rows, "names": _names(db), **page_context(params, total)},
    )


@router.get("/rectification/escalations/{escalation_id}", response_class=HTMLResponse)
def escalation_page(escalation_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    found = escalation.get_escalation(db, actor=actor, escalation_id=escalation_id)
    notice = db.get(RectificationNotice, found.notice_id)
    return render(
        request,
        "rectification/escalation.html",
        {"item": found, "notice_row": notice, "intact": escalation.intact(found)},
    )


@router.get("/rectification/escalations/{escalation_id}/download")
def escalation_download(escalation_id: int, actor: CurrentActor, db: DB) -> Response:
    """The stored document, as it was generated, in a standalone HTML page with print styles."""
    found = escalation.get_escalation(db, actor=actor, escalation_id=escalation_id)
    page = (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{found.number}</title><style>{escalation.PRINT_CSS}</style></head><body>\n"
        f"{found.content}"
        f'<p class="digest">文档摘要（SM3）：{found.content_sm3}</p>\n</body></html>\n'
    )
    return Response(
        page,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.number)}.html",
            "X-Content-SM3": found.content_sm3,
        },
    )
