from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from govshare.orgs.models import OrgKind

CODE_PATTERN = r"^[a-z][a-z0-9_]{1,31}$"


class OrgCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(pattern=CODE_PATTERN, description="Short ASCII code, e.g. `police`.")
    name: str = Field(min_length=2, max_length=128)
    short_name: str = Field(min_length=1, max_length=32)
    kind: OrgKind
    credit_code: str = Field(min_length=18, max_length=18)
    contact_phone: str | None = Field(None, max_length=32)


class OrgUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(description="The version the edit is based on; a stale version conflicts.")
    name: str | None = Field(None, min_length=2, max_length=128)
    short_name: str | None = Field(None, min_length=1, max_length=32)
    credit_code: str | None = Field(None, min_length=18, max_length=18)
    contact_phone: str | None = Field(None, max_length=32)
    is_active: bool | None = None


class OrgOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    short_name: str
    kind: OrgKind
    kind_label: str
    credit_code: str
    credit_code_checked: bool
    contact_phone: str | None
    is_active: bool
    created_at: datetime
    version: int
