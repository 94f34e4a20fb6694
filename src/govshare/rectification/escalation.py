"""Escalation (上报市政府, M24): a notice past its deadline without a report is escalated once, and a
numbered report to the city government is generated.

The document is rendered from `rectification/escalation_document.html` at escalation time and stored
with the SM3 digest of its UTF-8 bytes; the page and the download show the stored content, never a
new rendering, so what was sent is what is shown.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, Role, get_visible, require, visible
from govshare.crypto import sm3_hex
from govshare.db import lock_row, utcnow
from govshare.orgs import service as orgs
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams, paginate
from govshare.rectification import service
from govshare.rectification.models import Escalation, RectificationNotice
from govshare.tasks import service as tasks
from govshare.users.models import User
from govshare.workdays import BEIJING, today

_ENV = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(default=True),
    keep_trailing_newline=True,
)

# The downloaded document's styles (the page in the app uses app.css, whose print rules match).
PRINT_CSS = (
    "body{font-family:'Noto Serif CJK SC','Songti SC',serif;max-width:42em;margin:2em auto;line-height:1.8}"
    ".doc-number{text-align:right}.doc-title{text-align:center;font-size:1.5em}"
    ".doc-sign{text-align:right;margin-top:3em}.doc-requirement{white-space:pre-wrap}"
    ".small,.digest{font-size:.85em;color:#555;word-break:break-all}"
    "@media print{body{margin:0;max-width:none}@page{size:A4;margin:2.5cm 2cm}}"
)


def overdue(db: Session, *, on: date) -> list[RectificationNotice]:
    """Notices awaiting a (new) report whose deadline is before `on` and not yet escalated."""
    return list(
        db.scalars(
            select(RectificationNotice)
            .where(
                RectificationNotice.status.in_(("issued", "returned")),
                RectificationNotice.escalated_at.is_(None),
                RectificationNotice.due_date < on,
            )
            .order_by(RectificationNotice.id)
        )
    )


def _person(db: Session, user_id: int | None) -> str:
    user = db.get(User, user_id) if user_id is not None else None
    return user.display_name if user else "—"


def render_document(db: Session, notice: RectificationNotice, *, number: str, on: date) -> str:
    org = db.get(Organisation, notice.org_id)
    reports = service.reports_of(db, notice)
    return _ENV.get_template("rectification/escalation_document.html").render(
        number=number,
        department=org.name if org else str(notice.org_id),
        notice=notice,
        issued_by=_person(db, notice.issued_by),
        violations=service.violations_of(db, notice),
        kinds=service.KINDS,
        reports=[
            {
                "at": r.submitted_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
                if r.submitted_at.tzinfo
                else r.submitted_at.strftime("%Y-%m-%d %H:%M"),
                "by": _person(db, r.submitted_by),
                "verdict": {"verified": "核验通过", "rejected": "退回"}.get(r.verdict or "", "待核验"),
                "reason": r.decision_reason,
            }
            for r in reports
        ],
        on=on,
    )


def escalate_overdue(db: Session, *, actor: Actor | None = None, on: date | None = None) -> list[Escalation]:
    """Escalate every overdue notice (see `overdue`) as of `on` (default today, Beijing): status
    `escalated`, a frozen numbered document, an audit event and a task for the Bureau's admins.
    The demo passes a later `on` to show an escalation at once (docs/rectification.md)."""
    actor = actor or Actor.operator("scheduler")
    require(actor, Action.rectification_supervise)
    on = on or today()
    done = []
    for notice in overdue(db, on=on):
        lock_row(db, RectificationNotice, notice.id)
        if notice.status not in ("issued", "returned") or notice.escalated_at is not None:
            continue
        year = on.year
        seq = service.next_number(db, Escalation, year)
        number = f"上报〔{year}〕第{seq}号"
        content = render_document(db, notice, number=number, on=on)
        escalation = Escalation(
            year=year,
            seq=seq,
            number=number,
            notice_id=notice.id,
            org_id=notice.org_id,
            checked_on=on,
            generated_at=utcnow(),
            content=content,
            content_sm3=sm3_hex(content.encode("utf-8")),
        )
        db.add(escalation)
        notice.status, notice.escalated_at = "escalated", utcnow()
        service.guarded_flush(db, "整改通知")
        bureau = orgs.bureau(db)
        if bureau is not None:
            tasks.open_task(
                db,
                kind="rectification_escalated",
                title=f"{notice.number} 逾期未整改，已生成上报市政府的报告 {number}",
                link=f"/rectification/escalations/{escalation.id}",
                org_id=bureau.id,
                subject_type="rect_escalations",
                subject_id=escalation.id,
                assignee_role=Role.bureau_admin,
            )
        audit.record(
            db,
            EventType.notice_escalated,
            actor=actor,
            obj=notice,
            org_id=notice.org_id,
            details={
                "number": notice.number,
                "escalation_id": escalation.id,
                "escalation_number": number,
                "due_date": notice.due_date.isoformat(),
                "checked_on": on.isoformat(),
                "content_sm3": escalation.content_sm3,
            },
        )
        done.append(escalation)
    return done


def get_escalation(db: Session, *, actor: Actor, escalation_id: int) -> Escalation:
    return get_visible(db, Escalation, escalation_id, actor=actor, label="上报材料")


def list_escalations(db: Session, *, actor: Actor, params: PageParams) -> tuple[list[Escalation], int]:
    require(actor, Action.rectification_view)
    stmt = visible(actor, Action.rectification_view, select(Escalation), Escalation)
    return paginate(db, stmt.order_by(Escalation.id.desc()), params)


def intact(escalation: Escalation) -> bool:
    """Whether the stored document still matches the digest recorded when it was generated."""
    return sm3_hex(escalation.content.encode("utf-8")) == escalation.content_sm3


def document_dict(escalation: Escalation) -> dict[str, Any]:
    return {
        "id": escalation.id,
        "number": escalation.number,
        "notice_id": escalation.notice_id,
        "org_id": escalation.org_id,
        "checked_on": escalation.checked_on,
        "generated_at": escalation.generated_at,
        "content_sm3": escalation.content_sm3,
        "intact": intact(escalation),
    }
