"""Security policies (安全管理制度) and every version of their text (S5, S6, S8)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class PolicyKind(StrEnum):
    strategy = "strategy"
    objectives = "objectives"
    principles = "principles"
    management = "management"
    asset_rules = "asset_rules"
    metadata_rules = "metadata_rules"
    logging_rules = "logging_rules"
    leak_prevention = "leak_prevention"
    emergency_plan = "emergency_plan"
    other = "other"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS: dict[PolicyKind, str] = {
    PolicyKind.strategy: "安全方针",
    PolicyKind.objectives: "安全目标",
    PolicyKind.principles: "安全原则",
    PolicyKind.management: "安全管理制度",
    PolicyKind.asset_rules: "数据资产安全管理制度",
    PolicyKind.metadata_rules: "元数据管理规则",
    PolicyKind.logging_rules: "日志记录规范",
    PolicyKind.leak_prevention: "数据防泄露规范",
    PolicyKind.emergency_plan: "安全应急预案",
    PolicyKind.other: "其他制度规程",
}

# What only the Bureau formulates, for the whole city (第五条、第六条).
BUREAU_KINDS = frozenset(
    {PolicyKind.strategy, PolicyKind.objectives, PolicyKind.principles, PolicyKind.management}
)


class PolicyStatus(StrEnum):
    active = "active"
    retired = "retired"

    @property
    def label(self) -> str:
        return "生效" if self is PolicyStatus.active else "已废止"


class SecurityPolicy(Base):
    """One policy document with a copy of its current version. `org_id` is the owner (authz scope
    `own_org`): the Bureau's organisation for city-wide policies, else the department's."""

    __tablename__ = "security_policies"
    __table_args__ = (Index("ix_security_policies_org", "org_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    effective_on: Mapped[date]
    review_months: Mapped[int]
    next_review_on: Mapped[date] = mapped_column(index=True)
    # The due date a review reminder was last opened for, so that each due date reminds once.
    reminded_for: Mapped[date | None]
    last_reviewed_on: Mapped[date | None]
    last_reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default=PolicyStatus.active.value)
    version: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]
    retired_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    retire_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[PolicyKind(self.kind)]

    @property
    def status_label(self) -> str:
        return PolicyStatus(self.status).label


class SecurityPolicyVersion(Base):
    """The text of one version as it was adopted; never changed afterwards."""

    __tablename__ = "security_policy_versions"
    __table_args__ = (UniqueConstraint("policy_id", "version", name="uq_security_policy_versions_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("security_policies.id"))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    effective_on: Mapped[date]
    review_months: Mapped[int]
    change_note: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
