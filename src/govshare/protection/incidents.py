"""Security incidents (安全事件, S12): a record with severity, description, linked alerts and the
affected departments, and a timeline to which every note and action is appended with its time and
person. Closing an incident needs a conclusion; containment actions (`containment`) stay in force
after closing until the Bureau lifts them.

Incidents are the Bureau's: `protection.incident_view` and `protection.incident_manage` are held
city-wide by Bureau roles only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, get_visible, register_view_action, require
from govshare.db import utcnow
from govshare.errors import Conflict, Invalid, NotFound
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams, paginate
from govshare.protection.alerts import get_alert
from govshare.protection.models import Alert, Containment, Incident, TimelineEntry

register_view_action(Incident, Action.incident_view)

SEVERITY_LABELS = {"general": "一般", "larger": "较大", "major": "重大", "critical": "特别重大"}
STATUS_LABELS = {"open": "处置中", "closed": "已办结"}
TIMELINE_LABELS = {
    "created": "登记事件",
    "note": "处置记录",
    "alert_linked": "关联告警",
    "contained": "采取措施",
    "lifted": "撤销措施",
    "closed": "办结事件",
}


@dataclass(frozen=True)
class IncidentIn:
    title: str
    severity: str
    description: str
    alert_ids: list[int]
    affected_org_ids: list[int]


def _text(value: str | None, field: str, label: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise Invalid(f"请填写{label}。", f"{field} is required.", details={"field": field})
    if len(text) > limit:
        raise Invalid(f"{label}不能超过 {limit} 个字。", f"{field} is too long.", details={"field": field})
    return text


def get_incident(db: Session, *, actor: Actor, incident_id: int) -> Incident:
    return get_visible(db, Incident, incident_id, actor=actor, label="安全事件")


def list_incidents(
    db: Session, *, actor: Actor, params: PageParams, status: str | None = None
) -> tuple[list[Incident], int]:
    require(actor, Action.incident_view)
    stmt = select(Incident)
    if status:
        stmt = stmt.where(Incident.status == status)
    return paginate(db, stmt.order_by(Incident.id.desc()), params)


def timeline(db: Session, incident: Incident) -> list[TimelineEntry]:
    return list(
        db.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.incident_id == incident.id)
            .order_by(TimelineEntry.at, TimelineEntry.id)
        )
    )


def linked_alerts(db: Session, incident: Incident) -> list[Alert]:
    return list(db.scalars(select(Alert).where(Alert.incident_id == incident.id).order_by(Alert.id)))


def containments(db: Session, incident: Incident) -> list[Containment]:
    return list(
        db.scalars(select(Containment).where(Containment.incident_id == incident.id).order_by(Containment.id))
    )


def append(
    db: Session, incident: Incident, *, actor: Actor, kind: str, text: str, containment_id: int | None = None
) -> TimelineEntry:
    """Append one line to the incident's timeline (never edited afterwards)."""
    entry = TimelineEntry(
        incident_id=incident.id,
        at=utcnow(),
        actor_name=actor.name,
        kind=kind,
        text=text,
        containment_id=containment_id,
    )
    db.add(entry)
    db.flush()
    return entry


def _orgs(db: Session, ids: list[int]) -> list[int]:
    found = set(db.scalars(select(Organisation.id).where(Organisation.id.in_(ids)))) if ids else set()
    missing = sorted(set(ids) - found)
    if missing:
        raise Invalid(
            "受影响部门中有不存在的单位，请重新选择。",
            "Unknown organisation.",
            details={"field": "affected_org_ids", "missing": missing},
        )
    return sorted(found)


def _link(db: Session, *, actor: Actor, incident: Incident, alert_id: int) -> Alert:
    alert = get_alert(db, actor=actor, alert_id=alert_id)
    if alert.incident_id is not None and alert.incident_id != incident.id:
        raise Conflict(
            f"告警 #{alert.id} 已关联到安全事件 #{alert.incident_id}。",
            "The alert belongs to another incident.",
            details={"field": "alert_ids"},
        )
    if alert.incident_id == incident.id:
        return alert
    alert.incident_id = incident.id
    if alert.org_id is not None and alert.org_id not in incident.affected_org_ids:
        incident.affected_org_ids = sorted({*incident.affected_org_ids, alert.org_id})
    db.flush()
    append(
        db,
        incident,
        actor=actor,
        kind="alert_linked",
        text=f"关联告警 #{alert.id}：{alert.subject_name}，{alert.summary}",
    )
    audit.record(
        db,
        EventType.incident_alert_linked,
        actor=actor,
        obj=incident,
        details={"alert_id": alert.id, "rule": alert.rule, "alert_org_id": alert.org_id},
    )
    return alert


