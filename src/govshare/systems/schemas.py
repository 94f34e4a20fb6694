from __future__ import annotations

import ipaddress
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _normalise_cidrs(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("至少填写一个允许接入的地址段（CIDR），例如 10.12.0.0/16")
    out = []
    for item in value:
        try:
            out.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError as exc:
            raise ValueError(f"“{item}”不是有效的 IP 地址段（CIDR）") from exc
    return sorted(set(out))


class SystemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    org_id: int
    code: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,63}$")
    name: str = Field(min_length=2, max_length=128)
    description: str | None = Field(None, max_length=2000)
    contact_user_id: int | None = None
    allowed_cidrs: list[str] = Field(max_length=64)
    token_days: int | None = Field(None, ge=1, le=730)

    _cidrs = field_validator("allowed_cidrs")(_normalise_cidrs)


class SystemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int
    name: str | None = Field(None, min_length=2, max_length=128)
    description: str | None = Field(None, max_length=2000)
    contact_user_id: int | None = None
    allowed_cidrs: list[str] | None = Field(None, max_length=64)
    is_active: bool | None = None

    @field_validator("allowed_cidrs")
    @classmethod
    def _check(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _normalise_cidrs(value)


class TokenRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int | None = Field(None, ge=1, le=730)
    revoke_existing: bool = Field(True, description="Revoke the system's other active tokens at once.")


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    prefix: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None


class IssuedToken(BaseModel):
    token: str = Field(description="Shown only in this response; store it in the business system now.")
    token_id: int
    expires_at: datetime


class SystemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    code: str
    name: str
    description: str | None
    contact_user_id: int | None
    allowed_cidrs: list[str]
    is_active: bool
    created_at: datetime
    version: int


class SystemCreated(BaseModel):
    system: SystemOut
    token: IssuedToken
