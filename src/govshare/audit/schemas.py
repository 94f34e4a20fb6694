from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: datetime
    event_type: str
    outcome: str
    actor_kind: str
    actor_id: int | None
    actor_name: str
    org_id: int | None
    object_type: str | None
    object_id: str | None
    source_ip: str | None
    details: dict[str, Any]
    hash: str

    @field_validator("details", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class VerifyOut(BaseModel):
    ok: bool
    events: int
    checkpoints: int
    checkpoints_verified: int
    last_seq: int
    last_hash: str
    pending: int  # written by data calls, not yet chained (the audit inbox)
    first_broken: dict[str, Any] | None
    problems: list[dict[str, Any]]
