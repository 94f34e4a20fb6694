"""Violations, rectification notices, the departments' reports and escalations (M24)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class Violation(Base):
    """One M24 situation of one department, detected or entered by the Bureau, with its evidence.

    `evidence`: [{"type", "id", "label", "link"}] — the records behind it (the page links them).
    """

    __tablename__ = "rect_violations"
    __table_args__ = (
        Index("ix_rect_violations_org", "org_id", "status"),
        # One unresolved violation per problem: the detector extends it rather than raising it again.
        Index(
            "uq_rect_violations_open_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # catalog | timeliness | quality | purpose | sensitive | other (M24 items 1–6)
    kind: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200), index=True)
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(16))  # detected | manual
    # open | noticed (on a notice) | resolved | dismissed
    status: Mapped[str] = mapped_column(String(16), default="open")
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("rect_notices.id"), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class RectificationNotice(Base):
    """A rectification notice (整改通知) to one department about one or more of its violations."""

    __tablename__ = "rect_notices"
    __table_args__ = (
        UniqueConstraint("year", "seq"),
        Index("ix_rect_notices_org", "org_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column()
    seq: Mapped[int] = mapped_column()
    number: Mapped[str] = mapped_column(String(40), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    requirement: Mapped[str] = mapped_column(Text)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_on: Mapped[date] = mapped_column(Date)  # Beijing date: day 0 of the working-day count
    working_days: Mapped[int] = mapped_column()
    due_date: Mapped[date] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(default=False)
    # issued (awaiting a report) | reported (awaiting verification) | returned (report rejected) |
    # verified | escalated (past its deadline without a report)
    status: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[datetime | None] = mapped_column()
    verified_at: Mapped[datetime | None] = mapped_column()
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalated_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class RectificationReport(Base):
    """A department's rectification report (整改报告) on a notice, and the Bureau's verdict on it."""

    __tablename__ = "rect_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("rect_notices.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    text: Mapped[str] = mapped_column(Text)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The attachment lives in the row: it is small (a setting caps it) and then commits or rolls back
    # with the report itself.
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_type: Mapped[str | None] = mapped_column(String(100))
    file_size: Mapped[int | None] = mapped_column()
    file_sm3: Mapped[str | None] = mapped_column(String(64))
    file_content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    verdict: Mapped[str | None] = mapped_column(String(16))  # verified | rejected
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_reason: Mapped[str | None] = mapped_column(Text)


class Escalation(Base):
    """A report to the city government (上报市政府) about a notice not rectified in time: the document
    is rendered once and stored with its SM3 digest; it is never re-rendered."""

    __tablename__ = "rect_escalations"
    __table_args__ = (UniqueConstraint("year", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column()
    seq: Mapped[int] = mapped_column()
    number: Mapped[str] = mapped_column(String(40), unique=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("rect_notices.id"), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    checked_on: Mapped[date] = mapped_column(Date)  # the day the sweep found the notice overdue
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    content: Mapped[str] = mapped_column(Text)  # the document's HTML, frozen
    content_sm3: Mapped[str] = mapped_column(String(64))
