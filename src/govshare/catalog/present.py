"""Turn entries and versions into the API's shapes (also used by the pages), loading the few
classes and organisations once per call instead of once per row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.authz import Actor
from govshare.catalog import disclosure, service
from govshare.catalog.models import CatalogClass, Resource, ResourceVersion
from govshare.catalog.schemas import (
    Item,
    OrgRef,
    ResourceOut,
    ResourceRef,
    ResourceSummary,
    SecrecyOut,
    VersionOut,
    VersionSummary,
)
from govshare.orgs.models import Organisation


class Lookup:
    """Classes and organisations by id, loaded on first use."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self._classes: dict[int, CatalogClass] | None = None
        self._orgs: dict[int, Organisation] | None = None

    def cls(self, class_id: int) -> CatalogClass:
        if self._classes is None:
            self._classes = {c.id: c for c in self.db.scalars(select(CatalogClass))}
        return self._classes[class_id]

    def org(self, org_id: int) -> Organisation:
        if self._orgs is None:
            self._orgs = {o.id: o for o in self.db.scalars(select(Organisation))}
        return self._orgs[org_id]

    def org_ref(self, org_id: int) -> OrgRef:
        org = self.org(org_id)
        return OrgRef(id=org.id, code=org.code, name=org.name)

    def related(self, ids: list[int]) -> list[ResourceRef]:
        if not ids:
            return []
        rows = self.db.execute(select(Resource.id, Resource.code, Resource.name).where(Resource.id.in_(ids)))
        found = {r.id: ResourceRef(id=r.id, code=r.code, name=r.name) for r in rows}
        return [found[i] for i in ids if i in found]


def summary(resource: Resource, lookup: Lookup) -> ResourceSummary:
    cls = lookup.cls(resource.class_id)
    return ResourceSummary(
        id=resource.id,
        code=resource.code,
        name=resource.name,
        summary=resource.summary,
        provider=lookup.org_ref(resource.org_id),
        category=cls.code,
        category_name=cls.name,
        class_kind=cls.kind,
        format=resource.format,
        provision_method=resource.provision_method,
        sharing_type=resource.sharing_type,
        open_type=resource.open_type,
        update_cycle=resource.update_cycle,
        status=resource.status,
        importance=resource.importance,
        sensitivity=resource.sensitivity,
        version=resource.version_number,
        published_at=resource.published_at,
        pending_change=resource.published_version_id is not None and resource.working_version_id is not None,
        lock_version=resource.lock_version,
    )


def summaries(db: Session, resources: list[Resource]) -> list[ResourceSummary]:
    lookup = Lookup(db)
    return [summary(r, lookup) for r in resources]


def secrecy(version: ResourceVersion) -> SecrecyOut:
    return SecrecyOut(
        reviewer=version.secrecy_reviewer,
        reviewed_on=version.secrecy_reviewed_on,
        conclusion=version.secrecy_conclusion,
        opinion=version.secrecy_opinion,
    )


def version_summary(version: ResourceVersion) -> VersionSummary:
    return VersionSummary.model_validate(version, from_attributes=True)


def version_out(version: ResourceVersion, lookup: Lookup, seen: disclosure.Disclosure) -> VersionOut:
    """A version as `seen` lets its caller see it (restricted items left out and counted)."""
    cls = lookup.cls(version.class_id)
    values = {
        name: getattr(version, name)
        for name in VersionOut.model_fields
        if name
        not in ("category", "category_name", "class_kind", "items", "hidden_items", "related", "secrecy")
    }
    shown = seen.shown(version.items)
    return VersionOut(
        **values,
        category=cls.code,
        category_name=cls.name,
        class_kind=cls.kind,
        items=[Item.model_validate(i) for i in shown.items],
        hidden_items=shown.hidden,
        related=lookup.related(version.related_ids or []),
        secrecy=secrecy(version),
    )


def detail(db: Session, *, actor: Actor, resource: Resource) -> ResourceOut:
    lookup = Lookup(db)
    shown = service.shown_version(db, resource)
    working = service.working_version(db, actor=actor, resource=resource)
    seen = disclosure.for_actor(db, actor=actor, resource=resource)
    items = seen.shown(shown.items)
    return ResourceOut(
        **summary(resource, lookup).model_dump(),
        format_detail=shown.format_detail,
        sharing_condition=shown.sharing_condition,
        not_shared_reason=shown.not_shared_reason,
        legal_basis_kind=shown.legal_basis_kind,
        legal_basis=shown.legal_basis,
        open_condition=shown.open_condition,
        items=[Item.model_validate(i) for i in items.items],
        hidden_items=items.hidden,
        related=lookup.related(shown.related_ids or []),
        secrecy=secrecy(shown),
        working=version_out(working, lookup, seen) if working is not None else None,
    )
