"""API shapes of the classification scheme and the data-asset register."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from govshare.catalog.schemas import OrgRef


class LevelIn(BaseModel):
    """The Bureau's edit of one level: its name, description and controls."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: str = Field(min_length=2, max_length=32)
    description: str = Field("", max_length=500)
    shareable: bool
    unconditional: bool
    masking: bool
    exportable: bool
    openable: bool
    encrypted: bool
    restricted: bool
    max_grant_days: int | None = Field(None, ge=1, le=3 * 366, description="Longest grant; null: no cap.")
    version: int | None = Field(None, description="The level's `version` the edit is based on.")


class LevelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    dimension: Literal["importance", "sensitivity"]
    code: str
    rank: int
    label: str
    description: str
    shareable: bool
    unconditional: bool
    masking: bool
    exportable: bool
    openable: bool
    encrypted: bool
    restricted: bool
    max_grant_days: int | None
    version: int
    updated_at: datetime


class AssetOut(BaseModel):
    """One line of the data-asset register (数据资产登记)."""

    resource_id: int
    code: str
    name: str
    owner: OrgRef
    importance: str
    importance_label: str
    sensitivity: str
    sensitivity_label: str
    encryption_required: bool = Field(
        description="The resource's level requires encryption at rest (须加密存储)."
    )
    location: str
    location_label: str
    lifecycle: str
    lifecycle_label: str
    rows: int | None = Field(description="Rows in the platform store (table resources), else null.")
    last_update: datetime | None = Field(description="Last data received, else last catalog change.")
