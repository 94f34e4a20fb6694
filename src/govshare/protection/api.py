"""Alerts, detection rules and incidents over the JSON API (`/api/v1/protection/...`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy.orm import Session

from govshare.authz import Actor
from govshare.pagination import Page, PageParams, page_of
from govshare.protection import alerts, containment, detection, incidents, rules
from govshare.protection.models import Incident
from govshare.protection.schemas import (
    AlertDetail,
    AlertOut,
    AssignIn,
    CloseAlertIn,
    CloseIncidentIn,
    ContainIn,
    ContainmentOut,
    EvidenceOut,
    IncidentCreate,
    IncidentDetail,
    IncidentOut,
    LiftIn,
    LinkIn,
    NoteIn,
    ParamOut,
    RuleIn,
    RuleOut,
    ScanOut,
    TimelineOut,
)
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1/protection", tags=["protection"])


@router.get("/alerts", response_model=Page[AlertOut])
def list_alerts(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    status: Annotated[str | None, Query(max_length=16)] = None,
    rule: Annotated[str | None, Query(max_length=40)] = None,
    org_id: int | None = None,
    since: datetime | None = None,
) -> Page[AlertOut]:
    """Alerts the caller may see (a department's security officer: their department's), newest first."""
    where = alerts.AlertFilter(status=status, rule=rule, org_id=org_id, since=since)
    found, total = alerts.list_alerts(db, actor=actor, params=params, where=where)
    return page_of(AlertOut, found, total, params)


def _detail(db: Session, actor: Actor, alert_id: int) -> AlertDetail:
    alert = alerts.get_alert(db, actor=actor, alert_id=alert_id)
    events = alerts.evidence(db, actor=actor, alert=alert)
    return AlertDetail(
        alert=AlertOut.model_validate(alert), evidence_events=[EvidenceOut.model_validate(e) for e in events]
    )


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: int, actor: CurrentActor, db: DB) -> AlertDetail:
    return _detail(db, actor, alert_id)


@router.post("/alerts/{alert_id}/assign", response_model=AlertOut)
def assign_alert(alert_id: int, data: AssignIn, actor: CurrentActor, db: DB) -> AlertOut:
    return AlertOut.model_validate(
        alerts.assign(db, actor=actor, alert_id=alert_id, assignee_id=data.assignee_id)
    )


@router.post("/alerts/{alert_id}/investigate", response_model=AlertOut)
def investigate_alert(alert_id: int, actor: CurrentActor, db: DB) -> AlertOut:
    return AlertOut.model_validate(alerts.investigate(db, actor=actor, alert_id=alert_id))


@router.post("/alerts/{alert_id}/close", response_model=AlertOut)
def close_alert(alert_id: int, data: CloseAlertIn, actor: CurrentActor, db: DB) -> AlertOut:
    alert = alerts.close(
        db,
        actor=actor,
        alert_id=alert_id,
        conclusion=data.conclusion,
        accountability=data.accountability,
        responsible=data.responsible,
    )
    return AlertOut.model_validate(alert)


def rule_out(rule: rules.Effective) -> RuleOut:
    return RuleOut(
        code=rule.rule.code,
        label=rule.rule.label,
        description=rule.rule.description,
        severity=rule.rule.severity,
        enabled=rule.enabled,
        params=[
            ParamOut(
                name=p.name,
                label=p.label,
                value=rule.params[p.name],
                default=p.default,
                min=p.low,
                max=p.high,
            )
            for p in rule.rule.params
        ],
        version=rule.version,
        updated_by=rule.updated_by,
        updated_at=rule.updated_at,
    )


@router.get("/rules", response_model=list[RuleOut])
def list_rules(actor: CurrentActor, db: DB) -> list[RuleOut]:
    return [rule_out(r) for r in rules.list_rules(db, actor=actor)]


@router.put("/rules/{code}", response_model=RuleOut)
def put_rule(code: str, data: RuleIn, actor: CurrentActor, db: DB) -> RuleOut:
    """Set a rule's thresholds and whether it runs (Bureau); a stale `version` is refused (409)."""
    return rule_out(
        rules.update_rule(
            db, actor=actor, code=code, enabled=data.enabled, params=data.params, version=data.version
        )
    )


