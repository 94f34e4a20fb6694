from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: str
    must_change_password: bool


class MeOut(BaseModel):
    kind: str
    name: str
    user_id: int | None
    system_id: int | None
    org_id: int | None
    roles: list[str]
    permissions: list[str]
