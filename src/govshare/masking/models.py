"""The Bureau's masking profiles (脱敏方案). Grants name a profile by its code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class MaskingProfile(Base):
    """One profile: `levels` is `{L1|L2|L3: {kind: rule}}` with every kind of
    `profiles.KINDS`, `elements` is `{element code: rule}`; a rule is its text (`as_is`, `name`,
    `keep(1,1)` …, see `govshare.masking.rules`). Built-in profiles (seeded by the migration) can be
    edited but not renamed away from their code; no profile is deleted, because grants and audit
    records refer to them by code. Each save bumps `version` (optimistic locking) and is audited
    with the content before and after.
    """

    __tablename__ = "masking_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(1000), default="")
    builtin: Mapped[bool] = mapped_column(default=False)
    levels: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON)
    elements: Mapped[dict[str, str]] = mapped_column(JSON)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
