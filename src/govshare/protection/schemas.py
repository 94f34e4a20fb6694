"""What the protection API takes and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_IN = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    rule: str
    severity: str
    subject: str = Field(description="user:<id> | system:<id> | org:<id> | ip:<address>")
    subject_name: str
    org_id: int | None
    summary: str
    window_start: datetime
    window_end: datetime
    evidence: list[int] = Field(description="Sequence numbers of the audit events (the first 1000).")
    event_count: int
    measure: int
    status: str = Field(description="open | assigned | investigating | closed")
    assignee_id: int | None
    conclusion: str | None
    accountability: str | None = Field(
        description="none (无违规) | rectified (已整改) | held_accountable (已追责)"
    )
    responsible: str | None
    incident_id: int | None
    created_at: datetime
    closed_at: datetime | None


class EvidenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: datetime
    event_type: str
    outcome: str
    actor_kind: str
    actor_name: str
    org_id: int | None
    object_type: str | None
    object_id: str | None
    source_ip: str | None
    details: str


class AlertDetail(BaseModel):
    alert: AlertOut
    evidence_events: list[EvidenceOut]


class AssignIn(BaseModel):
    model_config = _IN
    assignee_id: int


class CloseAlertIn(BaseModel):
    model_config = _IN
    conclusion: str = Field(min_length=1, max_length=4000)
    accountability: str = Field(description="none | rectified | held_accountable")
    responsible: str | None = Field(None, max_length=200, description="Required unless `none`.")


class ParamOut(BaseModel):
    name: str
    label: str
    value: int
    default: int
    min: int
    max: int


class RuleOut(BaseModel):
    code: str
    label: str
    description: str
    severity: str
    enabled: bool
    params: list[ParamOut]
    version: int | None = Field(description="None while the rule runs on its defaults.")
    updated_by: str | None
    updated_at: datetime | None


class RuleIn(BaseModel):
    model_config = _IN
    enabled: bool = True
    params: dict[str, int] = Field(default_factory=dict, max_length=10)
    version: int | None = Field(None, description="The version this edit is based on (None: defaults).")


class ScanOut(BaseModel):
    events: int
    raised: list[int]
    extended: list[int]
    last_seq: int


class IncidentCreate(BaseModel):
    model_config = _IN
    title: str = Field(min_length=1, max_length=200)
    severity: str = Field(description="general 一般 | larger 较大 | major 重大 | critical 特别重大")
    description: str = Field(min_length=1, max_length=8000)
    alert_ids: list[int] = Field(default_factory=list, max_length=200)
    affected_org_ids: list[int] = Field(default_factory=list, max_length=200)


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    severity: str
    description: str
    affected_org_ids: list[int]
    status: str = Field(description="open | closed")
    created_by_name: str
    created_at: datetime
    closed_at: datetime | None
    closed_by_name: str | None
    conclusion: str | None


class TimelineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor_name: str
    kind: str
    text: str
    containment_id: int | None


class ContainmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    target_id: int
    target_label: str
    org_id: int
    previous: dict[str, Any]
    reason: str
    status: str = Field(description="active | lifted")
    applied_by: str
    applied_at: datetime
    lifted_by: str | None
    lifted_at: datetime | None
    lift_note: str | None


class IncidentDetail(BaseModel):
    incident: IncidentOut
    alerts: list[AlertOut]
    containments: list[ContainmentOut]
    timeline: list[TimelineOut]


class NoteIn(BaseModel):
    model_config = _IN
    text: str = Field(min_length=1, max_length=4000)


class LinkIn(BaseModel):
    model_config = _IN
    alert_id: int


class ContainIn(BaseModel):
    model_config = _IN
    kind: str = Field(description="suspend_system | freeze_grants | disable_person")
    target_id: int = Field(description="The system, the department (organisation) or the person.")
    reason: str = Field(min_length=1, max_length=400)


class LiftIn(BaseModel):
    model_config = _IN
    note: str = Field("", max_length=400)


class CloseIncidentIn(BaseModel):
    model_config = _IN
    conclusion: str = Field(min_length=1, max_length=8000)
