"""Batches (the manifest of each delivery of data) and the rows they quarantined; provider quality
rules; file versions; front-end database sync sources and their runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
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
    sync_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id"), index=True)

    @property
    def status(self) -> str:
        """A stored batch was applied: a refused one rolls back with everything it wrote."""
        return "applied"


class QuarantinedRow(Base):
    """A row that failed the quality rules: kept with its reasons, never silently dropped (S15)."""

    __tablename__ = "quarantined_rows"
    __table_args__ = (
        Index("ix_quarantined_rows_batch", "batch_id", "line_no"),
        Index("ix_quarantined_rows_key", "resource_id", "row_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    line_no: Mapped[int] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resubmitted | dismissed
    resolved_batch_id: Mapped[str | None] = mapped_column(String(36))
    # The row's business key (as the store's `_key`) when its key values were valid: a later batch
    # that has the key accepted resolves it (resubmitted).
    row_key: Mapped[str | None] = mapped_column(String(64))
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
    kind: Mapped[str] = mapped_column(String(16))  # regex | enum | range | length | unique
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


class SyncSource(Base):
    """A department's front-end exchange database (前置库, M13, S16) feeding one 库表 resource.

    The URL, with its password, is stored sealed with SM4-GCM (`url_sealed`, see `govshare.sealing`);
    `url_display` is the same URL with the password masked. Rows come from `table_name` or from
    `query` (one SELECT), columns through `column_map` {item name: source column}; with a
    `watermark_column` each run reads only rows above the committed `watermark`, page by page.
    """

    __tablename__ = "sync_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("business_systems.id"))
    dialect: Mapped[str] = mapped_column(String(16))  # postgresql | mysql | sqlite
    url_display: Mapped[str] = mapped_column(String(500))
    url_sealed: Mapped[str] = mapped_column(Text)
    table_name: Mapped[str | None] = mapped_column(String(128))
    query: Mapped[str | None] = mapped_column(Text)
    column_map: Mapped[dict[str, str]] = mapped_column(JSON)
    watermark_column: Mapped[str | None] = mapped_column(String(128))
    # {"type": "int" | "decimal" | "float" | "date" | "datetime" | "str", "value": "..."}
    watermark: Mapped[dict[str, str] | None] = mapped_column(JSON)
    schedule: Mapped[str] = mapped_column(String(16), default="cycle")  # cycle | manual
    enabled: Mapped[bool] = mapped_column(default=True)
    next_run_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class SyncRun(Base):
    """One run of a sync: who or what started it, how far the watermark moved, what it delivered."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_source", "source_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sync_sources.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    trigger: Mapped[str] = mapped_column(String(16))  # manual | schedule | cli
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | succeeded | failed
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    pages: Mapped[int] = mapped_column(default=0)
    rows_read: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    quarantined: Mapped[int] = mapped_column(default=0)
    watermark_from: Mapped[dict[str, str] | None] = mapped_column(JSON)
    watermark_to: Mapped[dict[str, str] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
