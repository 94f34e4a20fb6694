"""Catalog JSON API: search, compile, submit, review, versions, classes, data elements."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from govshare.authz import Action, require
from govshare.catalog import classes, disclosure, elements, present, service, supervision
from govshare.catalog.models import CatalogClass, DataElement, ElementConflict, Resource
from govshare.catalog.schemas import (
    CatalogClassCreate,
    CatalogClassOut,
    CatalogClassUpdate,
    ConflictDecision,
    ConflictOut,
    DataElementIn,
    DataElementOut,
    DiffOut,
    FacetValue,
    FieldChange,
    ResourceCreate,
    ResourceOut,
    ResourceRef,
    ResourceUpdate,
    RetireRequest,
    ReviewDecision,
    SearchOut,
    SecrecyReview,
    VersionOut,
    VersionSummary,
)
from govshare.catalog.search import Filters, search
from govshare.catalog.vocab import (
    ClassKind,
    ConflictStatus,
    EntryStatus,
    OpenType,
    ProvisionMethod,
    ResourceFormat,
    SharingType,
    UpdateCycle,
)
from govshare.pagination import Page, PageParams
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1", tags=["catalog"])


def search_filters(
    q: Annotated[
        str | None, Query(max_length=100, description="Words to find (Chinese works, 1+ chars).")
    ] = None,
    class_kind: ClassKind | None = None,
    category: Annotated[str | None, Query(max_length=8)] = None,
    provider: Annotated[int | None, Query(description="Providing organisation id.")] = None,
    sharing_type: SharingType | None = None,
    open_type: OpenType | None = None,
    format: ResourceFormat | None = None,
    update_cycle: UpdateCycle | None = None,
    provision_method: ProvisionMethod | None = None,
    status: EntryStatus | None = None,
) -> Filters:
    return Filters(
        q=q,
        class_kind=class_kind,
        category=category,
        org_id=provider,
        sharing_type=sharing_type,
        open_type=open_type,
        format=format,
        update_cycle=update_cycle,
        provision_method=provision_method,
        status=status,
    )


@router.get("/resources", response_model=SearchOut)
def list_resources(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    filters: Annotated[Filters, Depends(search_filters)],
) -> SearchOut:
    """Search the catalog; facet counts are given for every filter under the other filters."""
    result = search(db, actor=actor, filters=filters, params=params)
    return SearchOut(
        items=present.summaries(db, result.rows),
        total=result.total,
        page=params.page,
        page_size=params.page_size,
        facets={
            k: [FacetValue(value=v, label=label, count=n) for v, label, n in f]
            for k, f in result.facets.items()
        },
    )


@router.post("/resources", response_model=ResourceOut, status_code=status.HTTP_201_CREATED)
def create_resource(data: ResourceCreate, actor: CurrentActor, db: DB) -> ResourceOut:
    """Compile a new entry of the caller's department (a draft)."""
    resource = service.create_resource(db, actor=actor, data=data)
    return present.detail(db, actor=actor, resource=resource)


@router.get("/resources/{resource_id}", response_model=ResourceOut)
def get_resource(resource_id: int, actor: CurrentActor, db: DB) -> ResourceOut:
    return present.detail(
        db, actor=actor, resource=service.get_resource(db, actor=actor, resource_id=resource_id)
    )


@router.put("/resources/{resource_id}", response_model=ResourceOut)
def update_resource(resource_id: int, data: ResourceUpdate, actor: CurrentActor, db: DB) -> ResourceOut:
    """Replace the working version's metadata (a published entry gets a new version under review)."""
    resource = service.update_resource(db, actor=actor, resource_id=resource_id, data=data)
    return present.detail(db, actor=actor, resource=resource)


@router.post("/resources/{resource_id}/secrecy-review", response_model=ResourceOut)
def record_secrecy(resource_id: int, data: SecrecyReview, actor: CurrentActor, db: DB) -> ResourceOut:
    """Record the department's 保密审查 of the working version (M20)."""
    service.record_secrecy(db, actor=actor, resource_id=resource_id, data=data)
    return present.detail(
        db, actor=actor, resource=service.get_resource(db, actor=actor, resource_id=resource_id)
    )


@router.post("/resources/{resource_id}/submit", response_model=ResourceOut)
def submit(resource_id: int, actor: CurrentActor, db: DB) -> ResourceOut:
    service.submit(db, actor=actor, resource_id=resource_id)
    return present.detail(
        db, actor=actor, resource=service.get_resource(db, actor=actor, resource_id=resource_id)
    )


