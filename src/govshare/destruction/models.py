"""Destruction requests (数据销毁申请) and, once executed, their evidence (S28, S29)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class DestructionRequest(Base):
    """One request to destroy data of a resource, its three decisions and, once executed, what was
    removed. `org_id` is the providing department (authz scope `own_org`)."""

    __tablename__ = "destruction_requests"
    __table_args__ = (Index("ix_destruction_requests_org", "org_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # resource | batches | keys | time_range
    scope: Mapped[str] = mapped_column(String(16))
    batch_ids: Mapped[list[str] | None] = mapped_column(JSON)
    # The rows' store keys (`_key`, SM3 of the business-key values): never the values themselves,
    # which are what is being destroyed.
    row_keys: Mapped[list[str] | None] = mapped_column(JSON)
    received_from: Mapped[datetime | None] = mapped_column()
    received_until: Mapped[datetime | None] = mapped_column()
    method: Mapped[str] = mapped_column(String(16))  # delete | delete_shred
    reason: Mapped[str] = mapped_column(Text)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # pending_department | pending_bureau | pending_supervisor | executed | refused | withdrawn
    status: Mapped[str] = mapped_column(String(24))
    department_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_at: Mapped[datetime | None] = mapped_column()
    department_opinion: Mapped[str | None] = mapped_column(Text)
    bureau_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    bureau_at: Mapped[datetime | None] = mapped_column()
    bureau_opinion: Mapped[str | None] = mapped_column(Text)
    supervisor_at: Mapped[datetime | None] = mapped_column()
    supervisor_opinion: Mapped[str | None] = mapped_column(Text)
    refused_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    refused_at: Mapped[datetime | None] = mapped_column()
    refused_stage: Mapped[str | None] = mapped_column(String(24))
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    executed_at: Mapped[datetime | None] = mapped_column()
    rows_removed: Mapped[int | None] = mapped_column()
    quarantined_removed: Mapped[int | None] = mapped_column()
    files_removed: Mapped[int | None] = mapped_column()
    keys_destroyed: Mapped[int | None] = mapped_column()
    # What was removed, per table and file, with digests (see `service.execute`), and the SM3 of
    # its canonical JSON, which the certificate shows.
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    evidence_sm3: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