@router.post("/scan", response_model=ScanOut)
def scan_now(actor: CurrentActor, db: DB) -> ScanOut:
    """Scan the audit events written since the last scan now, as the five-minute job does."""
    result = detection.run_scan(db, actor=actor)
    return ScanOut(
        events=result.events, raised=result.raised, extended=result.extended, last_seq=result.last_seq
    )


@router.get("/incidents", response_model=Page[IncidentOut])
def list_incidents(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> Page[IncidentOut]:
    found, total = incidents.list_incidents(db, actor=actor, params=params, status=status)
    return page_of(IncidentOut, found, total, params)


def incident_detail(db: Session, incident: Incident) -> IncidentDetail:
    return IncidentDetail(
        incident=IncidentOut.model_validate(incident),
        alerts=[AlertOut.model_validate(a) for a in incidents.linked_alerts(db, incident)],
        containments=[ContainmentOut.model_validate(c) for c in incidents.containments(db, incident)],
        timeline=[TimelineOut.model_validate(t) for t in incidents.timeline(db, incident)],
    )


@router.post("/incidents", response_model=IncidentDetail, status_code=status.HTTP_201_CREATED)
def create_incident(data: IncidentCreate, actor: CurrentActor, db: DB) -> IncidentDetail:
    incident = incidents.create_incident(
        db,
        actor=actor,
        data=incidents.IncidentIn(
            title=data.title,
            severity=data.severity,
            description=data.description,
            alert_ids=data.alert_ids,
            affected_org_ids=data.affected_org_ids,
        ),
    )
    return incident_detail(db, incident)


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def get_incident(incident_id: int, actor: CurrentActor, db: DB) -> IncidentDetail:
    return incident_detail(db, incidents.get_incident(db, actor=actor, incident_id=incident_id))


@router.post(
    "/incidents/{incident_id}/notes", response_model=TimelineOut, status_code=status.HTTP_201_CREATED
)
def add_note(incident_id: int, data: NoteIn, actor: CurrentActor, db: DB) -> TimelineOut:
    return TimelineOut.model_validate(
        incidents.add_note(db, actor=actor, incident_id=incident_id, text=data.text)
    )


@router.post("/incidents/{incident_id}/alerts", response_model=AlertOut)
def link_alert(incident_id: int, data: LinkIn, actor: CurrentActor, db: DB) -> AlertOut:
    return AlertOut.model_validate(
        incidents.link_alert(db, actor=actor, incident_id=incident_id, alert_id=data.alert_id)
    )


@router.post(
    "/incidents/{incident_id}/containments",
    response_model=ContainmentOut,
    status_code=status.HTTP_201_CREATED,
)
def contain(incident_id: int, data: ContainIn, actor: CurrentActor, db: DB) -> ContainmentOut:
    """Suspend a business system, freeze a department's grants or disable a person (reversible)."""
    done = containment.apply(
        db, actor=actor, incident_id=incident_id, kind=data.kind, target_id=data.target_id, reason=data.reason
    )
    return ContainmentOut.model_validate(done)


@router.post("/incidents/{incident_id}/containments/{containment_id}/lift", response_model=ContainmentOut)
def lift(incident_id: int, containment_id: int, data: LiftIn, actor: CurrentActor, db: DB) -> ContainmentOut:
    """Undo a containment action: restore exactly the state it replaced."""
    done = containment.lift(
        db, actor=actor, incident_id=incident_id, containment_id=containment_id, note=data.note
    )
    return ContainmentOut.model_validate(done)


@router.post("/incidents/{incident_id}/close", response_model=IncidentOut)
def close_incident(incident_id: int, data: CloseIncidentIn, actor: CurrentActor, db: DB) -> IncidentOut:
    return IncidentOut.model_validate(
        incidents.close_incident(db, actor=actor, incident_id=incident_id, conclusion=data.conclusion)
    )
