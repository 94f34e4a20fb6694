"""The public's applications for conditionally open resources and the Bureau's decisions (M8).

Anyone may apply, without an account: the applicant gets an application number and a one-time
查询码, shown once and stored only as its SM3 (like business-system tokens). With both, the
applicant checks the status and, once approved, downloads the approved items (masked with the
open-data profile) until the approval's end date. The Bureau (`open.application_decide`) approves —
with an end date and possibly fewer items — or rejects with reasons. Every step is audited; a wrong
number or 查询码 is audited as a refusal.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, register_view_action, require
from govshare.crypto import constant_time_equal, sm3_hex
from govshare.db import Writes, later, utcnow
from govshare.errors import Conflict, Invalid, NotFound
from govshare.opendata import service
from govshare.opendata.models import ApplicationStatus, OpenApplication
from govshare.opendata.schemas import ApplicationIn
from govshare.pagination import PageParams, paginate
from govshare.workdays import today as beijing_today

MAX_DAYS = 366
register_view_action(OpenApplication, Action.open_application_view)


@dataclass(frozen=True)
class Submitted:
    application: OpenApplication
    code: str  # the 查询码, shown once


def _days(until: date, field: str) -> None:
    today = beijing_today()
    if until <= today or until > today + timedelta(days=MAX_DAYS):
        raise Invalid(
            f"使用期限应晚于今天，且不超过 {MAX_DAYS} 天（{today + timedelta(days=MAX_DAYS)} 之前）。",
            "Period out of range.",
            details={"field": field},
        )


def submit(db: Session, *, actor: Actor, resource_id: int, data: ApplicationIn) -> Submitted:
    """File an application for conditionally open resource `resource_id`.

    Raises NotFound for a resource that is not open, Invalid for an unconditionally open one (no
    application needed), for items it does not open, or for a period out of range."""
    shown = service.get(db, resource_id=resource_id)
    if shown.open_type != "conditional":
        raise Invalid(
            "该资源为无条件开放，无需申请，可在资源页面直接下载或通过开放接口获取。", "No application needed."
        )
    servable = {i["name"] for i in shown.served}
    wanted = list(dict.fromkeys(data.items))
    outside = [n for n in wanted if n not in servable]
    if outside:
        raise Invalid(
            f"这些信息项不在该资源可申请开放的范围内：{'、'.join(n[:40] for n in outside[:10])}。"
            "请重新勾选。",
            "Items outside the resource's openable items.",
            details={"field": "items"},
        )
    _days(data.wanted_until, "wanted_until")
    code = secrets.token_urlsafe(12)
    application = OpenApplication(
        resource_id=resource_id,
        applicant_type=data.applicant_type.value,
        applicant_name=data.applicant_name,
        org_name=data.org_name,
        credit_code=data.credit_code,
        phone=data.phone,
        email=data.email,
        purpose=data.purpose,
        items=wanted,
        wanted_until=data.wanted_until,
        code_hash=sm3_hex(code.encode()),
        submitted_ip=actor.ip,
        status=ApplicationStatus.pending.value,
        approved_items=[],
    )
    for _attempt in range(5):
        application.number = f"KF{beijing_today():%Y%m%d}{secrets.randbelow(10**6):06d}"
        try:
            with db.begin_nested():
                db.add(application)
                db.flush()
            break
        except IntegrityError:  # the same number drawn twice in a day: draw again
            continue
    else:
        raise Conflict("系统繁忙，未能生成申请编号，请重新提交。", "Could not draw an application number.")
    audit.record(
        db,
        EventType.open_application_submitted,
        actor=actor,
        obj=application,
        org_id=shown.resource.org_id,
        details={
            "number": application.number,
            "resource_id": resource_id,
            "applicant_type": application.applicant_type,
            "org_name": application.org_name,
            "credit_code": application.credit_code,
            "items": wanted,
            "wanted_until": str(data.wanted_until),
        },
    )
    return Submitted(application, code)


def lookup(db: Session, *, actor: Actor, number: str, code: str) -> OpenApplication:
    """The application `number`, when `code` is its 查询码; otherwise NotFound (the refusal is
    recorded: the audit of a refusal is kept although the request fails)."""
    number = number.strip().upper()[:24]
    application = (
        db.scalar(select(OpenApplication).where(OpenApplication.number == number)) if number else None
    )
    if application is None or not constant_time_equal(application.code_hash, sm3_hex(code.strip().encode())):
        found_id = application.id if application is not None else None

        def refused(w: Writes) -> None:  # also from a reads-first download: after its reads
            audit.record(
                w,
                EventType.open_application_refused,
                actor=actor,
                outcome="denied",
                object_type="open_applications",
                object_id=found_id,
                details={"number": number},
            )

        later(db, refused)
        raise NotFound(
            "申请编号或查询码不正确，请核对后重试（查询码在提交申请时显示一次）。",
            "Wrong application number or code.",
            keep_changes=True,
        )
    return application


def list_applications(
    db: Session, *, actor: Actor, status: ApplicationStatus | None, params: PageParams
) -> tuple[list[OpenApplication], int]:
    require(actor, Action.open_application_view)
    stmt = select(OpenApplication).order_by(OpenApplication.created_at.desc(), OpenApplication.id.desc())
    if status is not None:
        stmt = stmt.where(OpenApplication.status == status.value)
    return paginate(db, stmt, params)


def get_application(db: Session, *, actor: Actor, application_id: int) -> OpenApplication:
    require(actor, Action.open_application_view)
    application = db.get(OpenApplication, application_id)
    if application is None:
        raise NotFound("找不到该开放数据申请。", f"Open application #{application_id} not found.")
    return application


def decide(
    db: Session,
    *,
    actor: Actor,
    application_id: int,
    approve: bool,
    items: list[str] | None = None,
    valid_until: date | None = None,
    reason: str = "",
    version: int | None = None,
) -> OpenApplication:
    """Approve (with an end date and items, a subset of those asked for) or reject (with reasons)
    a pending application. Raises Conflict when it was decided already or changed meanwhile."""
    application = get_application(db, actor=actor, application_id=application_id)
    require(actor, Action.open_application_decide, application)
    if application.status != ApplicationStatus.pending.value or (
        version is not None and version != application.version
    ):
        raise Conflict(
            "该申请已被处理或已被他人修改，请刷新后查看。",
            "The application was decided or changed meanwhile.",
            details={"current_version": application.version},
        )
    reason = " ".join(reason.split())
    if len(reason) > 1000:
        raise Invalid("处理意见不能超过 1000 个字。", "reason too long.", details={"field": "reason"})
    if approve:
        chosen = list(dict.fromkeys(items if items is not None else application.items))
        if not chosen or any(n not in application.items for n in chosen):
            raise Invalid(
                "请至少批准一个信息项，且只能在申请的信息项中选择。",
                "Bad approved items.",
                details={"field": "items"},
            )
        if valid_until is None:
            raise Invalid(
                "请填写使用期限截止日期。", "valid_until is required.", details={"field": "valid_until"}
            )
        _days(valid_until, "valid_until")
        application.status = ApplicationStatus.approved.value
        application.approved_items = chosen
        application.valid_until = valid_until
        event = EventType.open_application_approved
    else:
        if len(reason) < 2:
            raise Invalid("驳回申请须写明理由。", "A rejection needs reasons.", details={"field": "reason"})
        application.status = ApplicationStatus.rejected.value
        event = EventType.open_application_rejected
    application.decision_reason = reason or None
    application.decided_by = actor.user_id
    application.decided_at = utcnow()
    db.flush()
    audit.record(
        db,
        event,
        actor=actor,
        obj=application,
        details={
            "number": application.number,
            "resource_id": application.resource_id,
            "items": application.approved_items,
            "valid_until": str(application.valid_until) if application.valid_until else None,
            "reason": application.decision_reason,
        },
    )
    return application
