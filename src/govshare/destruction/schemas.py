"""The destruction API's bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RequestIn(BaseModel):
    """A destruction request. `keys`: one object per row, {business-key item: value}.
    `received_from` / `received_until` (the latter excluded) without a time zone are Beijing time."""

    model_config = ConfigDict(extra="forbid")

    resource_id: int = Field(ge=1)
    scope: Literal["resource", "batches", "keys", "time_range"]
    method: Literal["delete", "delete_shred"]
    reason: str = Field(max_length=2000)
    supervisor_id: int = Field(ge=1)
    batch_ids: list[str] | None = Field(None, max_length=1000)
    keys: list[dict[str, str]] | None = Field(None, max_length=10_000)
    received_from: datetime | None = None
    received_until: datetime | None = None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opinion: str = Field(max_length=2000)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)


class RequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    resource_id: int
    org_id: int
    scope: str
    batch_ids: list[str] | None
    row_keys: list[str] | None
    received_from: datetime | None
    received_until: datetime | None
    method: str
    reason: str
    supervisor_id: int
    requested_by: int
    requested_at: datetime
    status: str
    department_by: int | None
    department_at: datetime | None
    department_opinion: str | None
    bureau_by: int | None
    bureau_at: datetime | None
    bureau_opinion: str | None
    supervisor_at: datetime | None
    supervisor_opinion: str | None
    refused_by: int | None
    refused_at: datetime | None
    refused_stage: str | None
    refusal_reason: str | None
    executed_at: datetime | None
    rows_removed: int | None
    quarantined_removed: int | None
    files_removed: int | None
    keys_destroyed: int | None
    evidence_sm3: str | None


class CertificateOut(BaseModel):
    """The destruction certificate (销毁证明): who, when, what, and the evidence."""

    request_id: int
    resource: dict[str, Any]
    department: str
    scope: dict[str, Any]
    scope_label: str
    method: str
    method_label: str
    reason: str
    requested: dict[str, Any]
    department_approval: dict[str, Any]
    bureau_approval: dict[str, Any]
    supervision: dict[str, Any]
    executed_at: datetime
    rows_removed: int
    quarantined_removed: int
    files_removed: int
    keys_destroyed: int
    evidence: dict[str, Any]
    evidence_sm3: str
