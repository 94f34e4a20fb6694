from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from govshare.authz import Role

USERNAME_PATTERN = r"^[a-z][a-z0-9_.-]{2,63}$"


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(pattern=USERNAME_PATTERN, description="Lower-case login name.")
    display_name: str = Field(min_length=1, max_length=64)
    org_id: int
    phone: str | None = Field(None, max_length=32, pattern=r"^[0-9+\- ]{5,32}$")
    password: str = Field(min_length=1, max_length=128, description="Initial password; must meet the policy.")
    roles: list[Role] = Field(default_factory=list)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int
    display_name: str | None = Field(None, min_length=1, max_length=64)
    phone: str | None = Field(None, max_length=32, pattern=r"^[0-9+\- ]{5,32}$")


class RolesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[Role]


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=128)
    new_password: str = Field(max_length=128)


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_password: str = Field(max_length=128)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    org_id: int
    phone: str | None
    role_names: list[str]
    is_active: bool
    is_demo: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    version: int


class RegistrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    user_id: int
    role: Role = Field(description="`data_admin` or `security_officer`.")
    note: str | None = Field(None, max_length=2000)


class RegistrationDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    approve: bool
    comment: str | None = Field(None, max_length=2000)


class RegistrationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    user_id: int
    role: str
    status: str
    note: str | None
    submitted_at: datetime
    decided_at: datetime | None
    decision_comment: str | None
    supersedes_id: int | None
    ended_at: datetime | None
    end_reason: str | None


class OffboardRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    successor_id: int
    reason: str = Field(min_length=2, max_length=255)


class OffboardingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    successor_id: int
    performed_by: str
    performed_at: datetime
    reason: str
    report: dict[str, object]
