"""API shapes of the catalog. Input items and output items have the same fields, so an entry read
from the API can be sent back as the basis of a new one."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from govshare.catalog.vocab import (
    ChangeKind,
    ClassKind,
    DataType,
    EntryStatus,
    Importance,
    LegalBasisKind,
    OpenType,
    ProvisionMethod,
    ResourceFormat,
    SecrecyConclusion,
    Sensitivity,
    SharingType,
    UpdateCycle,
    VersionState,
)

ITEM_NAME = r"^[a-z][a-z0-9_]{0,62}$"
MAX_ITEMS = 500


class Item(BaseModel):
    """信息项: one field of the resource (a column of a 库表 resource)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(pattern=ITEM_NAME, description="Field name: lower-case ASCII, e.g. `id_number`.")
    title: str = Field(min_length=1, max_length=64, description="Chinese title, e.g. 公民身份号码.")
    data_type: DataType = Field(description="Type code of the guide: C N Y D T L M G B I F.")
    length: int | None = Field(None, ge=1, le=65535, description="Required for C, N and Y.")
    is_key: bool = Field(False, description="Part of the business key that identifies a row.")
    queryable: bool = Field(
        False,
        description="查询项: consumers look rows up by this item, so the exchange store indexes it.",
    )
    sensitivity: Sensitivity = Sensitivity.L1
    importance: Importance = Field(
        Importance.general, description="数据重要程度 (GB/T 43697): general 一般, important 重要, core 核心."
    )
    element: str | None = Field(None, max_length=32, description="Code of the standard data element.")
    authoritative: bool = Field(
        False, description="This department is the authoritative source of the element (一数一源)."
    )
    description: str | None = Field(None, max_length=200)


class Metadata(BaseModel):
    """The metadata of one version (政务信息资源目录编制指南), as created or replaced."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: str = Field(min_length=1, max_length=8, description="Sub-class code, e.g. `101` (人口).")
    name: str = Field(min_length=2, max_length=128)
    summary: str = Field(min_length=4, max_length=2000)
    format: ResourceFormat = ResourceFormat.database
    format_detail: str | None = Field(None, max_length=64, description="e.g. CSV, PDF, MySQL 表")
    provision_method: ProvisionMethod = ProvisionMethod.table
    sharing_type: SharingType = SharingType.unconditional
    sharing_condition: str | None = Field(None, max_length=500)
    not_shared_reason: str | None = Field(None, max_length=500)
    legal_basis_kind: LegalBasisKind | None = None
    legal_basis: str | None = Field(
        None, max_length=500, description="Document and article, e.g. 《中华人民共和国户口登记条例》第三条."
    )
    open_type: OpenType = OpenType.closed
    open_condition: str | None = Field(None, max_length=500)
    update_cycle: UpdateCycle = UpdateCycle.irregular
    items: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    related: list[int] = Field(default_factory=list, max_length=50, description="Ids of related entries.")


class ResourceCreate(Metadata):
    pass


class ResourceUpdate(Metadata):
    """Replace the metadata of the working version (opening one when the entry is published)."""

    lock_version: int = Field(description="The entry's `lock_version` the edit is based on.")
    change_reason: str | None = Field(None, max_length=500, description="Why a published entry changes.")


class SecrecyReview(BaseModel):
    """保密审查 record (M20)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reviewer: str = Field(min_length=2, max_length=64, description="Who reviewed (name and post).")
    reviewed_on: date
    conclusion: SecrecyConclusion
    opinion: str | None = Field(None, max_length=500)


class ReviewDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: Literal["approve", "return"]
    comment: str = Field("", max_length=1000)
    field_comments: dict[str, str] = Field(
        default_factory=dict, description="Comments per field (metadata field or `items.<name>`)."
    )


class RetireRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=4, max_length=500)


class OrgRef(BaseModel):
    id: int
    code: str
    name: str


class ResourceRef(BaseModel):
    id: int
    code: str
    name: str


