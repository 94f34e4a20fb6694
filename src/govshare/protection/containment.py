"""One-click containment of an incident, each reversible by the Bureau (S12):

- `suspend_system`: the business system is disabled, so every token of it is refused (401) until
  the suspension is lifted; its tokens are not revoked, so lifting restores them as they were.
- `freeze_grants`: every grant the department holds that is active now is suspended, and the ids
  are recorded; lifting resumes exactly those that are still suspended (a grant revoked or expired
  meanwhile stays so, and grants suspended for other reasons are not touched).
- `disable_person`: the account is disabled (no login, its sessions are refused) but not offboarded:
  roles, registrations and sessions stay, so lifting gives the person back exactly what they had.
  A person offboarded meanwhile is not re-enabled.

Each action and each lift is audited (with the domain's own event, e.g. `sharing.grant_changed`,
and `protection.containment_applied/lifted`) and appended to the incident's timeline. A target
whose department is not yet among the incident's affected departments is added to them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.db import utcnow
from govshare.errors import Conflict, Invalid, NotFound
from govshare.orgs.models import Organisation
from govshare.protection import incidents
from govshare.protection.models import Containment, Incident
from govshare.sharing import service as sharing
from govshare.sharing.models import Grant
from govshare.systems.models import BusinessSystem
from govshare.users.models import User

KIND_LABELS = {
    "suspend_system": "暂停业务系统",
    "freeze_grants": "冻结部门共享授权",
    "disable_person": "停用人员账号",
}


def _reason(value: str) -> str:
    text = (value or "").strip()
    if not text:
        raise Invalid("请填写采取措施的理由。", "reason is required.", details={"field": "reason"})
    if len(text) > 400:
        raise Invalid("理由不能超过 400 个字。", "reason is too long.", details={"field": "reason"})
    return text


def _suspend_system(
    db: Session, actor: Actor, incident: Incident, target_id: int
) -> tuple[str, int, dict[str, Any]]:
    system = db.get(BusinessSystem, target_id)
    if system is None:
        raise NotFound("找不到该业务系统。", "System not found.", details={"field": "target_id"})
    if not system.is_active:
        raise Conflict("该业务系统已停用，无需暂停。", "The system is already disabled.")
    system.is_active = False
    db.flush()
    audit.record(
        db,
        EventType.system_disabled,
        actor=actor,
        obj=system,
        org_id=system.org_id,
        details={"before": {"is_active": True}, "after": {"is_active": False}, "incident_id": incident.id},
    )
    return f"{system.code}（{system.name}）", system.org_id, {"is_active": True}


def _freeze_grants(
    db: Session, actor: Actor, incident: Incident, target_id: int
) -> tuple[str, int, dict[str, Any]]:
    org = db.get(Organisation, target_id)
    if org is None:
        raise NotFound("找不到该部门。", "Organisation not found.", details={"field": "target_id"})
    ids = list(
        db.scalars(
            select(Grant.id).where(Grant.org_id == org.id, Grant.status == "active").order_by(Grant.id)
        )
    )
    if not ids:
        raise Conflict(f"{org.short_name}当前没有有效的共享授权，无需冻结。", "No active grants to freeze.")
    for grant_id in ids:
        sharing.change_grant(
            db,
            actor=actor,
            grant_id=grant_id,
            change="suspend",
            reason=f"安全事件 #{incident.id} 处置：冻结{org.short_name}的共享授权",
        )
    return f"{org.name}的 {len(ids)} 项共享授权", org.id, {"grant_ids": ids}


def _disable_person(
    db: Session, actor: Actor, incident: Incident, target_id: int
) -> tuple[str, int, dict[str, Any]]:
    user = db.get(User, target_id)
    if user is None:
        raise NotFound("找不到该人员。", "Person not found.", details={"field": "target_id"})
    if user.id == actor.user_id:
        raise Invalid("不能停用自己的账号。", "You cannot disable yourself.", details={"field": "target_id"})
    if not user.is_active:
        raise Conflict("该人员账号已停用，无需再停用。", "The person is already disabled.")
    user.is_active = False
    db.flush()
    audit.record(
        db,
        EventType.user_updated,
        actor=actor,
        obj=user,
        org_id=user.org_id,
        details={"before": {"is_active": True}, "after": {"is_active": False}, "incident_id": incident.id},
    )
    return f"{user.display_name}（{user.username}）", user.org_id, {"is_active": True}


APPLY = {
    "suspend_system": _suspend_system,
    "freeze_grants": _freeze_grants,
    "disable_person": _disable_person,
}


def apply(
    db: Session, *, actor: Actor, incident_id: int, kind: str, target_id: int, reason: str
) -> Containment:
    """Take one containment action for an open incident; raises Invalid for an unknown kind or a
    missing reason, NotFound for an unknown target and Conflict when there is nothing to contain."""
    incident = incidents.get_incident(db, actor=actor, incident_id=incident_id)
    require(actor, Action.incident_manage, incident)
    if incident.status != "open":
        raise Conflict("该安全事件已办结，不能再采取措施。", "The incident is closed.")
    action = APPLY.get(kind)
    if action is None:
        raise Invalid("请选择处置措施。", "Unknown containment kind.", details={"field": "kind"})
    why = _reason(reason)
    label, org_id, previous = action(db, actor, incident, target_id)
    containment = Containment(
        incident_id=incident.id,
        kind=kind,
        target_id=target_id,
        target_label=label[:200],
        org_id=org_id,
        previous=previous,
        reason=why,
        status="active",
        applied_by=actor.name,
        applied_at=utcnow(),
    )
    db.add(containment)
    if org_id not in incident.affected_org_ids:
        incident.affected_org_ids = sorted({*incident.affected_org_ids, org_id})
    db.flush()
    incidents.append(
        db,
        incident,
        actor=actor,
        kind="contained",
        text=f"{KIND_LABELS[kind]}：{label}。理由：{why}",
        containment_id=containment.id,
    )
    audit.record(
        db,
        EventType.containment_applied,
        actor=actor,
        obj=containment,
        org_id=org_id,
        details={"incident_id": incident.id, "kind": kind, "target_id": target_id, "previous": previous},
    )
    return containment


def _restore_system(db: Session, actor: Actor, c: Containment) -> str:
    system = db.get(BusinessSystem, c.target_id)
    assert system is not None  # systems are never deleted
    if system.is_active:
        return "该业务系统已被重新启用，无需恢复"
    system.is_active = bool(c.previous["is_active"])
    db.flush()
    audit.record(
        db,
        EventType.system_updated,
        actor=actor,
        obj=system,
        org_id=system.org_id,
        details={
            "before": {"is_active": False},
            "after": {"is_active": system.is_active},
            "containment_id": c.id,
        },
    )
    return "已恢复启用"


def _restore_grants(db: Session, actor: Actor, c: Containment) -> str:
    resumed, kept = [], []
    for grant_id in c.previous["grant_ids"]:
        grant = db.get(Grant, grant_id)
        if grant is None or grant.status != "suspended":
            kept.append(f"#{grant_id}（{sharing.GRANT_LABELS.get(grant.status, '') if grant else '不存在'}）")
            continue
        sharing.change_grant(
            db,
            actor=actor,
            grant_id=grant_id,
            change="resume",
            reason=f"撤销安全事件 #{c.incident_id} 的冻结措施",
        )
        resumed.append(f"#{grant_id}")
    text = f"已恢复授权 {'、'.join(resumed) or '无'}"
    return text + (f"；未恢复（状态已变化）：{'、'.join(kept)}" if kept else "")


def _restore_person(db: Session, actor: Actor, c: Containment) -> str:
    user = db.get(User, c.target_id)
    assert user is not None  # people are never deleted
    if user.deactivated_at is not None:
        return "该人员已办理离任，账号保持停用"
    if user.is_active:
        return "该人员账号已被重新启用，无需恢复"
    user.is_active = bool(c.previous["is_active"])
    db.flush()
    audit.record(
        db,
        EventType.user_updated,
        actor=actor,
        obj=user,
        org_id=user.org_id,
        details={
            "before": {"is_active": False},
            "after": {"is_active": user.is_active},
            "containment_id": c.id,
        },
    )
    return "已恢复启用"


RESTORE = {
    "suspend_system": _restore_system,
    "freeze_grants": _restore_grants,
    "disable_person": _restore_person,
}


def lift(db: Session, *, actor: Actor, incident_id: int, containment_id: int, note: str = "") -> Containment:
    """Undo a containment action: restore the state it recorded (see the module docstring). Allowed
    after the incident is closed too."""
    incident = incidents.get_incident(db, actor=actor, incident_id=incident_id)
    require(actor, Action.incident_manage, incident)
    containment = incidents.get_containment(db, actor=actor, incident=incident, containment_id=containment_id)
    if containment.status != "active":
        raise Conflict("该措施已撤销。", "The containment was already lifted.")
    outcome = RESTORE[containment.kind](db, actor, containment)
    extra = (note or "").strip()[:400]
    containment.status = "lifted"
    containment.lifted_by = actor.name
    containment.lifted_at = utcnow()
    containment.lift_note = outcome + (f"。说明：{extra}" if extra else "")
    db.flush()
    incidents.append(
        db,
        incident,
        actor=actor,
        kind="lifted",
        text=(
            f"撤销措施 #{containment.id}（{KIND_LABELS[containment.kind]}：{containment.target_label}）："
            f"{containment.lift_note}"
        ),
        containment_id=containment.id,
    )
    audit.record(
        db,
        EventType.containment_lifted,
        actor=actor,
        obj=containment,
        org_id=containment.org_id,
        details={"incident_id": incident.id, "kind": containment.kind, "outcome": outcome},
    )
    return containment


def containment_dict(c: Containment) -> dict[str, Any]:
    return {
        "id": c.id,
        "incident_id": c.incident_id,
        "kind": c.kind,
        "kind_label": KIND_LABELS[c.kind],
        "target_id": c.target_id,
        "target_label": c.target_label,
        "org_id": c.org_id,
        "previous": c.previous,
        "reason": c.reason,
        "status": c.status,
        "applied_by": c.applied_by,
        "applied_at": c.applied_at.isoformat(),
        "lifted_by": c.lifted_by,
        "lifted_at": c.lifted_at.isoformat() if c.lifted_at else None,
        "lift_note": c.lift_note,
    }
