from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    scope: Literal["full", "database"] = "full"
    every_hours: int = Field(24, ge=1, le=24 * 31)
    keep_days: int = Field(30, ge=1, le=3650)
    keep_min: int = Field(3, ge=1, le=100)
    drill_every_days: int = Field(7, ge=1, le=366)


class PolicyOut(PolicyIn):
    model_config = ConfigDict(from_attributes=True)

    requested_at: datetime | None
    updated_at: datetime | None


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    status: str
    scope: str | None
    started_at: datetime
    finished_at: datetime | None
    actor: str
    file_name: str | None
    size_bytes: int | None
    sm3: str | None
    tables: int | None
    rows: int | None
    files: int | None
    seconds: float | None
    detail: str | None
    backup_id: int | None
    pruned_at: datetime | None
