"""The published catalog as DCAT-AP style JSON-LD, so that CKAN (ckanext-dcat's RDF harvester) and
other DCAT harvesters can read it.

One `dcat:Catalog` with a `dcat:Dataset` per published entry visible to the caller, showing the
published version (never a draft or a change under review). Terms DCAT has no place for — the
sharing and opening attributes of M14/M15, the items (信息项) — use the platform's namespace `gs:`.
Every node the platform can show has the address of its page as `@id`, so the URIs are stable
for harvesters (ckanext-dcat keys a harvested dataset on its URI). docs/catalog-exchange.md
explains the mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.catalog import disclosure, present
from govshare.catalog.exchange import filters_used, visible_entries
from govshare.catalog.models import Resource, ResourceVersion
from govshare.catalog.search import Filters
from govshare.catalog.vocab import (
    DataType,
    EntryStatus,
    Importance,
    LegalBasisKind,
    OpenType,
    ProvisionMethod,
    ResourceFormat,
    Sensitivity,
    SharingType,
    UpdateCycle,
)
from govshare.db import utcnow
from govshare.orgs.models import Organisation, OrgKind

MEDIA_TYPE = "application/ld+json"
LANGUAGE = "zh-CN"
CHINESE = "http://publications.europa.eu/resource/authority/language/ZHO"
FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
# 更新周期 → the EU frequency vocabulary (DCAT-AP's controlled vocabulary for dct:accrualPeriodicity).
FREQUENCIES = {
    UpdateCycle.realtime: "CONT",
    UpdateCycle.daily: "DAILY",
    UpdateCycle.weekly: "WEEKLY",
    UpdateCycle.monthly: "MONTHLY",
    UpdateCycle.quarterly: "QUARTERLY",
    UpdateCycle.half_yearly: "ANNUAL_2",
    UpdateCycle.yearly: "ANNUAL",
    UpdateCycle.irregular: "IRREG",
}
NAMESPACE_PATH = "ns/catalog#"


def namespace(base: str) -> str:
    """The platform's vocabulary namespace (`gs:`) under the platform's address `base` (ends in /)."""
    return base + NAMESPACE_PATH


def context(base: str) -> dict[str, str]:
    return {
        "dcat": "http://www.w3.org/ns/dcat#",
        "dct": "http://purl.org/dc/terms/",
        "foaf": "http://xmlns.com/foaf/0.1/",
        "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
        "skos": "http://www.w3.org/2004/02/skos/core#",
        "owl": "http://www.w3.org/2002/07/owl#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "gs": namespace(base),
    }


def _zh(text: str) -> dict[str, str]:
    return {"@value": text, "@language": LANGUAGE}


def _datetime(value: datetime | None) -> dict[str, str] | None:
    if value is None:
        return None
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return {"@value": moment.astimezone(UTC).isoformat(timespec="seconds"), "@type": "xsd:dateTime"}


def _concept(term: str, label: str) -> dict[str, Any]:
    """A term of the platform vocabulary with its Chinese label (`term` is a `gs:` compact IRI)."""
    return {"@id": term, "@type": "skos:Concept", "skos:prefLabel": _zh(label)}


def _agent(base: str, org: Organisation) -> dict[str, Any]:
    return {"@id": f"{base}orgs/{org.id}", "@type": "foaf:Agent", "foaf:name": _zh(org.name)}


def _compact(node: dict[str, Any]) -> dict[str, Any]:
    """Leave out the properties an entry does not have, rather than stating empty values."""
    return {k: v for k, v in node.items() if v is not None and v != [] and v != ""}


def _item(item: dict[str, Any]) -> dict[str, Any]:
    return _compact(
        {
            "@type": "gs:Item",
            "gs:name": item["name"],
            "dct:title": _zh(item["title"]),
            "gs:dataType": _concept(f"gs:datatype-{item['data_type']}", DataType(item["data_type"]).label),
            "gs:length": item.get("length"),
            "gs:isKey": bool(item.get("is_key")),
            "gs:queryable": bool(item.get("queryable")),
            "gs:sensitivity": _concept(
                f"gs:sensitivity-{item['sensitivity']}", Sensitivity(item["sensitivity"]).label
            ),
            "gs:importance": _concept(
                f"gs:importance-{item.get('importance') or 'general'}",
                Importance(item.get("importance") or "general").label,
            ),
            "gs:element": item.get("element"),
            "gs:authoritative": bool(item.get("authoritative")),
            "dct:description": _zh(item["description"]) if item.get("description") else None,
        }
    )


def _access_rights(version: ResourceVersion) -> dict[str, Any]:
    """dct:accessRights: the sharing type (M14) as a term of the platform vocabulary with its label.

    Not the EU access-right vocabulary: 无条件共享 means shared with every government department
    through the platform, not PUBLIC (whether the public may have the data is the 开放类型).
    """
    sharing = SharingType(version.sharing_type)
    return {
        "@id": f"gs:sharing-{sharing.value}",
        "@type": "dct:RightsStatement",
        "rdfs:label": _zh(sharing.label),
    }


def _dataset(
    base: str,
    resource: Resource,
    version: ResourceVersion,
    lookup: present.Lookup,
    first_published: datetime | None,
    shown: disclosure.Shown,
) -> dict[str, Any]:
    page = f"{base}catalog/{resource.id}"
    cls = lookup.cls(version.class_id)
    method = ProvisionMethod(version.provision_method)
    fmt = ResourceFormat(version.format)
    basis_kind = LegalBasisKind(version.legal_basis_kind) if version.legal_basis_kind else None
    return _compact(
        {
            "@id": page,
            "@type": "dcat:Dataset",
            "dct:identifier": resource.code,
            "dct:title": _zh(version.name),
            "dct:description": _zh(version.summary),
            "dct:publisher": _agent(base, lookup.org(resource.org_id)),
            "dcat:theme": {
                "@id": f"{base}catalog?category={cls.code}",
                "@type": "skos:Concept",
                "skos:notation": cls.code,
                "skos:prefLabel": _zh(cls.name),
                "skos:inScheme": {"@id": f"{base}api/v1/catalog/classes"},
            },
            "dcat:keyword": [_zh(cls.name)],
            "dct:language": {"@id": CHINESE},
            "dct:accrualPeriodicity": {"@id": FREQUENCY + FREQUENCIES[UpdateCycle(version.update_cycle)]},
            "dct:issued": _datetime(first_published or version.published_at),
            "dct:modified": _datetime(version.published_at),
            "owl:versionInfo": str(version.number),
            "dcat:landingPage": {"@id": page},
            "dct:accessRights": _access_rights(version),
            "gs:sharingCondition": _zh(version.sharing_condition) if version.sharing_condition else None,
            "gs:notSharedReason": _zh(version.not_shared_reason) if version.not_shared_reason else None,
            "gs:legalBasisKind": _concept(f"gs:basis-{basis_kind.value}", basis_kind.label)
            if basis_kind
            else None,
            "gs:legalBasis": _zh(version.legal_basis) if version.legal_basis else None,
            "gs:openType": _concept(f"gs:open-{version.open_type}", OpenType(version.open_type).label),
            "gs:openCondition": _zh(version.open_condition) if version.open_condition else None,
            "dcat:distribution": [
                {
                    "@id": f"{page}#distribution",
                    "@type": "dcat:Distribution",
                    "dct:title": _zh(f"{version.name}（{method.label}）"),
                    "dct:format": version.format_detail or fmt.label,
                    "dcat:accessURL": {"@id": page},
                    "gs:provisionMethod": _concept(f"gs:provision-{method.value}", method.label),
                    "gs:format": _concept(f"gs:format-{fmt.value}", fmt.label),
                }
            ],
            "dct:conformsTo": {
                "@id": f"{page}#items",
                "@type": "dct:Standard",
                "dct:title": _zh(f"{version.name} 信息项"),
            },
            "gs:items": {"@list": [_item(i) for i in shown.items]},
            "gs:hiddenItems": shown.hidden or None,
        }
    )


def _first_published(db: Session) -> dict[int, datetime]:
    """When each entry was first published (dct:issued; dct:modified is its current version's)."""
    rows = db.execute(
        select(ResourceVersion.resource_id, func.min(ResourceVersion.published_at))
        .where(ResourceVersion.published_at.is_not(None))
        .group_by(ResourceVersion.resource_id)
    )
    return {resource_id: first for resource_id, first in rows if first is not None}


def _datasets(db: Session, *, actor: Actor, filters: Filters, base: str) -> Iterator[dict[str, Any]]:
    lookup = present.Lookup(db)
    first = _first_published(db)
    published = replace(filters, status=EntryStatus.published)
    viewer = disclosure.Viewer(db, actor)
    for resource, version in visible_entries(db, actor=actor, filters=published, published_only=True):
        shown = viewer.of(resource).shown(version.items)
        yield _dataset(base, resource, version, lookup, first.get(resource.id), shown)


def catalog(db: Session, *, actor: Actor, filters: Filters, base: str) -> dict[str, Any]:
    """The JSON-LD document of the published entries `actor` sees under `filters` (whatever their
    `status`); `base` is the platform's address ending in "/". Audited as a delivery of metadata."""
    require(actor, Action.catalog_view)
    datasets = list(_datasets(db, actor=actor, filters=filters, base=base))
    bureau = db.scalar(select(Organisation).where(Organisation.kind == OrgKind.bureau.value))
    audit.record(
        db,
        EventType.catalog_exported,
        actor=actor,
        object_type="resources",
        details={"format": "jsonld", "count": len(datasets), "filters": filters_used(filters)},
    )
    document = {
        "@context": context(base),
        "@id": f"{base}catalog",
        "@type": "dcat:Catalog",
        "dct:title": _zh("政务数据资源目录"),
        "dct:description": _zh(
            "经市数据资源管理局审核发布的政务数据资源目录（《政务信息资源目录编制指南（试行）》）。"
        ),
        "dct:language": {"@id": CHINESE},
        "dct:modified": _datetime(utcnow()),
        "foaf:homepage": {"@id": f"{base}catalog"},
        "dcat:themeTaxonomy": {"@id": f"{base}api/v1/catalog/classes", "@type": "skos:ConceptScheme"},
        "dcat:dataset": datasets,
    }
    if bureau is not None:
        document["dct:publisher"] = _agent(base, bureau)
    return document
