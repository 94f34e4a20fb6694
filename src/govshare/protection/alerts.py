"""The alert lifecycle: open → assigned (to a Bureau person who handles alerts) → investigating →
closed with a conclusion and the accountability (追责) outcome. Every step is audited, with the
alert's department as the event's organisation (its security officers see the trail).

Who sees what: Bureau roles with `protection.alert_view` see every alert; a department's security
officer sees alerts about their own department only (any other is reported as missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.audit.models import AuditEvent
from govshare.auth.service import actor_for
from govshare.authz import (
    PERMISSIONS,
    Action,
    Actor,
    Role,
    Scope,
    allowed,
    get_visible,
    register_view_action,
    require,
    scope_of,
    visible,
)
from govshare.db import utcnow
from govshare.errors import Conflict, Invalid
from govshare.orgs import service as orgs
from govshare.pagination import PageParams, paginate
from govshare.protection.models import Alert
from govshare.protection.rules import RULES
from govshare.tasks import service as tasks
from govshare.users.models import User, UserRole

register_view_action(Alert, Action.alert_view)

TASK_NEW = "protection.alert_assign"  # the Bureau's admins: assign a new alert
TASK_HANDLE = "protection.alert_handle"  # the assignee: investigate and close it
STATUS_LABELS = {"open": "待处理", "assigned": "已指派", "investigating": "调查中", "closed": "已办结"}
ACCOUNTABILITY = {"none": "无违规", "rectified": "已整改", "held_accountable": "已追责"}
MAX_TEXT = 4000


@dataclass(frozen=True)
class AlertFilter:
    status: str | None = None
    rule: str | None = None
    org_id: int | None = None
    since: datetime | None = None


def get_alert(db: Session, *, actor: Actor, alert_id: int) -> Alert:
    return get_visible(db, Alert, alert_id, actor=actor, label="告警")


def list_alerts(
    db: Session, *, actor: Actor, params: PageParams, where: AlertFilter | None = None
) -> tuple[list[Alert], int]:
    """Alerts the actor may see, newest first."""
    require(actor, Action.alert_view)
    where = where or AlertFilter()
    if where.status and where.status not in STATUS_LABELS:
        raise Invalid(
            "状态应为 open、assigned、investigating 或 closed。",
            "Unknown status.",
            details={"field": "status"},
        )
    if where.rule and where.rule not in RULES:
        raise Invalid("没有这条告警规则。", "Unknown rule.", details={"field": "rule"})
    stmt = visible(actor, Action.alert_view, select(Alert), Alert)
    if where.status:
        stmt = stmt.where(Alert.status == where.status)
    if where.rule:
        stmt = stmt.where(Alert.rule == where.rule)
    if where.org_id is not None:
        stmt = stmt.where(Alert.org_id == where.org_id)
    if where.since is not None:
        stmt = stmt.where(Alert.window_end >= where.since)
    return paginate(db, stmt.order_by(Alert.id.desc()), params)


def evidence(db: Session, *, actor: Actor, alert: Alert) -> list[AuditEvent]:
    """The audit events an alert rests on (the ones kept on it), in sequence order. A department's
    security officer sees only those of their own department."""
    require(actor, Action.alert_view, alert)
    if not alert.evidence:
        return []
    stmt = select(AuditEvent).where(AuditEvent.seq.in_(alert.evidence)).order_by(AuditEvent.seq)
    events = list(db.scalars(stmt))
    if scope_of(actor, Action.alert_view) is Scope.city:
        return events
    return [e for e in events if e.org_id is not None and e.org_id == actor.org_id]


def handlers(db: Session) -> list[User]:
    """Active people who may handle alerts (the ones an alert can be assigned to)."""
    roles = [role.value for role, actions in PERMISSIONS.items() if Action.alert_handle in actions]
    holders = select(UserRole.user_id).where(UserRole.role.in_(roles))
    people = db.scalars(select(User).where(User.is_active.is_(True), User.id.in_(holders)).order_by(User.id))
    # actor_for drops the roles of a deactivated organisation's people.
    return [u for u in people if allowed(actor_for(db, u), Action.alert_handle)]


def _clean(value: str | None, field: str, label: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if required and not text:
        raise Invalid(f"请填写{label}。", f"{field} is required.", details={"field": field})
    if len(text) > limit:
        raise Invalid(f"{label}不能超过 {limit} 个字。", f"{field} is too long.", details={"field": field})
    return text


def alert_task(db: Session, alert: Alert) -> None:
    """A new alert waits in the Bureau administrators' tasks until it is assigned."""
    bureau = orgs.bureau(db)
    if bureau is None:  # a platform without a Bureau organisation has nobody to tell
        return
    rule = RULES.get(alert.rule)
    tasks.open_task(
        db,
        kind=TASK_NEW,
        title=f"安全告警待指派：{rule.label if rule else alert.rule}（{alert.subject_name}）",
        link=f"/protection/alerts/{alert.id}",
        org_id=bureau.id,
        subject_type="protection_alerts",
        subject_id=alert.id,
        assignee_role=Role.bureau_admin,
    )


