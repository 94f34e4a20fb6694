"""Catalog tables: classes, entries (one row per resource), their versions, data elements.

An entry (`Resource`) is the stable identity with its code; every proposal about it — the first
compilation, a change after 机构改革, a retirement — is a `ResourceVersion` that goes through review.
The entry row carries a copy of the metadata lists and search need from the version people see
(the published one, or the working draft before the first publication), so listing never joins.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class CatalogClass(Base):
    """信息资源分类: a class (基础/主题/部门, one digit) or a sub-class (three digits) under it.

    Base and theme sub-classes have a lead department (M15(3)(4)) that alone compiles their entries;
    a department sub-class belongs to one department.
    """

    __tablename__ = "catalog_classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_classes.id"))
    lead_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    description: Mapped[str | None] = mapped_column(String(500))
    next_seq: Mapped[int] = mapped_column(default=1)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Resource(Base):
    """A catalog entry (政务数据资源目录条目)."""

    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("catalog_classes.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    # Copied from the version people see, for lists, facets and search.
    name: Mapped[str] = mapped_column(String(128))
    summary: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(24))
    provision_method: Mapped[str] = mapped_column(String(8))
    sharing_type: Mapped[str] = mapped_column(String(16), index=True)
    open_type: Mapped[str] = mapped_column(String(16))
    update_cycle: Mapped[str] = mapped_column(String(16))
    # The resource's level (分类分级, S13): the highest importance and sensitivity of its items.
    importance: Mapped[str] = mapped_column(String(16), default="general", server_default="general")
    sensitivity: Mapped[str] = mapped_column(String(4), default="L1", server_default="L1")
    search_text: Mapped[str] = mapped_column(Text)
    # The published version (None until the first approval) and the one being worked on.
    published_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("resource_versions.id", use_alter=True)
    )
    working_version_id: Mapped[int | None] = mapped_column(ForeignKey("resource_versions.id", use_alter=True))
    version_number: Mapped[int] = mapped_column(default=1)
    published_at: Mapped[datetime | None] = mapped_column()
    reviewed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    lock_version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": lock_version}


class ResourceVersion(Base):
    """One version of an entry: the full metadata as compiled, its 保密审查 and its review."""

    __tablename__ = "resource_versions"
    __table_args__ = (UniqueConstraint("resource_id", "number"),)
    __org_column__ = "org_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    number: Mapped[int] = mapped_column()
    state: Mapped[str] = mapped_column(String(16))
    change_kind: Mapped[str] = mapped_column(String(16))
    change_reason: Mapped[str | None] = mapped_column(String(500))
    # The metadata of 政务信息资源目录编制指南 (see docs/catalog.md).
    class_id: Mapped[int] = mapped_column(ForeignKey("catalog_classes.id"))
    name: Mapped[str] = mapped_column(String(128))
    summary: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(24))
    format_detail: Mapped[str | None] = mapped_column(String(64))
    provision_method: Mapped[str] = mapped_column(String(8))
    sharing_type: Mapped[str] = mapped_column(String(16))
    sharing_condition: Mapped[str | None] = mapped_column(String(500))
    not_shared_reason: Mapped[str | None] = mapped_column(String(500))
    legal_basis_kind: Mapped[str | None] = mapped_column(String(16))
    legal_basis: Mapped[str | None] = mapped_column(String(500))
    open_type: Mapped[str] = mapped_column(String(16))
    open_condition: Mapped[str | None] = mapped_column(String(500))
    update_cycle: Mapped[str] = mapped_column(String(16))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    related_ids: Mapped[list[int]] = mapped_column(JSON)
    # 保密审查 (M20), recorded by the department before submission.
    secrecy_reviewer: Mapped[str | None] = mapped_column(String(64))
    secrecy_reviewed_on: Mapped[date | None] = mapped_column(Date)
    secrecy_conclusion: Mapped[str | None] = mapped_column(String(16))
    secrecy_opinion: Mapped[str | None] = mapped_column(String(500))
    secrecy_recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Who did what, when.
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column()
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    review_comment: Mapped[str | None] = mapped_column(String(1000))
    field_comments: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    published_at: Mapped[datetime | None] = mapped_column()


class DataElement(Base):
    """A standard data element (数据元) with its one authoritative source department (M12)."""

    __tablename__ = "data_elements"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    definition: Mapped[str] = mapped_column(String(500))
    data_type: Mapped[str] = mapped_column(String(1))
    length: Mapped[int | None] = mapped_column()
    standard: Mapped[str | None] = mapped_column(String(128))
    source_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class ElementConflict(Base):
    """A department's item claims to be the authoritative source of an element owned elsewhere."""

    __tablename__ = "element_conflicts"
    __table_args__ = (Index("ix_element_conflicts_open", "element_id", "version_id", "item_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    element_id: Mapped[int] = mapped_column(ForeignKey("data_elements.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("resource_versions.id"))
    item_name: Mapped[str] = mapped_column(String(64))
    claimant_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolution_comment: Mapped[str | None] = mapped_column(String(500))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
