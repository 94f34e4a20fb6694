"""Open-data tables: the public's applications (M8), the per-address rate counters and the Bureau's
open-data settings."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class ApplicantType(StrEnum):
    person = "person"
    enterprise = "enterprise"
    unit = "unit"

    @property
    def label(self) -> str:
        return APPLICANT_LABELS[self]


APPLICANT_LABELS = {
    ApplicantType.person: "个人",
    ApplicantType.enterprise: "企业",
    ApplicantType.unit: "其他单位",
}


class ApplicationStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    ApplicationStatus.pending: "待审批",
    ApplicationStatus.approved: "已批准",
    ApplicationStatus.rejected: "已驳回",
}


class OpenApplication(Base):
    """An application of the public for a conditionally open resource (有条件开放, M8)."""

    __tablename__ = "open_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    applicant_type: Mapped[str] = mapped_column(String(16))
    applicant_name: Mapped[str] = mapped_column(String(64))
    org_name: Mapped[str | None] = mapped_column(String(128))
    credit_code: Mapped[str | None] = mapped_column(String(18))
    phone: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(128))
    purpose: Mapped[str] = mapped_column(Text)
    items: Mapped[list[str]] = mapped_column(JSON)
    wanted_until: Mapped[date] = mapped_column(Date)
    # SM3 of the one-time 查询码 (shown once, never stored in clear).
    code_hash: Mapped[str] = mapped_column(String(64))
    submitted_ip: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True, default=ApplicationStatus.pending.value)
    approved_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    valid_until: Mapped[date | None] = mapped_column(Date)
    decision_reason: Mapped[str | None] = mapped_column(String(1000))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    downloads: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return ApplicationStatus(self.status).label

    @property
    def applicant_label(self) -> str:
        return ApplicantType(self.applicant_type).label

    def summary(self) -> dict[str, Any]:
        return {"number": self.number, "resource_id": self.resource_id, "status": self.status}


class OpenRateCounter(Base):
    """Calls of one client address to one kind of open endpoint in one minute window, shared by all
    app instances (one atomic upsert per call)."""

    __tablename__ = "open_rate_counters"

    bucket: Mapped[str] = mapped_column(String(16), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True, index=True)
    count: Mapped[int] = mapped_column(default=0)


class OpenSetting(Base):
    """A Bureau setting of open data (`masking_profile`: the profile every open delivery uses)."""

    __tablename__ = "open_settings"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
