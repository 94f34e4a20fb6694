"""Security policies over the API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from govshare.policies.models import PolicyKind


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: PolicyKind
    title: str = Field(max_length=400)
    body: str = Field(max_length=40_000, description="The text, at most 20,000 characters once trimmed.")
    effective_on: date
    review_months: int = Field(description="Review interval in months, 1-36.")


class ReviseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(description="The version the revision is based on; a stale one conflicts (409).")
    title: str = Field(max_length=400)
    body: str = Field(max_length=40_000)
    effective_on: date
    review_months: int
    change_note: str = Field(max_length=4_000)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    note: str = Field("", max_length=4_000)


class RetireIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    reason: str = Field(max_length=4_000)


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    kind: str
    kind_label: str
    title: str
    body: str
    effective_on: date
    review_months: int
    next_review_on: date
    last_reviewed_on: date | None
    status: str
    status_label: str
    version: int
    retired_at: datetime | None
    retire_reason: str | None


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    title: str
    body: str
    effective_on: date
    review_months: int
    change_note: str
    created_by: int | None
    created_at: datetime