def create_incident(db: Session, *, actor: Actor, data: IncidentIn) -> Incident:
    """Record an incident, link the given alerts (each to one incident only) and start its timeline."""
    require(actor, Action.incident_manage)
    title = _text(data.title, "title", "事件名称", 200)
    description = _text(data.description, "description", "事件描述", 8000)
    if data.severity not in SEVERITY_LABELS:
        raise Invalid(
            "事件级别应为 一般、较大、重大 或 特别重大。", "Unknown severity.", details={"field": "severity"}
        )
    incident = Incident(
        title=title,
        severity=data.severity,
        description=description,
        affected_org_ids=_orgs(db, list(data.affected_org_ids)),
        status="open",
        created_by=actor.user_id,
        created_by_name=actor.name,
    )
    db.add(incident)
    db.flush()
    audit.record(
        db,
        EventType.incident_created,
        actor=actor,
        obj=incident,
        details={"title": title, "severity": data.severity, "affected_org_ids": incident.affected_org_ids},
    )
    append(
        db,
        incident,
        actor=actor,
        kind="created",
        text=f"登记事件（{SEVERITY_LABELS[data.severity]}）：{title}",
    )
    for alert_id in dict.fromkeys(data.alert_ids):
        _link(db, actor=actor, incident=incident, alert_id=alert_id)
    return incident


def _open(db: Session, *, actor: Actor, incident_id: int) -> Incident:
    incident = get_incident(db, actor=actor, incident_id=incident_id)
    require(actor, Action.incident_manage, incident)
    if incident.status != "open":
        raise Conflict("该安全事件已办结，不能再追加处置。", "The incident is closed.")
    return incident


def add_note(db: Session, *, actor: Actor, incident_id: int, text: str) -> TimelineEntry:
    incident = _open(db, actor=actor, incident_id=incident_id)
    note = _text(text, "text", "处置记录", 4000)
    entry = append(db, incident, actor=actor, kind="note", text=note)
    audit.record(db, EventType.incident_noted, actor=actor, obj=incident, details={"text": note[:500]})
    return entry


def link_alert(db: Session, *, actor: Actor, incident_id: int, alert_id: int) -> Alert:
    incident = _open(db, actor=actor, incident_id=incident_id)
    return _link(db, actor=actor, incident=incident, alert_id=alert_id)


def close_incident(db: Session, *, actor: Actor, incident_id: int, conclusion: str) -> Incident:
    """Close with a conclusion (required). Containments still in force stay so, and are named."""
    incident = _open(db, actor=actor, incident_id=incident_id)
    text = _text(conclusion, "conclusion", "处置结论", 8000)
    active = [c.id for c in containments(db, incident) if c.status == "active"]
    incident.status = "closed"
    incident.conclusion = text
    incident.closed_at = utcnow()
    incident.closed_by_name = actor.name
    db.flush()
    tail = f"（仍在执行的措施：{'、'.join(f'#{i}' for i in active)}）" if active else ""
    append(db, incident, actor=actor, kind="closed", text=f"办结：{text}{tail}")
    audit.record(
        db,
        EventType.incident_closed,
        actor=actor,
        obj=incident,
        details={"conclusion": text[:500], "containments_in_force": active},
    )
    return incident


def get_containment(db: Session, *, actor: Actor, incident: Incident, containment_id: int) -> Containment:
    found = db.get(Containment, containment_id)
    if found is None or found.incident_id != incident.id:
        raise NotFound("找不到该处置措施。", f"Containment #{containment_id} not found.")
    return found


def incident_dict(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "severity_label": SEVERITY_LABELS[incident.severity],
        "description": incident.description,
        "affected_org_ids": list(incident.affected_org_ids),
        "status": incident.status,
        "created_by": incident.created_by_name,
        "created_at": incident.created_at.isoformat(),
        "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
        "conclusion": incident.conclusion,
    }
