"""One data, one source (一数一源, M12): standard data elements and their authoritative departments.

An item of an entry may refer to a data element and may claim that its department is the element's
authoritative source. A claim on an element that another department owns is a conflict: it is
recorded when the entry is submitted, shown to the Bureau, and the entry cannot be approved until
the Bureau has decided — keep the current owner (the department must drop its claim) or transfer
the element to the claimant.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, Role, require
from govshare.catalog.models import DataElement, ElementConflict, Resource, ResourceVersion
from govshare.catalog.schemas import ConflictDecision, DataElementIn
from govshare.catalog.vocab import ConflictStatus
from govshare.db import lock_row, utcnow
from govshare.errors import Conflict, Invalid, NotFound
from govshare.orgs import service as orgs
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams, paginate
from govshare.tasks import service as tasks

CONFLICT_TASK = "element_conflict"


def known_codes(db: Session, codes: Iterable[str]) -> set[str]:
    wanted = set(codes)
    if not wanted:
        return set()
    return set(db.scalars(select(DataElement.code).where(DataElement.code.in_(wanted))))


def by_code(db: Session, code: str) -> DataElement | None:
    return db.scalar(select(DataElement).where(DataElement.code == code))


def list_elements(
    db: Session, *, actor: Actor, params: PageParams, q: str | None = None
) -> tuple[list[DataElement], int]:
    require(actor, Action.catalog_view)
    stmt = select(DataElement)
    if q:
        stmt = stmt.where(DataElement.name.contains(q) | DataElement.code.contains(q.upper()))
    return paginate(db, stmt.order_by(DataElement.code), params)


def all_elements(db: Session) -> list[DataElement]:
    return list(db.scalars(select(DataElement).order_by(DataElement.code)))


def _source(db: Session, org_id: int | None) -> None:
    if org_id is not None and db.get(Organisation, org_id) is None:
        raise Invalid(
            "权威来源部门不存在。", "source_org_id: unknown organisation.", details={"field": "source_org_id"}
        )


def create_element(db: Session, *, actor: Actor, data: DataElementIn) -> DataElement:
    require(actor, Action.element_manage)
    for column, value, label in (
        (DataElement.code, data.code, "编码"),
        (DataElement.name, data.name, "名称"),
    ):
        if db.scalar(select(DataElement.id).where(column == value)) is not None:
            raise Conflict(
                f"数据元{label}“{value}”已存在。",
                f"{column.key} already in use.",
                details={"field": column.key},
            )
    _source(db, data.source_org_id)
    element = DataElement(**data.model_dump(mode="json"))
    db.add(element)
    db.flush()
    audit.record(
        db,
        EventType.element_created,
        actor=actor,
        obj=element,
        details={"code": element.code, "name": element.name, "source_org_id": element.source_org_id},
    )
    return element


def set_source(
    db: Session, *, actor: Actor, element_id: int, source_org_id: int | None, version: int
) -> DataElement:
    """Name the authoritative source department of an element (the Bureau decides, M12)."""
    require(actor, Action.element_manage)
    element = db.get(DataElement, element_id)
    if element is None:
        raise NotFound("找不到该数据元。", f"Data element #{element_id} not found.")
    if version != element.version:
        raise Conflict(
            "该数据元已被他人修改，请刷新后重试。",
            "Stale element version.",
            details={"current_version": element.version},
        )
    _source(db, source_org_id)
    before = element.source_org_id
    element.source_org_id = source_org_id
    db.flush()
    audit.record(
        db,
        EventType.element_updated,
        actor=actor,
        obj=element,
        details={"source_org_id": {"before": before, "after": source_org_id}},
    )
    return element


def _claims(db: Session, version: ResourceVersion) -> list[tuple[dict[str, object], DataElement]]:
    claimed = [i for i in version.items if i.get("authoritative") and i.get("element")]
    if not claimed:
        return []
    found = {
        e.code: e
        for e in db.scalars(
            select(DataElement).where(DataElement.code.in_({str(i["element"]) for i in claimed}))
        )
    }
    return [(item, found[str(item["element"])]) for item in claimed if str(item["element"]) in found]


def detect_conflicts(
    db: Session, *, actor: Actor, resource: Resource, version: ResourceVersion
) -> list[ElementConflict]:
    """Record a conflict for each item of `version` that claims an element owned by another department."""
    opened = []
    for item, element in _claims(db, version):
        if element.source_org_id is None or element.source_org_id == resource.org_id:
            continue
        exists = db.scalar(
            select(ElementConflict.id).where(
                ElementConflict.element_id == element.id,
                ElementConflict.version_id == version.id,
                ElementConflict.item_name == item["name"],
            )
        )
        if exists is not None:
            continue
        conflict = ElementConflict(
            element_id=element.id,
            resource_id=resource.id,
            version_id=version.id,
            item_name=str(item["name"]),
            claimant_org_id=resource.org_id,
            owner_org_id=element.source_org_id,
            status=ConflictStatus.open.value,
        )
        db.add(conflict)
        db.flush()
        opened.append(conflict)
        audit.record(
            db,
            EventType.element_conflict_opened,
            actor=actor,
            obj=conflict,
            org_id=resource.org_id,
            details={
                "element": element.code,
                "resource": resource.code,
                "item": item["name"],
                "owner_org_id": element.source_org_id,
            },
        )
        bureau = orgs.bureau(db)
        if bureau is not None:
            tasks.open_task(
                db,
                kind=CONFLICT_TASK,
                title=f"一数一源冲突：{element.name}（{resource.code}）",
                link=f"/catalog/conflicts/{conflict.id}",
                org_id=bureau.id,
                subject_type="element_conflicts",
                subject_id=conflict.id,
                assignee_role=Role.bureau_reviewer,
            )
    return opened


def check_authority(db: Session, *, resource: Resource, version: ResourceVersion) -> None:
    """Refuse approval while an item claims an element another department owns (M12)."""
    open_conflict = db.scalar(
        select(ElementConflict).where(
            ElementConflict.version_id == version.id, ElementConflict.status == ConflictStatus.open.value
        )
    )
    if open_conflict is not None:
        raise Conflict(
            "该条目存在未处理的一数一源冲突，请先在“一数一源冲突”中作出决定。",
            "An element conflict of this version is still open.",
            details={"conflict_id": open_conflict.id},
        )
    for item, element in _claims(db, version):
        if element.source_org_id not in (None, resource.org_id):
            owner = db.get(Organisation, element.source_org_id)
            raise Invalid(
                f"信息项“{item['title']}”声明为数据元“{element.name}”的权威来源，但其权威来源为"
                f"{owner.name if owner else '其他部门'}；请退回提供部门取消该声明。",
                f"item {item['name']} claims element {element.code} owned by another department.",
                details={"field": "items"},
            )


def claim_unowned(db: Session, *, actor: Actor, resource: Resource, version: ResourceVersion) -> None:
    """On approval, an element nobody owned yet gets the claiming department as its source."""
    for item, element in _claims(db, version):
        if element.source_org_id is None:
            element.source_org_id = resource.org_id
            db.flush()
            audit.record(
                db,
                EventType.element_updated,
                actor=actor,
                obj=element,
                details={
                    "source_org_id": {"before": None, "after": resource.org_id},
                    "by_claim_of": resource.code,
                    "item": item["name"],
                },
            )


def list_conflicts(
    db: Session, *, actor: Actor, status: ConflictStatus | None = None
) -> list[ElementConflict]:
    require(actor, Action.element_resolve)
    stmt = select(ElementConflict).order_by(
        ElementConflict.status != ConflictStatus.open.value,
        ElementConflict.created_at.desc(),
        ElementConflict.id.desc(),
    )
    if status is not None:
        stmt = stmt.where(ElementConflict.status == status.value)
    return list(db.scalars(stmt.limit(500)))


def get_conflict(db: Session, *, actor: Actor, conflict_id: int) -> ElementConflict:
    require(actor, Action.element_resolve)
    conflict = db.get(ElementConflict, conflict_id)
    if conflict is None:
        raise NotFound("找不到该冲突记录。", f"Conflict #{conflict_id} not found.")
    return conflict


def resolve(db: Session, *, actor: Actor, conflict_id: int, data: ConflictDecision) -> ElementConflict:
    """The Bureau keeps the element's owner or transfers it to the claimant."""
    conflict = get_conflict(db, actor=actor, conflict_id=conflict_id)
    conflict = lock_row(db, ElementConflict, conflict.id)  # a decision taken meanwhile is seen
    if conflict.status != ConflictStatus.open.value:
        raise Conflict("该冲突已处理。", "The conflict is already resolved.")
    element = db.get(DataElement, conflict.element_id)
    assert element is not None
    if data.resolution == "transfer":
        element.source_org_id = conflict.claimant_org_id
        conflict.status = ConflictStatus.transferred.value
    else:
        conflict.status = ConflictStatus.kept.value
    conflict.resolution_comment = data.comment
    conflict.resolved_by = actor.user_id
    conflict.resolved_at = utcnow()
    db.flush()
    tasks.close_tasks(db, subject_type="element_conflicts", subject_id=conflict.id)
    audit.record(
        db,
        EventType.element_conflict_resolved,
        actor=actor,
        obj=conflict,
        details={
            "element": element.code,
            "resolution": data.resolution,
            "comment": data.comment,
            "source_org_id": element.source_org_id,
        },
    )
    return conflict