def _step(db: Session, alert: Alert, actor: Actor, event: EventType, **details: Any) -> None:
    alert.updated_at = utcnow()
    db.flush()
    audit.record(
        db, event, actor=actor, obj=alert, org_id=alert.org_id, details={"rule": alert.rule, **details}
    )


def assign(db: Session, *, actor: Actor, alert_id: int, assignee_id: int) -> Alert:
    """Give an alert that is not closed to a person who handles alerts (again, to hand it over)."""
    alert = get_alert(db, actor=actor, alert_id=alert_id)
    require(actor, Action.alert_handle, alert)
    if alert.status == "closed":
        raise Conflict("该告警已办结，不能再指派。", "The alert is closed.")
    assignee = db.get(User, assignee_id)
    if (
        assignee is None
        or not assignee.is_active
        or not allowed(actor_for(db, assignee), Action.alert_handle)
    ):
        raise Invalid(
            "请选择市数据资源管理局负责告警处置的在岗人员。",
            "The assignee must be an active person who handles alerts.",
            details={"field": "assignee_id"},
        )
    before = alert.assignee_id
    tasks.close_tasks(db, subject_type="protection_alerts", subject_id=alert.id)
    tasks.open_task(
        db,
        kind=TASK_HANDLE,
        title=f"调查处置安全告警 #{alert.id}：{alert.subject_name}",
        link=f"/protection/alerts/{alert.id}",
        org_id=assignee.org_id,
        subject_type="protection_alerts",
        subject_id=alert.id,
        assignee_id=assignee.id,
    )
    alert.assignee_id = assignee.id
    alert.assigned_at = utcnow()
    if alert.status == "open":
        alert.status = "assigned"
    _step(db, alert, actor, EventType.alert_assigned, assignee=assignee.username, before=before)
    return alert


def investigate(db: Session, *, actor: Actor, alert_id: int) -> Alert:
    """The assignee starts the investigation (assigned → investigating)."""
    alert = get_alert(db, actor=actor, alert_id=alert_id)
    require(actor, Action.alert_handle, alert)
    if alert.status != "assigned":
        raise Conflict(
            f"该告警当前为「{STATUS_LABELS[alert.status]}」，须先指派处置人才能开始调查。",
            "Only an assigned alert goes under investigation.",
        )
    if alert.assignee_id != actor.user_id:
        raise Conflict("只有被指派的处置人可以开始调查；如需接手，请先改派给自己。", "Not the assignee.")
    alert.status = "investigating"
    alert.investigating_at = utcnow()
    _step(db, alert, actor, EventType.alert_investigating)
    return alert


def close(
    db: Session,
    *,
    actor: Actor,
    alert_id: int,
    conclusion: str,
    accountability: str,
    responsible: str | None = None,
) -> Alert:
    """Close an investigated alert with the conclusion and the accountability outcome: 无违规
    (`none`), 已整改 (`rectified`) or 已追责 (`held_accountable`); the last two name the
    responsible person or department."""
    alert = get_alert(db, actor=actor, alert_id=alert_id)
    require(actor, Action.alert_handle, alert)
    if alert.status != "investigating":
        raise Conflict(
            f"该告警当前为「{STATUS_LABELS[alert.status]}」，调查后才能办结。",
            "Only an alert under investigation is closed.",
        )
    conclusion = _clean(conclusion, "conclusion", "调查结论")
    if accountability not in ACCOUNTABILITY:
        raise Invalid(
            "追责结果应为 无违规、已整改 或 已追责。",
            "Unknown accountability.",
            details={"field": "accountability"},
        )
    who = _clean(responsible, "responsible", "责任人或责任部门", required=accountability != "none", limit=200)
    alert.status = "closed"
    alert.conclusion = conclusion
    alert.accountability = accountability
    alert.responsible = who or None
    alert.closed_at = utcnow()
    alert.closed_by = actor.user_id
    tasks.close_tasks(db, subject_type="protection_alerts", subject_id=alert.id)
    _step(
        db,
        alert,
        actor,
        EventType.alert_closed,
        conclusion=conclusion[:500],
        accountability=accountability,
        responsible=alert.responsible,
    )
    return alert


def alert_dict(alert: Alert) -> dict[str, Any]:
    rule = RULES.get(alert.rule)
    return {
        "id": alert.id,
        "rule": alert.rule,
        "rule_label": rule.label if rule else alert.rule,
        "severity": alert.severity,
        "subject": alert.subject,
        "subject_name": alert.subject_name,
        "org_id": alert.org_id,
        "summary": alert.summary,
        "window_start": alert.window_start.isoformat(),
        "window_end": alert.window_end.isoformat(),
        "evidence_seqs": list(alert.evidence),
        "event_count": alert.event_count,
        "measure": alert.measure,
        "status": alert.status,
        "status_label": STATUS_LABELS[alert.status],
        "assignee_id": alert.assignee_id,
        "conclusion": alert.conclusion,
        "accountability": alert.accountability,
        "responsible": alert.responsible,
        "incident_id": alert.incident_id,
        "created_at": alert.created_at.isoformat(),
        "closed_at": alert.closed_at.isoformat() if alert.closed_at else None,
    }