@router.post("/resources/{resource_id}/review", response_model=ResourceOut)
def review(resource_id: int, data: ReviewDecision, actor: CurrentActor, db: DB) -> ResourceOut:
    """The Bureau reviewer approves or returns the submitted version."""
    service.review(db, actor=actor, resource_id=resource_id, data=data)
    return present.detail(
        db, actor=actor, resource=service.get_resource(db, actor=actor, resource_id=resource_id)
    )


@router.post("/resources/{resource_id}/retire", response_model=ResourceOut)
def retire(resource_id: int, data: RetireRequest, actor: CurrentActor, db: DB) -> ResourceOut:
    """Ask the Bureau to retire a published entry."""
    service.retire(db, actor=actor, resource_id=resource_id, reason=data.reason)
    return present.detail(
        db, actor=actor, resource=service.get_resource(db, actor=actor, resource_id=resource_id)
    )


@router.post("/resources/{resource_id}/discard", response_model=ResourceOut)
def discard(resource_id: int, actor: CurrentActor, db: DB) -> ResourceOut:
    """Drop the working draft."""
    resource = service.discard(db, actor=actor, resource_id=resource_id)
    return present.detail(db, actor=actor, resource=resource)


@router.get("/resources/{resource_id}/versions", response_model=list[VersionSummary])
def list_versions(resource_id: int, actor: CurrentActor, db: DB) -> list[VersionSummary]:
    return [
        present.version_summary(v) for v in service.list_versions(db, actor=actor, resource_id=resource_id)
    ]


@router.get("/resources/{resource_id}/versions/{number}", response_model=VersionOut)
def get_version(resource_id: int, number: int, actor: CurrentActor, db: DB) -> VersionOut:
    version = service.get_version(db, actor=actor, resource_id=resource_id, number=number)
    resource = service.get_resource(db, actor=actor, resource_id=resource_id)
    return present.version_out(
        version, present.Lookup(db), disclosure.for_actor(db, actor=actor, resource=resource)
    )


@router.get("/resources/{resource_id}/diff", response_model=DiffOut)
def diff(
    resource_id: int,
    actor: CurrentActor,
    db: DB,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int, Query(alias="to", ge=1)],
) -> DiffOut:
    """Field-by-field differences between two versions."""
    changes = service.diff_versions(db, actor=actor, resource_id=resource_id, a=from_version, b=to_version)
    return DiffOut(
        from_version=from_version,
        to_version=to_version,
        changes=[FieldChange(field=c.field, label=c.label, before=c.before, after=c.after) for c in changes],
    )


class QueueItem(BaseModel):
    resource: ResourceRef
    provider: str
    version: int
    change_kind: str
    submitted_at: str | None
    age_working_days: int = Field(description="Working days since submission.")
    age_provisional: bool = Field(
        description="The age counts days of a year whose holidays are not yet known."
    )


@router.get("/catalog/review-queue", response_model=list[QueueItem])
def review_queue(actor: CurrentActor, db: DB) -> list[QueueItem]:
    """Versions waiting for the Bureau's review, oldest first."""
    return [
        QueueItem(
            resource=ResourceRef(id=e.resource.id, code=e.resource.code, name=e.version.name),
            provider=e.provider,
            version=e.version.number,
            change_kind=e.version.change_kind,
            submitted_at=e.version.submitted_at.isoformat() if e.version.submitted_at else None,
            age_working_days=e.age_days,
            age_provisional=e.age_provisional,
        )
        for e in service.review_queue(db, actor=actor)
    ]


class DepartmentCatalogOut(BaseModel):
    org_id: int
    name: str
    compiled: int
    published: int
    pending: int
    returned: int
    oldest_returned_days: int | None
    drafts: int
    stale: int
    retired: int
    no_catalog: bool
    problems: list[str]


@router.get("/catalog/supervision", response_model=list[DepartmentCatalogOut])
def catalog_supervision(actor: CurrentActor, db: DB) -> list[DepartmentCatalogOut]:
    """Per department: compiled, published, pending, returned-not-revised, stale; worst first."""
    return [
        DepartmentCatalogOut(**{**row.__dict__, "no_catalog": row.no_catalog, "problems": row.problems})
        for row in supervision.department_catalogs(db, actor=actor)
    ]


