"""Analysis queries, their releases and the derived datasets kept from them (S24)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class AnalysisQuery(Base):
    """One query as run (or refused): its SQL and purpose, the grants and sources it read (with the
    batches their rows came from), the result as checked (up to the result cap) and the checks."""

    __tablename__ = "analysis_queries"
    __table_args__ = (Index("ix_analysis_queries_org", "org_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    sql: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(200))
    # accepted | refused
    status: Mapped[str] = mapped_column(String(16))
    refusal: Mapped[str | None] = mapped_column(Text)
    # [{"resource_id", "table", "name", "grant_id", "level", "rows", "batches": [...], "last_batch"}]
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Per output column: {"count": bool} and whether the result is an aggregate (see risk.Shape).
    shape: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rows: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)
    row_count: Mapped[int] = mapped_column(default=0)
    truncated: Mapped[bool] = mapped_column(default=False)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    releasable: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnalysisRelease(Base):
    """A checked result leaving the analysis: as a CSV export or as a derived dataset."""

    __tablename__ = "analysis_releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("analysis_queries.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    released_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # csv | derived
    sm3: Mapped[str] = mapped_column(String(64))


class DerivedDataset(Base):
    """A released result kept by the department with its lineage. Never shared outside it."""

    __tablename__ = "derived_datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    query_id: Mapped[int] = mapped_column(ForeignKey("analysis_queries.id"))
    release_id: Mapped[int] = mapped_column(ForeignKey("analysis_releases.id"))
    # The highest sensitivity (L1–L3) among the source items the query read.
    level: Mapped[str] = mapped_column(String(8))
    # {"sql", "purpose", "sources": [...], "checks": [...]}: where every figure came from.
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON)
    columns: Mapped[list[str]] = mapped_column(JSON)
    rows: Mapped[list[list[Any]]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
