"""The Bureau's classification and grading scheme (分类分级方案, S13)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class ClassificationLevel(Base):
    """One level of one dimension (`importance`: general/important/core; `sensitivity`: L1–L4) and
    the controls it requires. The set of levels is fixed (GB/T 43697 × L1–L4, the values catalog
    items carry); their names, descriptions and controls are the Bureau's to edit."""

    __tablename__ = "classification_levels"
    __table_args__ = (UniqueConstraint("dimension", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column()
    label: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(500), default="")
    # The controls (see `scheme.CONTROLS`).
    shareable: Mapped[bool] = mapped_column(default=True)
    unconditional: Mapped[bool] = mapped_column(default=True)
    masking: Mapped[bool] = mapped_column(default=False)
    exportable: Mapped[bool] = mapped_column(default=True)
    openable: Mapped[bool] = mapped_column(default=True)
    encrypted: Mapped[bool] = mapped_column(default=False)
    restricted: Mapped[bool] = mapped_column(default=False)
    max_grant_days: Mapped[int | None] = mapped_column()
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