def _class_out(cls: CatalogClass, lookup: present.Lookup) -> CatalogClassOut:
    parent = lookup.cls(cls.parent_id) if cls.parent_id else None
    return CatalogClassOut(
        id=cls.id,
        code=cls.code,
        name=cls.name,
        kind=cls.kind,
        parent_code=parent.code if parent else None,
        lead_org=lookup.org_ref(cls.lead_org_id) if cls.lead_org_id else None,
        description=cls.description,
        is_active=cls.is_active,
        version=cls.version,
    )


@router.get("/catalog/classes", response_model=list[CatalogClassOut])
def list_classes(actor: CurrentActor, db: DB) -> list[CatalogClassOut]:
    require(actor, Action.catalog_view)
    lookup = present.Lookup(db)
    return [_class_out(c, lookup) for c in classes.list_classes(db, include_inactive=True)]


@router.post("/catalog/classes", response_model=CatalogClassOut, status_code=status.HTTP_201_CREATED)
def create_class(data: CatalogClassCreate, actor: CurrentActor, db: DB) -> CatalogClassOut:
    return _class_out(classes.create_class(db, actor=actor, data=data), present.Lookup(db))


@router.patch("/catalog/classes/{class_id}", response_model=CatalogClassOut)
def update_class(class_id: int, data: CatalogClassUpdate, actor: CurrentActor, db: DB) -> CatalogClassOut:
    return _class_out(classes.update_class(db, actor=actor, class_id=class_id, data=data), present.Lookup(db))


def _element_out(element: DataElement, lookup: present.Lookup) -> DataElementOut:
    return DataElementOut(
        id=element.id,
        code=element.code,
        name=element.name,
        definition=element.definition,
        data_type=element.data_type,
        length=element.length,
        standard=element.standard,
        source=lookup.org_ref(element.source_org_id) if element.source_org_id else None,
        version=element.version,
    )


@router.get("/catalog/elements", response_model=Page[DataElementOut])
def list_elements(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    q: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[DataElementOut]:
    """Standard data elements (数据元) with their authoritative source department."""
    rows, total = elements.list_elements(db, actor=actor, params=params, q=q)
    lookup = present.Lookup(db)
    return Page[DataElementOut](
        items=[_element_out(e, lookup) for e in rows],
        total=total,
        page=params.page,
        page_size=params.page_size,
    )


@router.post("/catalog/elements", response_model=DataElementOut, status_code=status.HTTP_201_CREATED)
def create_element(data: DataElementIn, actor: CurrentActor, db: DB) -> DataElementOut:
    return _element_out(elements.create_element(db, actor=actor, data=data), present.Lookup(db))


class SourceChange(BaseModel):
    source_org_id: int | None
    version: int


@router.put("/catalog/elements/{element_id}/source", response_model=DataElementOut)
def set_source(element_id: int, data: SourceChange, actor: CurrentActor, db: DB) -> DataElementOut:
    """Name the element's authoritative source department."""
    element = elements.set_source(
        db, actor=actor, element_id=element_id, source_org_id=data.source_org_id, version=data.version
    )
    return _element_out(element, present.Lookup(db))


def conflict_out(db: Session, conflict: ElementConflict) -> ConflictOut:
    lookup = present.Lookup(db)
    element = db.get(DataElement, conflict.element_id)
    resource = db.get(Resource, conflict.resource_id)
    assert element is not None and resource is not None
    return ConflictOut(
        id=conflict.id,
        element=element.code,
        element_name=element.name,
        resource=ResourceRef(id=resource.id, code=resource.code, name=resource.name),
        item_name=conflict.item_name,
        claimant=lookup.org_ref(conflict.claimant_org_id),
        owner=lookup.org_ref(conflict.owner_org_id),
        status=conflict.status,
        resolution_comment=conflict.resolution_comment,
        created_at=conflict.created_at,
        resolved_at=conflict.resolved_at,
    )


@router.get("/catalog/conflicts", response_model=list[ConflictOut])
def list_conflicts(actor: CurrentActor, db: DB, status: ConflictStatus | None = None) -> list[ConflictOut]:
    """一数一源 conflicts, open ones first (Bureau)."""
    return [conflict_out(db, c) for c in elements.list_conflicts(db, actor=actor, status=status)]


@router.post("/catalog/conflicts/{conflict_id}/decision", response_model=ConflictOut)
def resolve_conflict(conflict_id: int, data: ConflictDecision, actor: CurrentActor, db: DB) -> ConflictOut:
    return conflict_out(db, elements.resolve(db, actor=actor, conflict_id=conflict_id, data=data))
