"""Published public reports (公示报告): frozen once generated, archived unchanged (M23)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class PublicReport(Base):
    """One period's report: the figures as computed when it was generated, and the PDF and CSV made
    from them, each with its SM3. Nothing updates a row of this table."""

    __tablename__ = "public_reports"
    __table_args__ = (UniqueConstraint("kind", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # month | quarter
    period: Mapped[str] = mapped_column(String(8))  # 2026-10 | 2026-Q3
    title: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[date] = mapped_column()
    period_end: Mapped[date] = mapped_column()  # exclusive
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_sm3: Mapped[str] = mapped_column(String(64))
    csv: Mapped[bytes] = mapped_column(LargeBinary)
    csv_sm3: Mapped[str] = mapped_column(String(64))
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    generated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(8))  # job | manual | demo
