"""What the masking API takes and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from govshare.catalog.schemas import Item

CODE_PATTERN = r"^[a-z][a-z0-9_\-]{1,31}$"
MAX_PREVIEW_ROWS = 100


class ProfileIn(BaseModel):
    """A profile as the Bureau writes it (PUT creates it, or replaces its content)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=64, description="Chinese name, e.g. 标准脱敏.")
    description: str = Field("", max_length=1000)
    levels: dict[str, dict[str, str]] = Field(
        description="`{L1|L2|L3: {kind: rule}}`, every kind at every level; a rule is `as_is` or a "
        "masking rule (`name`, `keep(1,1)`, `region(4)`, `pseudonym` …)."
    )
    elements: dict[str, str] = Field(
        default_factory=dict,
        max_length=200,
        description="`{standard data element code: rule}`, winning over the levels at every level.",
    )
    version: int | None = Field(
        None, description="The version this edit is based on; a stale one is refused (409)."
    )


class ProfileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    description: str
    builtin: bool
    levels: dict[str, dict[str, str]]
    elements: dict[str, str]
    version: int
    updated_at: datetime


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: str | None = Field(None, max_length=32, description="Profile code; null is the default profile.")
    items: list[Item] = Field(min_length=1, max_length=200)
    rows: list[dict[str, Any]] = Field(max_length=MAX_PREVIEW_ROWS)


class PreviewOut(BaseModel):
    profile: str
    rules: dict[str, str] = Field(description="What each item's consumer gets, in Chinese.")
    dropped: list[str] = Field(description="L4 items: never delivered.")
    rows: list[dict[str, Any]]
