"""Filing and deciding sharing requests; granting, suspending, revoking, renewing and expiring grants.

The route follows the resource's sharing type (M16):

- 无条件共享: the consumer states purpose and duty basis and holds an active grant at once.
- 有条件共享: the request waits for the provider's approver, due a number of working days after
  filing (counted from the next day, `workdays`); the approver approves, approves in part (fewer
  items, a row scope, a masking profile, a shorter duration) or rejects with reasons.
- 不予共享: no request; the provider's stated reason is the answer.

A grant never holds more than was asked for and approved (least privilege by construction), and
every change of one is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, Role, allowed, require
from govshare.calendar import deadlines
from govshare.calendar import service as calendar_service
from govshare.catalog import service as catalog
from govshare.catalog.models import CatalogClass, Resource
from govshare.classification import scheme as classification
from govshare.db import FUSABLE, Writes, later, lock_row, utcnow
from govshare.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.exchange.access import published_items
from govshare.orgs import service as orgs
from govshare.orgs.models import Organisation
from govshare.settings import get_settings
from govshare.sharing.models import DataUse, Grant, ShareRequest
from govshare.systems.models import BusinessSystem
from govshare.systems.service import carry_token_use
from govshare.tasks import service as tasks
from govshare.workdays import Calendar, beijing_day, today

MAX_DAYS = 3 * 366  # the longest grant a request may ask for
SHARING_LABELS = {"unconditional": "无条件共享", "conditional": "有条件共享", "not_shared": "不予共享"}
STATUS_LABELS = {
    "granted": "已授权",
    "pending": "待审批",
    "approved": "已同意",
    "partial": "部分同意",
    "rejected": "不同意",
    "withdrawn": "已撤回",
}
GRANT_LABELS = {"active": "有效", "suspended": "已暂停", "revoked": "已撤销", "expired": "已到期"}


@dataclass(frozen=True)
class RequestIn:
    resource_id: int
    items: list[str]
    purpose: str
    basis: str
    duration_days: int
    scope_of_use: str | None = None
    system_id: int | None = None


@dataclass(frozen=True)
class DecisionIn:
    decision: str  # approve | partial | reject
    reason: str
    items: list[str] | None = None
    row_scope: dict[str, list[str]] | None = None
    masking_profile: str | None = None
    duration_days: int | None = None


def clean_text(value: str | None, field: str, label: str, limit: int = 2000) -> str:
    """`value` with its whitespace collapsed; Invalid (naming `label`) when empty or too long."""
    value = " ".join((value or "").split())
    if not value:
        raise Invalid(f"请填写{label}。", f"{field} is required.", details={"field": field})
    if len(value) > limit:
        raise Invalid(f"{label}最多 {limit} 个字。", f"{field} too long.", details={"field": field})
    return value


def _shared_items(db: Session, resource: Resource, wanted: list[str], field: str = "items") -> list[str]:
    """`wanted`, checked against the published items, in catalog order."""
    names = [i["name"] for i in published_items(db, resource)]
    if not wanted:
        raise Invalid("请至少选择一个信息项。", "items is empty.", details={"field": field})
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise Invalid(
            f"目录中没有这些信息项：{'、'.join(unknown)}。请按目录中的字段名选择。",
            f"Unknown items {unknown}.",
            details={"field": field, "unknown": unknown},
        )
    return [n for n in names if n in set(wanted)]


def _item_dicts(db: Session, resource: Resource, names: list[str]) -> list[dict[str, Any]]:
    wanted = set(names)
    return [i for i in published_items(db, resource) if i["name"] in wanted]


def _is_base(db: Session, resource: Resource) -> bool:
    """基础信息资源 are shared unconditionally by regulation (M15(3)): the Bureau's catalog review
    stands for the provider's approval that their items' levels otherwise require."""
    cls = db.get(CatalogClass, resource.class_id)
    return cls is not None and cls.kind == "base"


def _approval_needed(
    db: Session, resource: Resource, levels: classification.Scheme, items: list[dict[str, Any]]
) -> list[str]:
    """The items whose level rules out an unconditional grant of this resource (none for a base
    resource)."""
    if _is_base(db, resource):
        return []
    return [i["name"] for i in classification.needing_approval(levels, items)]


def check_levels(
    db: Session,
    resource: Resource,
    *,
    items: list[str],
    masking_profile: str | None,
    days: int | None,
    route: str | None,
    levels: classification.Scheme | None = None,
) -> None:
    """Refuse a grant (or a delivery under one) that breaks the controls of its items' levels (S13):
    an item that is never shared, an unconditional grant of items that need the provider's approval,
    a masking profile that passes items that must be masked through as is, a longer validity than
    the levels allow (`days`; None: not a question of validity). `route` None: a delivery under a
    grant already given, where the way it was given is not asked again."""
    from govshare.masking.service import load_profile

    levels = levels or classification.load(db)
    wanted = _item_dicts(db, resource, items)
    classification.never_shared(levels, wanted)
    if route == "unconditional":
        needing = _approval_needed(db, resource, levels, wanted)
        if needing:
            raise Forbidden(
                f"按分类分级方案，这些信息项须经提供部门审批后共享：{'、'.join(needing)}。",
                "These items need the provider's approval.",
                details={"control": "unconditional", "items": needing},
            )
    if days is not None:
        classification.duration(levels, wanted, days)
    if any(levels.of_item(i).masking for i in wanted):
        profile = load_profile(db, masking_profile)
        classification.masking(levels, wanted, masking_profile, profile.levels)


def _consumer_system(db: Session, actor: Actor, system_id: int | None) -> int | None:
    if actor.kind == "system":
        return actor.system_id
    if system_id is None:
        return None
    system = db.get(BusinessSystem, system_id)
    if system is None or system.org_id != actor.org_id:
        raise Invalid(
            "使用数据的业务系统应是本单位已登记的系统。", "Unknown system.", details={"field": "system_id"}
        )
    return system_id


def requestable(db: Session, *, actor: Actor, resource_id: int) -> Resource:
    """The resource, if the actor may request it for the department now; raises what a request for
    it would be refused with (the request form is not shown either)."""
    require(actor, Action.sharing_request)
    resource = catalog.get_resource(db, actor=actor, resource_id=resource_id)
    if resource.published_version_id is None or resource.status == "retired":
        raise Invalid("只能申请已发布的目录条目。", "The resource is not published.")
    if resource.org_id == actor.org_id:
        raise Invalid("这是本单位提供的资源，无需申请。", "A department does not request its own data.")
    if resource.sharing_type == "not_shared":
        version = catalog.shown_version(db, resource)
        raise Forbidden(
            f"该资源为不予共享，不能申请。提供部门的理由：{version.not_shared_reason or '未填写'}",
            "The resource is not shared.",
            details={"reason": version.not_shared_reason},
        )
    return resource


def file_request(db: Session, *, actor: Actor, data: RequestIn) -> tuple[ShareRequest, Grant | None]:
    """File a request; for an unconditional resource, also the grant it gives at once."""
    resource = requestable(db, actor=actor, resource_id=data.resource_id)
    items = _shared_items(db, resource, data.items)
    purpose = clean_text(data.purpose, "purpose", "用途", 200)
    basis = clean_text(data.basis, "basis", "履职依据", 500)
    if not 1 <= data.duration_days <= MAX_DAYS:
        raise Invalid(
            f"使用期限应在 1 到 {MAX_DAYS} 天之间。",
            "duration_days out of range.",
            details={"field": "duration_days"},
        )
    # Classification (S13): items never shared are refused, a grant longer than their levels allow
    # too; items whose level needs the provider's approval turn an unconditional request into one
    # the provider answers.
    levels = classification.load(db)
    wanted = _item_dicts(db, resource, items)
    classification.never_shared(levels, wanted)
    classification.duration(levels, wanted, data.duration_days)
    needing = (
        _approval_needed(db, resource, levels, wanted) if resource.sharing_type == "unconditional" else []
    )
    assert actor.org_id is not None
    system_id = _consumer_system(db, actor, data.system_id)
    # The department's filings take turns from here, so of two identical requests filed at once
    # the second sees the first one's request (or grant) and is refused.
    lock_row(db, Organisation, actor.org_id, key_share=True)
    open_request = db.scalar(
        select(ShareRequest.id).where(
            ShareRequest.resource_id == resource.id,
            ShareRequest.org_id == actor.org_id,
            ShareRequest.purpose == purpose,
            ShareRequest.status == "pending",
        )
    )
    if open_request is not None:
        raise Conflict(
            "本单位已有相同用途的申请正在审批，请等待答复或撤回后再申请。",
            "A request with this purpose is pending.",
            details={"request_id": open_request},
        )
    held = active_grants(db, org_id=actor.org_id, resource_id=resource.id, purpose=purpose)
    if held:
        raise Conflict(
            "本单位已持有该资源相同用途的有效授权，可直接使用；需要更多信息项或更长期限请联系提供部门续期或调整。",
            "An active grant with this purpose exists.",
            details={"grant_id": held[0].id},
        )
    filed_on = today()
    request = ShareRequest(
        resource_id=resource.id,
        provider_org_id=resource.org_id,
        org_id=actor.org_id,
        system_id=system_id,
        requested_by=actor.user_id,
        route="unconditional" if resource.sharing_type == "unconditional" and not needing else "conditional",
        items=items,
        purpose=purpose,
        basis=basis,
        scope_of_use=" ".join((data.scope_of_use or "").split()) or None,
        duration_days=data.duration_days,
        filed_on=filed_on,
        status="pending",
    )
    grant = None
    if request.route == "unconditional":
        request.status = "granted"
        db.add(request)
        db.flush()
        grant = _grant(
            db, request, items=items, row_scope=None, masking_profile=None, days=data.duration_days
        )
    else:
        due = reply_due(db, filed_on)
        request.due_date, request.due_provisional = due
        db.add(request)
        db.flush()
        tasks.open_task(
            db,
            kind="share_request",
            title=f"共享申请待审批：{resource.name}（{SHARING_LABELS['conditional']}，"
            f"{'暂定' if request.due_provisional else ''}截止 {request.due_date:%Y-%m-%d}）",
            link=f"/sharing/requests/{request.id}",
            org_id=resource.org_id,
            subject_type="share_requests",
            subject_id=request.id,
            assignee_role=Role.approver,
        )
    audit.record(
        db,
        EventType.share_requested,
        actor=actor,
        obj=request,
        org_id=actor.org_id,
        details={
            "resource_id": resource.id,
            "route": request.route,
            "items": items,
            "purpose": purpose,
            "due_date": request.due_date.isoformat() if request.due_date else None,
            "due_provisional": request.due_provisional,
            "approval_required_by_level": needing,
        },
    )
    return request, grant


def working_days_after(db: Session, start: date, days: int) -> tuple[date, bool]:
    """The day `days` working days after `start` (counted from the next day), and whether that is
    provisional (a year whose official holidays are not loaded yet: the Bureau gets a task)."""
    due = deadlines.due_date(db, start, days)
    return due.day, due.provisional


def reply_due(db: Session, filed_on: date) -> tuple[date, bool]:
    """The provider's reply deadline for a request filed on `filed_on` (a date in China):
    `GOVSHARE_SHARING_REPLY_WORKING_DAYS`, in the stages of `GOVSHARE_SHARING_REPLY_STAGES`."""
    due = deadlines.stage_deadlines(db, filed_on)[-1]
    return due.day, due.provisional


def recompute_due_dates(db: Session, calendar: Calendar, year: int) -> int:
    """When the Bureau loads a year's holidays: every provisional reply due date of a pending request
    and every provisional due date of an open feedback case, counted again (the load's hook).

    A request or case escalated as overdue on its provisional date whose real due date has not
    passed yet was not late after all: the escalation and the reminder are withdrawn (the Bureau's
    task closed; the reminder comes again before the new date)."""
    from govshare.sharing.models import Feedback

    settings = get_settings()
    now = today()
    changed = 0
    for request in db.scalars(
        select(ShareRequest).where(ShareRequest.status == "pending", ShareRequest.due_provisional.is_(True))
    ):
        day, provisional = request.filed_on, False
        for days in settings.reply_stages:
            due = calendar.add_working_days(day, days)
            day, provisional = due.day, provisional or due.provisional
        request.due_date, request.due_provisional = day, provisional
        if now <= day and (request.overdue_at is not None or request.reminded_at is not None):
            request.overdue_at = request.reminded_at = None
            for kind in ("share_overdue", "share_reminder"):
                tasks.close_tasks(db, subject_type="share_requests", subject_id=request.id, kind=kind)
        changed += 1
    for case in db.scalars(
        select(Feedback).where(Feedback.status == "open", Feedback.due_provisional.is_(True))
    ):
        due = calendar.add_working_days(case.clock_from, settings.feedback_reply_working_days)
        case.due_date, case.due_provisional = due.day, due.provisional
        if now <= due.day and case.overdue_at is not None:
            case.overdue_at = None
            tasks.close_tasks(db, subject_type="data_feedback", subject_id=case.id, kind="feedback_overdue")
        changed += 1
    db.flush()
    return changed


calendar_service.on_schedule_loaded.append(recompute_due_dates)


def _grant(
    db: Session,
    request: ShareRequest,
    *,
    items: list[str],
    row_scope: dict[str, list[str]] | None,
    masking_profile: str | None,
    days: int,
) -> Grant:
    resource = db.get(Resource, request.resource_id)
    assert resource is not None
    check_levels(db, resource, items=items, masking_profile=masking_profile, days=days, route=request.route)
    now = utcnow()
    grant = Grant(
        request_id=request.id,
        resource_id=request.resource_id,
        provider_org_id=request.provider_org_id,
        org_id=request.org_id,
        system_id=request.system_id,
        items=items,
        row_scope=row_scope,
        masking_profile=masking_profile,
        purpose=request.purpose,
        basis=request.basis,
        valid_from=now,
        valid_until=now + timedelta(days=days),
        status="active",
    )
    db.add(grant)
    db.flush()
    return grant


def get_request(db: Session, *, actor: Actor, request_id: int) -> ShareRequest:
    """A request its consumer, its provider or the Bureau may see (others: not found)."""
    require(actor, Action.sharing_view)
    request = db.get(ShareRequest, request_id)
    if request is None or not _sees(actor, request.org_id, request.provider_org_id):
        raise NotFound("找不到该共享申请。", f"Request #{request_id} not found.")
    return request


def _sees(actor: Actor, consumer: int, provider: int) -> bool:
    return actor.org_id in (consumer, provider) or allowed(actor, Action.sharing_supervise)


def decide(
    db: Session, *, actor: Actor, request_id: int, data: DecisionIn
) -> tuple[ShareRequest, Grant | None]:
    """The provider's approver answers a conditional request."""
    request = get_request(db, actor=actor, request_id=request_id)
    resource = db.get(Resource, request.resource_id)
    assert resource is not None
    if actor.org_id != request.provider_org_id or not allowed(actor, Action.sharing_decide, resource):
        raise Forbidden(
            "只有提供部门的审批人可以答复该申请。",
            "Only the provider's approver decides.",
            details={"action": "sharing.decide"},
        )
    if request.status != "pending":
        raise Conflict(
            f"该申请已{STATUS_LABELS.get(request.status, request.status)}，不能重复答复。",
            "The request is not pending.",
        )
    reason = clean_text(data.reason or "", "reason", "答复理由", 2000)
    grant = None
    if data.decision == "reject":
        request.status = "rejected"
    elif data.decision in ("approve", "partial"):
        items, days = _terms(db, resource, request, data)
        row_scope = _row_scope(db, resource, items, data.row_scope)
        narrowed = (
            len(items) < len(request.items)
            or bool(row_scope)
            or bool(data.masking_profile)
            or days < request.duration_days
        )
        if data.decision == "partial" and not narrowed:
            raise Invalid(
                "部分同意应减少信息项、限定数据范围、指定脱敏方案或缩短期限；全部同意请选“同意”。",
                "A partial approval narrows something.",
                details={"field": "decision"},
            )
        request.status = "partial" if narrowed else "approved"
        grant = _grant(
            db, request, items=items, row_scope=row_scope, masking_profile=data.masking_profile, days=days
        )
    else:
        raise Invalid(
            "答复应为 approve（同意）、partial（部分同意）或 reject（不同意）。",
            "Unknown decision.",
            details={"field": "decision"},
        )
    request.decided_at, request.decided_by, request.decision_reason = utcnow(), actor.user_id, reason
    db.flush()
    for kind in ("share_request", "share_reminder"):
        tasks.close_tasks(db, subject_type="share_requests", subject_id=request.id, kind=kind)
    audit.record(
        db,
        EventType.share_decided,
        actor=actor,
        obj=request,
        org_id=request.provider_org_id,
        details={
            "decision": request.status,
            "reason": reason,
            "grant_id": grant.id if grant else None,
            "items": grant.items if grant else [],
            "row_scope": grant.row_scope if grant else None,
            "masking_profile": grant.masking_profile if grant else None,
            # Due dates are Beijing dates: a reply at 07:30 the morning after is late.
            "on_time": request.due_date is None or beijing_day(request.decided_at) <= request.due_date,
        },
    )
    return request, grant


def bureau_task(db: Session, *, kind: str, title: str, link: str, subject_type: str, subject_id: int) -> None:
    """A task for the Bureau's administrators (none on a platform without a Bureau organisation)."""
    bureau = orgs.bureau(db)
    if bureau is not None:
        tasks.open_task(
            db,
            kind=kind,
            title=title,
            link=link,
            org_id=bureau.id,
            subject_type=subject_type,
            subject_id=subject_id,
            assignee_role=Role.bureau_admin,
        )


def dispute(db: Session, *, actor: Actor, request_id: int, reason: str) -> ShareRequest:
    """The consumer disputes a rejection or a partial approval; the Bureau coordinates (M16)."""
    request = get_request(db, actor=actor, request_id=request_id)
    if actor.org_id != request.org_id or not allowed(actor, Action.sharing_request):
        raise Forbidden("只有申请部门可以对答复提出异议。", "Only the consumer disputes.")
    if request.status not in ("rejected", "partial"):
        raise Conflict("只能对“不同意”或“部分同意”的答复提出异议。", "Nothing to dispute.")
    if request.dispute_status is not None:
        raise Conflict("该申请已提出过异议，市数据资源管理局的裁定为最终结果。", "Already disputed.")
    request.dispute_status = "open"
    request.dispute_reason = clean_text(reason or "", "reason", "异议理由", 2000)
    request.disputed_at = utcnow()
    db.flush()
    resource = db.get(Resource, request.resource_id)
    assert resource is not None
    bureau_task(
        db,
        kind="share_dispute",
        title=f"共享争议待协调：{resource.name}（{STATUS_LABELS[request.status]}）",
        link=f"/sharing/requests/{request.id}",
        subject_type="share_requests",
        subject_id=request.id,
    )
    audit.record(
        db,
        EventType.share_disputed,
        actor=actor,
        obj=request,
        org_id=request.org_id,
        details={"decision": request.status, "reason": request.dispute_reason},
    )
    return request


def rule(
    db: Session, *, actor: Actor, request_id: int, data: DecisionIn
) -> tuple[ShareRequest, Grant | None]:
    """The Bureau's final ruling on a dispute: uphold the provider's answer, or approve (in part),
    which replaces any grant the provider gave."""
    request = get_request(db, actor=actor, request_id=request_id)
    require(actor, Action.sharing_rule)
    if request.dispute_status != "open":
        raise Conflict("该申请没有待协调的异议。", "No open dispute.")
    reason = clean_text(data.reason or "", "reason", "裁定理由", 2000)
    grant = None
    if data.decision == "uphold":
        request.dispute_status = "upheld"
    elif data.decision in ("approve", "partial"):
        resource = db.get(Resource, request.resource_id)
        assert resource is not None
        items, days = _terms(db, resource, request, data)
        for earlier in db.scalars(
            select(Grant).where(Grant.request_id == request.id, Grant.status.in_(("active", "suspended")))
        ):
            earlier.status, earlier.status_reason = "revoked", "由市数据资源管理局的争议裁定取代"
        row_scope = _row_scope(db, resource, items, data.row_scope)
        grant = _grant(
            db, request, items=items, row_scope=row_scope, masking_profile=data.masking_profile, days=days
        )
        request.dispute_status = "overruled"
        request.status = "approved" if data.decision == "approve" else "partial"
    else:
        raise Invalid(
            "裁定应为 uphold（维持原答复）、approve（同意）或 partial（部分同意）。",
            "Unknown ruling.",
            details={"field": "decision"},
        )
    request.ruled_at, request.ruled_by, request.ruling_reason = utcnow(), actor.user_id, reason
    db.flush()
    tasks.close_tasks(db, subject_type="share_requests", subject_id=request.id, kind="share_dispute")
    audit.record(
        db,
        EventType.share_ruled,
        actor=actor,
        obj=request,
        org_id=request.provider_org_id,
        details={
            "ruling": request.dispute_status,
            "status": request.status,
            "reason": reason,
            "grant_id": grant.id if grant else None,
        },
    )
    return request, grant


def follow_deadlines(db: Session, *, on: Any = None) -> tuple[int, int]:
    """Remind the provider's approvers of pending requests due within
    `GOVSHARE_SHARING_REMINDER_WORKING_DAYS`, and escalate those past due to the Bureau (once each,
    audited: an overdue request counts against the provider). Returns (reminded, escalated)."""
    day = on or today()
    calendar = Calendar.load(db)
    ahead = get_settings().sharing_reminder_working_days
    reminded = escalated = 0
    pending = db.scalars(
        select(ShareRequest).where(ShareRequest.status == "pending", ShareRequest.due_date.is_not(None))
    )
    for request in list(pending):
        assert request.due_date is not None
        resource = db.get(Resource, request.resource_id)
        assert resource is not None
        if day > request.due_date and request.overdue_at is None:
            request.overdue_at = utcnow()
            escalated += 1
            bureau_task(
                db,
                kind="share_overdue",
                title=f"共享申请逾期未答复：{resource.name}（截止 {request.due_date:%Y-%m-%d}）",
                link=f"/sharing/requests/{request.id}",
                subject_type="share_requests",
                subject_id=request.id,
            )
            audit.record(
                db,
                EventType.share_overdue,
                actor=Actor.operator("scheduler"),
                obj=request,
                org_id=request.provider_org_id,
                details={
                    "due_date": request.due_date.isoformat(),
                    "provider_org_id": request.provider_org_id,
                },
            )
        elif (
            request.reminded_at is None
            and day <= request.due_date
            and calendar.working_days_between(day, request.due_date).days <= ahead
        ):
            request.reminded_at = utcnow()
            reminded += 1
            tasks.open_task(
                db,
                kind="share_reminder",
                title=f"共享申请即将到期：{resource.name}（截止 {request.due_date:%Y-%m-%d}）",
                link=f"/sharing/requests/{request.id}",
                org_id=request.provider_org_id,
                subject_type="share_requests",
                subject_id=request.id,
                assignee_role=Role.approver,
            )
    db.flush()
    return reminded, escalated


def _terms(db: Session, resource: Resource, request: ShareRequest, data: DecisionIn) -> tuple[list[str], int]:
    """The items and days an approval (or ruling) grants: within what was asked for."""
    items = _shared_items(db, resource, data.items or request.items)
    beyond = sorted(set(items) - set(request.items))
    if beyond:
        raise Invalid(
            f"不能授权申请之外的信息项：{'、'.join(beyond)}。",
            "Items beyond the request.",
            details={"field": "items"},
        )
    days = data.duration_days or request.duration_days
    if not 1 <= days <= request.duration_days:
        raise Invalid(
            f"授权期限应在 1 到申请的 {request.duration_days} 天之间。",
            "duration_days out of range.",
            details={"field": "duration_days"},
        )
    return items, days


def _row_scope(
    db: Session, resource: Resource, items: list[str], scope: dict[str, list[str]] | None
) -> dict[str, list[str]] | None:
    if not scope:
        return None
    names = {i["name"] for i in published_items(db, resource)}
    cleaned: dict[str, list[str]] = {}
    for item, values in scope.items():
        if item not in names:
            raise Invalid(
                f"数据范围中的信息项 {item} 不在目录中。",
                "Unknown scope item.",
                details={"field": "row_scope"},
            )
        kept = sorted({str(v).strip() for v in values if str(v).strip()})
        if not kept:
            raise Invalid(
                f"数据范围 {item} 至少要有一个取值。", "Empty scope.", details={"field": "row_scope"}
            )
        cleaned[item] = kept[:500]
    return cleaned


def active_grants(
    db: Session, *, org_id: int, resource_id: int, purpose: str | None = None, system_id: int | None = None
) -> list[Grant]:
    """Grants `org_id` holds on the resource right now (optionally for one purpose)."""
    now = utcnow()
    query = select(Grant).where(
        Grant.org_id == org_id,
        Grant.resource_id == resource_id,
        Grant.status == "active",
        Grant.valid_from <= now,
        Grant.valid_until > now,
    )
    if purpose is not None:
        query = query.where(Grant.purpose == " ".join(purpose.split()))
    if system_id is not None:
        query = query.where(or_(Grant.system_id.is_(None), Grant.system_id == system_id))
    return list(db.scalars(query.order_by(Grant.id)))


def get_grant(db: Session, *, actor: Actor, grant_id: int) -> Grant:
    require(actor, Action.sharing_view)
    grant = db.get(Grant, grant_id)
    if grant is None or not _sees(actor, grant.org_id, grant.provider_org_id):
        raise NotFound("找不到该授权。", f"Grant #{grant_id} not found.")
    return grant


CHANGES = {
    "suspend": ("active", "suspended", "暂停"),
    "resume": ("suspended", "active", "恢复"),
    "revoke": (None, "revoked", "撤销"),
}


def change_grant(
    db: Session, *, actor: Actor, grant_id: int, change: str, reason: str, days: int | None = None
) -> Grant:
    """Suspend, resume, revoke or renew a grant: the provider's data administrator or the Bureau."""
    grant = get_grant(db, actor=actor, grant_id=grant_id)
    resource = db.get(Resource, grant.resource_id)
    if not allowed(actor, Action.grant_manage, resource):
        raise Forbidden(
            "只有提供部门的数据资源管理员或市数据资源管理局可以调整授权。",
            "Only the provider or the Bureau changes a grant.",
            details={"action": Action.grant_manage.value},
        )
    reason = clean_text(reason or "", "reason", "理由", 500)
    before = grant.status
    if change == "renew":
        if grant.status == "revoked":
            raise Conflict("已撤销的授权不能续期，请重新申请。", "A revoked grant is not renewed.")
        if days is None or not 1 <= days <= MAX_DAYS:
            raise Invalid(
                f"续期天数应在 1 到 {MAX_DAYS} 之间。", "days out of range.", details={"field": "days"}
            )
        base = max(grant.valid_until, utcnow())
        assert resource is not None
        # The validity from now on may not exceed what the items' levels allow (S13).
        remaining = -(-(base + timedelta(days=days) - utcnow()).total_seconds() // 86400)
        check_levels(
            db,
            resource,
            items=grant.items,
            masking_profile=grant.masking_profile,
            days=int(remaining),
            route=None,  # the provider (or the Bureau) renews: that is the approval
        )
        grant.valid_until = base + timedelta(days=days)
        if grant.status == "expired":  # back to what it was: a suspended grant stays suspended
            grant.status, grant.expired_from = grant.expired_from or "active", None
    elif change in CHANGES:
        required, target, label = CHANGES[change]
        if (
            grant.status == target
            or (required is not None and grant.status != required)
            or grant.status in ("revoked", "expired")
        ):
            raise Conflict(
                f"该授权当前为「{GRANT_LABELS[grant.status]}」，不能{label}。",
                f"Cannot {change} a {grant.status} grant.",
            )
        if change == "resume":  # the scheme may have changed while it was suspended
            assert resource is not None
            check_levels(
                db, resource, items=grant.items, masking_profile=grant.masking_profile, days=None, route=None
            )
        grant.status = target
    else:
        raise Invalid(
            "调整方式应为 suspend、resume、revoke 或 renew。", "Unknown change.", details={"field": "change"}
        )
    grant.status_reason = reason
    db.flush()
    audit.record(
        db,
        EventType.grant_changed,
        actor=actor,
        obj=grant,
        org_id=grant.provider_org_id,
        details={
            "change": change,
            "before": before,
            "after": grant.status,
            "valid_until": grant.valid_until.isoformat(),
            "reason": reason,
            "holder_org_id": grant.org_id,
        },
    )
    return grant


def expire_grants(db: Session, now: datetime | None = None) -> int:
    """Active or suspended grants past their validity become expired (audited, one event each)."""
    now = now or utcnow()
    expired = list(
        db.scalars(select(Grant).where(Grant.status.in_(("active", "suspended")), Grant.valid_until <= now))
    )
    for grant in expired:
        before, grant.status = grant.status, "expired"
        grant.expired_from = before
        grant.status_reason = "授权期限届满"
        audit.record(
            db,
            EventType.grant_changed,
            actor=Actor.operator("scheduler"),
            obj=grant,
            org_id=grant.provider_org_id,
            details={"change": "expire", "before": before, "after": "expired", "holder_org_id": grant.org_id},
        )
    db.flush()
    return len(expired)


def by_side(
    db: Session,
    model: Any,
    *,
    actor: Actor,
    side: str,
    limit: int,
    offset: int,
    status: str | None = None,
    provider_side: str = "inbox",
) -> tuple[list[Any], int]:
    """A page of the sharing records (`model`, newest first) of the actor's department, as the
    consumer (`org_id`), as the provider (`provider_org_id`, on side `provider_side`), or the whole
    city (`all`, for those who supervise sharing), with the total."""
    require(actor, Action.sharing_view)
    query = select(model)
    if side == provider_side:
        query = query.where(model.provider_org_id == actor.org_id)
    elif not (side == "all" and allowed(actor, Action.sharing_supervise)):
        query = query.where(model.org_id == actor.org_id)
    if status:
        query = query.where(model.status == status)
    total = int(db.scalar(select(func.count()).select_from(query.subquery())) or 0)
    return list(db.scalars(query.order_by(model.id.desc()).limit(limit).offset(offset))), total


def list_requests(
    db: Session, *, actor: Actor, side: str, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[ShareRequest], int]:
    """The requests the actor's department filed (`mine`), received (`inbox`), or all (Bureau)."""
    return by_side(db, ShareRequest, actor=actor, side=side, status=status, limit=limit, offset=offset)


def list_grants(
    db: Session, *, actor: Actor, side: str, limit: int = 50, offset: int = 0
) -> tuple[list[Grant], int]:
    """Grants the actor's department holds (`held`) or has given (`given`), or all (Bureau)."""
    return by_side(db, Grant, actor=actor, side=side, limit=limit, offset=offset, provider_side="given")


def request_dict(request: ShareRequest, grant: Grant | None = None) -> dict[str, Any]:
    return {
        "id": request.id,
        "resource_id": request.resource_id,
        "provider_org_id": request.provider_org_id,
        "org_id": request.org_id,
        "system_id": request.system_id,
        "route": request.route,
        "items": list(request.items),
        "purpose": request.purpose,
        "basis": request.basis,
        "scope_of_use": request.scope_of_use,
        "duration_days": request.duration_days,
        "status": request.status,
        "status_label": STATUS_LABELS.get(request.status, request.status),
        "filed_at": request.filed_at.isoformat(),
        "due_date": request.due_date.isoformat() if request.due_date else None,
        "due_provisional": request.due_provisional,
        "decided_at": request.decided_at.isoformat() if request.decided_at else None,
        "decision_reason": request.decision_reason,
        "overdue": request.overdue_at is not None,
        "dispute_status": request.dispute_status,
        "dispute_reason": request.dispute_reason,
        "ruling_reason": request.ruling_reason,
        **({"grant": grant.as_dict()} if grant is not None else {}),
    }


def list_inbox(
    db: Session, *, actor: Actor, limit: int = 50, offset: int = 0
) -> tuple[list[ShareRequest], int]:
    """Pending requests to the actor's department, the one due soonest first (the approvals inbox)."""

    require(actor, Action.sharing_view)
    query = select(ShareRequest).where(
        ShareRequest.provider_org_id == actor.org_id, ShareRequest.status == "pending"
    )
    total = int(db.scalar(select(func.count()).select_from(query.subquery())) or 0)
    ordered = query.order_by(ShareRequest.due_date, ShareRequest.id)
    return list(db.scalars(ordered.limit(limit).offset(offset))), total


def open_requests(db: Session, *, org_id: int, resource_id: int) -> list[ShareRequest]:
    """Requests department `org_id` is still waiting on for the resource (the resource page)."""
    return list(
        db.scalars(
            select(ShareRequest)
            .where(
                ShareRequest.org_id == org_id,
                ShareRequest.resource_id == resource_id,
                ShareRequest.status == "pending",
            )
            .order_by(ShareRequest.id)
        )
    )


def record_use(
    db: Writes,
    *,
    actor: Actor,
    resource_id: int,
    purpose: str,
    channel: str,
    grant: Grant | None = None,
    rows: int = 0,
    reason: str | None = None,
) -> None:
    """Note one use of shared data (delivered, or refused with `reason`) for review and supervision.
    A Core insert: every data call writes one, and nothing reads it back as an object."""
    assert actor.org_id is not None
    db.execute(
        _INSERT_USE,
        {
            "at": utcnow(),
            "org_id": actor.org_id,
            "system_id": actor.system_id,
            "user_id": actor.user_id,
            "resource_id": resource_id,
            "grant_id": grant.id if grant is not None else None,
            "purpose": purpose[:200],
            "channel": channel,
            "outcome": "refused" if reason else "delivered",
            "reason": reason,
            "rows": rows,
        },
    )


# Fused with the call's audit event into one statement on PostgreSQL (`db.FUSABLE`).
_INSERT_USE = insert(DataUse.__table__).execution_options(**{FUSABLE: True})  # type: ignore[arg-type]


def _refuse(
    db: Session, actor: Actor, resource: Resource, purpose: str, reason: str, message: str, channel: str
) -> Forbidden:
    details = carry_token_use(db, {"reason": reason, "purpose": purpose, "system_id": actor.system_id})

    def write(w: Writes) -> None:
        record_use(w, actor=actor, resource_id=resource.id, purpose=purpose, channel=channel, reason=reason)
        audit.record(
            w,
            EventType.data_refused,
            actor=actor,
            obj=resource,
            outcome="denied",
            org_id=actor.org_id,
            details=details,
        )

    later(db, write, fusable=True)
    return Forbidden(
        message,
        f"No active grant for this purpose ({reason}).",
        details={"reason": reason, "apply": f"/catalog/{resource.id}"},
        keep_changes=True,
    )


def grant_for_use(
    db: Session, *, actor: Actor, resource: Resource, purpose: str, channel: str = "rows"
) -> Grant:
    """The active grant under which `actor` uses `resource` for `purpose`; a refusal (no grant, or
    none for this purpose or this business system) is audited and raised as Forbidden with what to
    do."""
    require(actor, Action.data_consume)
    if actor.org_id is None:
        raise Forbidden("只有部门的人员或业务系统可以使用共享数据。", "No department.")
    grants = active_grants(
        db, org_id=actor.org_id, resource_id=resource.id, purpose=purpose, system_id=actor.system_id
    )
    if actor.kind != "system":  # a grant bound to a business system serves that system's calls only
        grants = [g for g in grants if g.system_id is None]
    if grants:
        grant = grants[0]
        try:
            check_levels(
                db, resource, items=grant.items, masking_profile=grant.masking_profile, days=None, route=None
            )
        except (Forbidden, Invalid) as exc:
            raise _refuse(db, actor, resource, purpose, "level_controls", exc.message, channel) from None
        return grant
    if active_grants(db, org_id=actor.org_id, resource_id=resource.id):
        raise _refuse(
            db,
            actor,
            resource,
            purpose,
            "purpose_mismatch",
            "本单位对该资源的有效授权不包含这一用途（或不属于本业务系统）：请按授权时申报的用途调用，"
            "新的用途需另行提出共享申请。",
            channel,
        )
    raise _refuse(
        db,
        actor,
        resource,
        purpose,
        "no_grant",
        "本单位没有该资源的有效共享授权。请在资源页面点击“申请共享”，写明用途和履职依据；"
        "有条件共享的资源需等待提供部门审批。",
        channel,
    )


def purpose_review(
    db: Session, *, actor: Actor, org_id: int | None = None, days: int = 30
) -> list[dict[str, Any]]:
    """For the Bureau, per consuming department, resource and purpose over the last `days`: the
    purposes its grants declare against the uses made — deliveries, rows, refusals for a purpose no
    grant covers (M17, S25)."""
    from sqlalchemy import case

    require(actor, Action.sharing_supervise)
    if not 1 <= days <= 366:
        raise Invalid("统计天数应在 1 到 366 之间。", "days out of range.", details={"field": "days"})
    since = utcnow() - timedelta(days=days)
    query = (
        select(
            DataUse.org_id,
            DataUse.resource_id,
            DataUse.purpose,
            func.count().label("uses"),
            func.sum(case((DataUse.outcome == "delivered", 1), else_=0)).label("delivered"),
            func.sum(case((DataUse.reason == "purpose_mismatch", 1), else_=0)).label("mismatched"),
            func.sum(case((DataUse.reason == "no_grant", 1), else_=0)).label("ungranted"),
            func.sum(DataUse.rows).label("rows"),
            func.max(DataUse.at).label("last_at"),
        )
        .where(DataUse.at >= since)
        .group_by(DataUse.org_id, DataUse.resource_id, DataUse.purpose)
        .order_by(DataUse.org_id, DataUse.resource_id, DataUse.purpose)
    )
    if org_id is not None:
        query = query.where(DataUse.org_id == org_id)
    declared: dict[tuple[int, int], set[str]] = {}
    grants = select(Grant.org_id, Grant.resource_id, Grant.purpose).where(
        Grant.status.in_(("active", "suspended"))
    )
    for holder, resource_id, purpose in db.execute(grants):
        declared.setdefault((holder, resource_id), set()).add(purpose)
    return [
        {
            "org_id": row.org_id,
            "resource_id": row.resource_id,
            "purpose": row.purpose,
            "declared": row.purpose in declared.get((row.org_id, row.resource_id), set()),
            "declared_purposes": sorted(declared.get((row.org_id, row.resource_id), set())),
            "uses": int(row.uses),
            "delivered": int(row.delivered or 0),
            "purpose_mismatches": int(row.mismatched or 0),
            "without_grant": int(row.ungranted or 0),
            "rows": int(row.rows or 0),
            "last_at": row.last_at.isoformat() if row.last_at else None,
        }
        for row in db.execute(query)
    ]
