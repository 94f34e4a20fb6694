"""Sharing requests (共享申请) and the grants (授权) they produce.

A request is a consuming department's ask for some items of another department's resource, for a
stated purpose (用途) and duty basis (履职依据). What happens to it follows the resource's sharing
type (M16): 无条件共享 grants at once; 有条件共享 waits for the provider's approver, due within a
number of working days; 不予共享 cannot be requested. A grant is what the data API checks on every
call: subject (department, optionally one business system), resource, items, row scope, masking
profile, purpose and validity.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class ShareRequest(Base):
    __tablename__ = "share_requests"
    __table_args__ = (
        Index("ix_share_requests_provider", "provider_org_id", "status"),
        Index("ix_share_requests_consumer", "org_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    provider_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # The consuming department: whose request it is (authz scope `own_org`).
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    system_id: Mapped[int | None] = mapped_column(ForeignKey("business_systems.id"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    route: Mapped[str] = mapped_column(String(16))  # unconditional | conditional
    items: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(String(500))
    scope_of_use: Mapped[str | None] = mapped_column(String(500))
    duration_days: Mapped[int] = mapped_column()
    # granted (unconditional, at once) | pending | approved | partial | rejected | withdrawn
    status: Mapped[str] = mapped_column(String(16))
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    filed_on: Mapped[date] = mapped_column(Date)  # the filing day in China, day 0 of the clock
    due_date: Mapped[date | None] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(default=False)
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # The deadline's follow-up: the provider reminded before it, the Bureau told once it passed.
    reminded_at: Mapped[datetime | None] = mapped_column()
    overdue_at: Mapped[datetime | None] = mapped_column()
    # A rejection or partial approval the consumer disputes: open, then upheld or overruled by the
    # Bureau, whose ruling is final (M16).
    dispute_status: Mapped[str | None] = mapped_column(String(16))
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    disputed_at: Mapped[datetime | None] = mapped_column()
    ruled_at: Mapped[datetime | None] = mapped_column()
    ruled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ruling_reason: Mapped[str | None] = mapped_column(Text)
    lock_version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": lock_version}


class Grant(Base):
    __tablename__ = "grants"
    __table_args__ = (
        Index("ix_grants_subject", "org_id", "resource_id", "status"),
        Index("ix_grants_provider", "provider_org_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("share_requests.id"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    provider_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))  # the holder
    system_id: Mapped[int | None] = mapped_column(ForeignKey("business_systems.id"))
    items: Mapped[list[str]] = mapped_column(JSON)
    # Rows the holder may read: {item: [allowed values]} (e.g. certain 行政区划代码), or None for all.
    row_scope: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    masking_profile: Mapped[str | None] = mapped_column(String(40))  # None: the default profile
    purpose: Mapped[str] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(String(500))
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[datetime] = mapped_column()
    # active | suspended | revoked | expired
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(String(500))
    # What an expired grant was when its validity ran out (active | suspended): a renewal returns it
    # there, so a suspension outlives the expiry. None for a grant that has not expired (and for
    # grants that expired before this was recorded: they renew to active).
    expired_from: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    lock_version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": lock_version}

    def in_force(self, now: datetime) -> bool:
        """Active and within its validity period at `now` (what `service.active_grants` selects)."""
        return self.status == "active" and self.valid_from <= now < self.valid_until

    def scope_text(self) -> str:
        if not self.row_scope:
            return "全部数据行"
        return "；".join(f"{item} ∈ {'、'.join(values)}" for item, values in self.row_scope.items())

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request_id": self.request_id,
            "resource_id": self.resource_id,
            "provider_org_id": self.provider_org_id,
            "org_id": self.org_id,
            "system_id": self.system_id,
            "items": list(self.items),
            "row_scope": self.row_scope,
            "masking_profile": self.masking_profile,
            "purpose": self.purpose,
            "basis": self.basis,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "status": self.status,
            "status_reason": self.status_reason,
        }


class DataUse(Base):
    """One use of shared data, delivered or refused: what the Bureau reviews against the purposes
    declared (M17, S25) and what supervision counts (calls, consumers, rows). The audit log holds the
    same events in its chain; this table answers the questions quickly."""

    __tablename__ = "data_uses"
    __table_args__ = (
        Index("ix_data_uses_consumer", "org_id", "at"),
        Index("ix_data_uses_resource", "resource_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    system_id: Mapped[int | None] = mapped_column(ForeignKey("business_systems.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grants.id"))
    purpose: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))  # rows | changes | file | service
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | refused
    reason: Mapped[str | None] = mapped_column(String(32))  # refused: no_grant | purpose_mismatch
    rows: Mapped[int] = mapped_column(default=0)


class Feedback(Base):
    """A consumer's doubt or error report on one row (数据异议/纠错, M18): the provider verifies it
    within a number of working days and answers — corrected by a batch, or confirmed correct with
    reasons — and the consumer closes the case or reopens it. The consumer keeps using the data
    meanwhile: a case blocks nothing."""

    __tablename__ = "data_feedback"
    __table_args__ = (
        Index("ix_data_feedback_provider", "provider_org_id", "status"),
        Index("ix_data_feedback_consumer", "org_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    provider_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))  # the consumer
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"))
    row_key: Mapped[str] = mapped_column(String(64))  # the store's `_key` of the row
    kind: Mapped[str] = mapped_column(String(16))  # doubtful | wrong
    items: Mapped[list[str]] = mapped_column(JSON)  # the items in question (may be empty: the whole row)
    description: Mapped[str] = mapped_column(Text)
    filed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    clock_from: Mapped[date] = mapped_column(Date)  # filed, or reopened, on (day 0 of the clock)
    due_date: Mapped[date] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(default=False)
    # open | answered | closed
    status: Mapped[str] = mapped_column(String(16))
    answer: Mapped[str | None] = mapped_column(String(16))  # corrected | confirmed
    answer_reason: Mapped[str | None] = mapped_column(Text)
    corrected_batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"))
    answered_at: Mapped[datetime | None] = mapped_column()
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column()
    reopened: Mapped[int] = mapped_column(default=0)
    consumer_comment: Mapped[str | None] = mapped_column(Text)
    overdue_at: Mapped[datetime | None] = mapped_column()
    lock_version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": lock_version}


class DataExport(Base):
    """A bulk download of shared data out of the platform (S27): asked for under a grant, approved by
    the Bureau, downloaded by the asking department within a few days. Every file carries the
    export's own row identifiers — its fingerprint — so a leaked copy, even a part of it, names its
    recipient (`govshare trace-leak`)."""

    __tablename__ = "data_exports"
    __table_args__ = (Index("ix_data_exports_consumer", "org_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(8))  # csv | xlsx
    filters: Mapped[list[list[str]]] = mapped_column(JSON)  # [[name, value], …] as in the data API
    fields: Mapped[list[str] | None] = mapped_column(JSON)
    # pending | approved | rejected | expired | destroyed
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column()
    downloads: Mapped[int] = mapped_column(default=0)
    rows: Mapped[int | None] = mapped_column()
    file_sm3: Mapped[str | None] = mapped_column(String(64))
    lock_version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": lock_version}
