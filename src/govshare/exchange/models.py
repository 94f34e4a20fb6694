"""Batches (the manifest of each delivery of data) and the rows they quarantined."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class Batch(Base):
    """One delivery of rows into a 库表 resource: who sent what, how it was applied, its quality."""

    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("resource_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    version_number: Mapped[int] = mapped_column()
    system_id: Mapped[int | None] = mapped_column(ForeignKey("business_systems.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(16))  # push | cli | sync | demo
    mode: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(16))
    encoding: Mapped[str | None] = mapped_column(String(16))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    content_sm3: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column()
    rows_received: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    quarantined: Mapped[int] = mapped_column(default=0)
    inserted: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    retired: Mapped[int] = mapped_column(default=0)
    quality_score: Mapped[float] = mapped_column(default=100.0)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()

    @property
    def status(self) -> str:
        """A stored batch was applied: a refused one rolls back with everything it wrote."""
        return "applied"


class QuarantinedRow(Base):
    """A row that failed the quality rules: kept with its reasons, never silently dropped (S15)."""

    __tablename__ = "quarantined_rows"
    __table_args__ = (Index("ix_quarantined_rows_batch", "batch_id", "line_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    line_no: Mapped[int] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resubmitted | dismissed
    resolved_batch_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QualityRule(Base):
    """A rule the provider adds to an item beyond what the catalog implies (S15): a pattern, a list of
    allowed values, a range or a length."""

    __tablename__ = "quality_rules"
    __org_column__ = "org_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    item_name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # regex | enum | range | length
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResourceFile(Base):
    """One version of the file behind a 文件 resource, stored by content (SM3) under the data dir."""

    __tablename__ = "resource_files"
    __table_args__ = (UniqueConstraint("resource_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    number: Mapped[int] = mapped_column()
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column()
    sm3: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(String(500))
    system_id: Mapped[int | None] = mapped_column(ForeignKey("business_systems.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
