"""The rectification API's bodies and answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ViolationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    kind: str
    rule: str
    summary: str
    evidence: list[dict[str, Any]]
    source: str
    status: str
    detected_at: datetime
    last_seen_at: datetime
    notice_id: int | None
    resolved_at: datetime | None
    resolution: str | None
    version: int


class ViolationIn(BaseModel):
    """An "other" violation (M24(6)) entered by the Bureau; `evidence`: one reference per line."""

    model_config = ConfigDict(extra="forbid")

    org_id: int = Field(ge=1)
    summary: str = Field(max_length=2000)
    evidence: str | None = Field(None, max_length=20_000)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)
    version: int | None = Field(None, description="The version read; a newer one answers 409.")


class OpinionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opinion: str = Field(max_length=2000)
    version: int | None = Field(None, description="The version read; a newer one answers 409.")


class DetectionOut(BaseModel):
    raised: int
    extended: int
    resolved: int


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    violation_ids: list[int] = Field(min_length=1, max_length=200)
    requirement: str = Field(max_length=10_000)
    working_days: int | None = Field(None, ge=1, le=60, description="Default: the setting.")


class NoticeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    org_id: int
    requirement: str
    issued_by: int | None
    issued_at: datetime
    issued_on: date
    working_days: int
    due_date: date
    due_provisional: bool
    status: str
    reported_at: datetime | None
    verified_at: datetime | None
    escalated_at: datetime | None
    version: int


class ReportIn(BaseModel):
    """A rectification report; the optional attachment travels base64-encoded."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=10_000)
    attachment_name: str | None = Field(None, max_length=200)
    attachment_base64: str | None = Field(None, max_length=15_000_000)
    version: int | None = Field(None, description="The notice's version read; a newer one answers 409.")


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    notice_id: int
    org_id: int
    text: str
    submitted_by: int | None
    submitted_at: datetime
    file_name: str | None
    file_type: str | None
    file_size: int | None
    file_sm3: str | None
    verdict: str | None
    decided_at: datetime | None
    decision_reason: str | None


class NoticeDetailOut(NoticeOut):
    violations: list[ViolationOut]
    reports: list[ReportOut]
    escalation_id: int | None


class EscalationOut(BaseModel):
    id: int
    number: str
    notice_id: int
    org_id: int
    checked_on: date
    generated_at: datetime
    content_sm3: str
    intact: bool


class SummaryOut(BaseModel):
    org_id: int
    name: str
    open_violations: int
    notices_open: int
    notices_overdue: int
    notices_escalated: int
    notices_verified: int