class ResourceSummary(BaseModel):
    """An entry as lists show it: the version people see."""

    id: int
    code: str
    name: str
    summary: str
    provider: OrgRef
    category: str
    category_name: str
    class_kind: ClassKind
    format: ResourceFormat
    provision_method: ProvisionMethod
    sharing_type: SharingType
    open_type: OpenType
    update_cycle: UpdateCycle
    status: EntryStatus
    importance: Importance = Field(description="The resource's level: the highest importance of its items.")
    sensitivity: Sensitivity = Field(description="The highest sensitivity of its items.")
    version: int
    published_at: datetime | None
    pending_change: bool
    lock_version: int


class SecrecyOut(BaseModel):
    reviewer: str | None
    reviewed_on: date | None
    conclusion: SecrecyConclusion | None
    opinion: str | None


class VersionSummary(BaseModel):
    number: int
    state: VersionState
    change_kind: ChangeKind
    change_reason: str | None
    created_at: datetime
    submitted_at: datetime | None
    reviewed_at: datetime | None
    review_comment: str | None
    field_comments: dict[str, str]
    published_at: datetime | None


class VersionOut(VersionSummary):
    """One version with its whole metadata."""

    category: str
    category_name: str
    class_kind: ClassKind
    name: str
    summary: str
    format: ResourceFormat
    format_detail: str | None
    provision_method: ProvisionMethod
    sharing_type: SharingType
    sharing_condition: str | None
    not_shared_reason: str | None
    legal_basis_kind: LegalBasisKind | None
    legal_basis: str | None
    open_type: OpenType
    open_condition: str | None
    update_cycle: UpdateCycle
    items: list[Item]
    hidden_items: int = Field(
        0, description="Sensitive items (元数据访问控制, S9) left out because the caller may not see them."
    )
    related: list[ResourceRef]
    secrecy: SecrecyOut


class ResourceOut(ResourceSummary):
    """An entry with the metadata of the version people see, and the working version if any."""

    format_detail: str | None
    sharing_condition: str | None
    not_shared_reason: str | None
    legal_basis_kind: LegalBasisKind | None
    legal_basis: str | None
    open_condition: str | None
    items: list[Item]
    hidden_items: int = Field(
        0, description="Sensitive items (元数据访问控制, S9) left out because the caller may not see them."
    )
    related: list[ResourceRef]
    secrecy: SecrecyOut
    working: VersionOut | None = Field(None, description="The draft or change under way, if visible.")


class FieldChange(BaseModel):
    field: str
    label: str
    before: object
    after: object


class DiffOut(BaseModel):
    from_version: int
    to_version: int
    changes: list[FieldChange]


class FacetValue(BaseModel):
    value: str
    label: str
    count: int


class SearchOut(BaseModel):
    items: list[ResourceSummary]
    total: int
    page: int
    page_size: int
    facets: dict[str, list[FacetValue]]


class CatalogClassOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: ClassKind
    parent_code: str | None
    lead_org: OrgRef | None
    description: str | None
    is_active: bool
    version: int


class CatalogClassCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    parent: str = Field(pattern=r"^[123]$", description="Class code: 1 基础, 2 主题, 3 部门.")
    name: str = Field(min_length=2, max_length=64)
    lead_org_id: int | None = None
    description: str | None = Field(None, max_length=500)


class CatalogClassUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int
    name: str | None = Field(None, min_length=2, max_length=64)
    lead_org_id: int | None = None
    description: str | None = Field(None, max_length=500)
    is_active: bool | None = None


class DataElementIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_.-]{1,31}$")
    name: str = Field(min_length=2, max_length=64)
    definition: str = Field(min_length=2, max_length=500)
    data_type: DataType
    length: int | None = Field(None, ge=1, le=65535)
    standard: str | None = Field(None, max_length=128, description="e.g. GB 11643-2019")
    source_org_id: int | None = None


class DataElementOut(BaseModel):
    id: int
    code: str
    name: str
    definition: str
    data_type: DataType
    length: int | None
    standard: str | None
    source: OrgRef | None
    version: int


class ConflictOut(BaseModel):
    id: int
    element: str
    element_name: str
    resource: ResourceRef
    item_name: str
    claimant: OrgRef
    owner: OrgRef
    status: str
    resolution_comment: str | None
    created_at: datetime
    resolved_at: datetime | None


class ConflictDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    resolution: Literal["keep", "transfer"]
    comment: str = Field(min_length=2, max_length=500)
