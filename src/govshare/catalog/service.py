"""Compile, review, version and retire catalog entries (M9–M11, M14, M15, M20).

An entry changes only through versions: the department edits its working version (a draft, or a
version returned by the Bureau), records the 保密审查 (M20), and submits it; the Bureau reviewer
approves it — it becomes the published version, the one everybody sees — or returns it with
comments per field. A published entry keeps being shown while a change or its retirement is under
review. Every rule of `rules` is checked on every save, not only on submission.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, Role, allowed, require
from govshare.catalog import classes, disclosure, elements, rules, search
from govshare.catalog.models import CatalogClass, Resource, ResourceVersion
from govshare.catalog.schemas import (
    Item,
    Metadata,
    ResourceCreate,
    ResourceUpdate,
    ReviewDecision,
    SecrecyReview,
)
from govshare.catalog.vocab import (
    ChangeKind,
    ClassKind,
    EntryStatus,
    SecrecyConclusion,
    VersionState,
)
from govshare.classification import scheme as classification
from govshare.db import lock_row, utcnow
from govshare.errors import Conflict, Invalid, NotFound
from govshare.orgs import service as orgs
from govshare.orgs.models import Organisation
from govshare.tasks import service as tasks
from govshare.workdays import BEIJING, Calendar
from govshare.workdays import today as beijing_today

EDITABLE = (VersionState.draft.value, VersionState.returned.value)
VISIBLE_TO_ALL = (VersionState.published.value, VersionState.superseded.value)
REVIEW_TASK = "catalog_review"
RETURNED_TASK = "catalog_returned"


# --- reading -------------------------------------------------------------------------------------


def can_see_unpublished(actor: Actor, resource: Resource) -> bool:
    return allowed(actor, Action.catalog_view_unpublished, resource)


def get_resource(db: Session, *, actor: Actor, resource_id: int) -> Resource:
    """The entry, if `actor` may see it (an unpublished entry only in its department and the Bureau)."""
    require(actor, Action.catalog_view)
    resource = db.get(Resource, resource_id)
    if resource is None or (
        resource.published_version_id is None and not can_see_unpublished(actor, resource)
    ):
        raise NotFound("找不到该目录条目。", f"Resource #{resource_id} not found.")
    return resource


def shown_version(db: Session, resource: Resource) -> ResourceVersion:
    """The version people see: the published one, or the working draft before the first publication
    (or, for an entry whose only draft was discarded, that last draft)."""
    version_id = resource.published_version_id or resource.working_version_id
    version = (
        db.get(ResourceVersion, version_id)
        if version_id is not None
        else db.scalar(
            select(ResourceVersion)
            .where(ResourceVersion.resource_id == resource.id)
            .order_by(ResourceVersion.number.desc())
            .limit(1)
        )
    )
    assert version is not None, f"resource {resource.id} has no version"
    return version


def working_version(db: Session, *, actor: Actor, resource: Resource) -> ResourceVersion | None:
    """The draft, returned or submitted version, if there is one and `actor` may see it."""
    if resource.working_version_id is None or not can_see_unpublished(actor, resource):
        return None
    return db.get(ResourceVersion, resource.working_version_id)


def list_versions(db: Session, *, actor: Actor, resource_id: int) -> list[ResourceVersion]:
    resource = get_resource(db, actor=actor, resource_id=resource_id)
    stmt = select(ResourceVersion).where(ResourceVersion.resource_id == resource.id)
    if not can_see_unpublished(actor, resource):
        stmt = stmt.where(ResourceVersion.state.in_(VISIBLE_TO_ALL))
    return list(db.scalars(stmt.order_by(ResourceVersion.number.desc())))


def get_version(db: Session, *, actor: Actor, resource_id: int, number: int) -> ResourceVersion:
    resource = get_resource(db, actor=actor, resource_id=resource_id)
    version = db.scalar(
        select(ResourceVersion).where(
            ResourceVersion.resource_id == resource.id, ResourceVersion.number == number
        )
    )
    if version is None or (version.state not in VISIBLE_TO_ALL and not can_see_unpublished(actor, resource)):
        raise NotFound("找不到该版本。", f"Version {number} of resource #{resource_id} not found.")
    return version


# --- snapshots and diffs -------------------------------------------------------------------------


def snapshot(db: Session, version: ResourceVersion) -> dict[str, Any]:
    """The metadata of a version as plain values (category as its code, related as codes)."""
    cls = db.get(CatalogClass, version.class_id)
    related = [
        code
        for (code,) in db.execute(
            select(Resource.code).where(Resource.id.in_(version.related_ids or [])).order_by(Resource.code)
        )
    ]
    return {
        "category": f"{cls.code} {cls.name}" if cls else "",
        **{
            name: getattr(version, name) for name in rules.FIELD_LABELS if name not in ("category", "related")
        },
        "related": related,
    }


ITEM_FIELD_LABELS = {
    "title": "中文名称",
    "data_type": "数据类型",
    "length": "长度",
    "is_key": "业务主键",
    "queryable": "查询项",
    "sensitivity": "敏感级别",
    "importance": "重要程度",
    "element": "数据元",
    "authoritative": "权威来源",
    "description": "说明",
}
# Items are stored as dicts, and those saved before an attribute existed (queryable) lack its key;
# they read as the attribute's default, so comparing them with a newer version shows no change.
_ITEM_DEFAULTS = {name: f.default for name, f in Item.model_fields.items() if not f.is_required()}


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    before: Any
    after: Any


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Field-by-field differences; items are compared by field name (added, removed, changed)."""
    changes: list[Change] = []
    for name, label in rules.FIELD_LABELS.items():
        if name == "items":
            continue
        if before.get(name) != after.get(name):
            changes.append(Change(name, label, before.get(name), after.get(name)))
    old = {i["name"]: i for i in before.get("items") or []}
    new = {i["name"]: i for i in after.get("items") or []}
    for name in [*old, *(n for n in new if n not in old)]:
        if name not in new:
            changes.append(Change(f"items.{name}", f"信息项 {old[name]['title']}（删除）", old[name], None))
        elif name not in old:
            changes.append(Change(f"items.{name}", f"信息项 {new[name]['title']}（新增）", None, new[name]))
        else:
            for key, label in ITEM_FIELD_LABELS.items():
                was, now = (i.get(key, _ITEM_DEFAULTS.get(key)) for i in (old[name], new[name]))
                if was != now:
                    title = new[name]["title"]
                    changes.append(Change(f"items.{name}.{key}", f"信息项 {title}：{label}", was, now))
    if [i["name"] for i in before.get("items") or []] != [i["name"] for i in after.get("items") or []] and (
        set(old) == set(new)
    ):
        changes.append(Change("items.order", "信息项顺序", list(old), list(new)))
    return changes


def diff_versions(db: Session, *, actor: Actor, resource_id: int, a: int, b: int) -> list[Change]:
    first = get_version(db, actor=actor, resource_id=resource_id, number=a)
    second = get_version(db, actor=actor, resource_id=resource_id, number=b)
    seen = disclosure.for_actor(
        db, actor=actor, resource=get_resource(db, actor=actor, resource_id=resource_id)
    )
    before, after = snapshot(db, first), snapshot(db, second)
    # Restricted items (S9) the actor may not see are left out of both sides: not even their change shows.
    for side in (before, after):
        side["items"] = seen.shown(side.get("items") or []).items
    return diff(before, after)


# --- compiling -----------------------------------------------------------------------------------


def _apply(version: ResourceVersion, meta: Metadata, cls: CatalogClass) -> None:
    version.class_id = cls.id
    for name in rules.FIELD_LABELS:
        if name in ("category", "items", "related"):
            continue
        value = getattr(meta, name)
        setattr(version, name, value.value if hasattr(value, "value") else value)
    version.items = [item.model_dump(mode="json") for item in meta.items]
    version.related_ids = list(dict.fromkeys(meta.related))


def _validate(db: Session, *, meta: Metadata, org_id: int, resource_id: int | None) -> CatalogClass:
    cls = classes.check_use(db, classes.by_code(db, meta.category), org_id, meta.category)
    rules.check_sharing(meta, ClassKind(cls.kind))
    rules.check_items(meta, elements.known_codes(db, {i.element for i in meta.items if i.element}))
    if meta.open_type.value == "open":
        classification.openable(classification.load(db), [i.model_dump(mode="json") for i in meta.items])
    for related_id in meta.related:
        target = db.get(Resource, related_id)
        if target is None or target.id == resource_id or target.published_version_id is None:
            raise Invalid(
                f"关联资源 #{related_id} 不存在或尚未发布，只能关联已发布的其他目录条目。",
                f"related: #{related_id} is not another published entry.",
                details={"field": "related"},
            )
    return cls


def _show(db: Session, resource: Resource, version: ResourceVersion) -> None:
    """Copy what lists and search need from the version people see onto the entry row."""
    org = db.get(Organisation, resource.org_id)
    resource.class_id = version.class_id
    for name in (
        "name",
        "summary",
        "format",
        "provision_method",
        "sharing_type",
        "open_type",
        "update_cycle",
    ):
        setattr(resource, name, getattr(version, name))
    resource.version_number = version.number
    resource.importance, resource.sensitivity = classification.highest(version.items)
    _index(db, resource, version, classification.load(db), org)


def _index(
    db: Session,
    resource: Resource,
    version: ResourceVersion,
    levels: classification.Scheme,
    org: Organisation | None,
) -> None:
    """Search text of the entry; items whose metadata is restricted (S9) are not searchable."""
    resource.search_text = search.search_text(
        resource.code,
        version.name,
        version.summary,
        org.name if org else None,
        " ".join(item["title"] for item in version.items if not levels.restricted(item)),
    ).lower()
    db.flush()
    search.index(db, resource)


def reindex_all(db: Session) -> int:
    """Rebuild every entry's search text (after the scheme changes which items are restricted)."""
    levels = classification.load(db)
    orgs = {o.id: o for o in db.scalars(select(Organisation))}
    count = 0
    for resource in db.scalars(select(Resource)).all():
        version_id = resource.published_version_id or resource.working_version_id
        version = db.get(ResourceVersion, version_id) if version_id else None
        if version is not None:
            _index(db, resource, version, levels, orgs.get(resource.org_id))
            count += 1
    return count


def _new_code(db: Session, cls: CatalogClass) -> str:
    """分类码/顺序码: the sub-class code and the next number of its sequence, never given out twice."""
    seq = db.execute(
        update(CatalogClass)
        .where(CatalogClass.id == cls.id)
        .values(next_seq=CatalogClass.next_seq + 1)
        .returning(CatalogClass.next_seq)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return f"{cls.code}/{seq - 1:06d}"


def _compile_org(db: Session, actor: Actor, org_id: int | None) -> Organisation:
    org_id = org_id if org_id is not None else actor.org_id
    if org_id is None:
        raise Invalid("请指定编目单位。", "org_id is required for this actor.", details={"field": "org_id"})
    org = (
        orgs.get_org(db, actor=actor, org_id=org_id)
        if actor.kind != "operator"
        else db.get(Organisation, org_id)
    )
    if org is None:
        raise NotFound("找不到该单位。", f"Organisation #{org_id} not found.")
    require(actor, Action.catalog_compile, org)
    return org


def create_resource(
    db: Session, *, actor: Actor, data: ResourceCreate, org_id: int | None = None
) -> Resource:
    """A new entry of the actor's department, as a draft (version 1)."""
    org = _compile_org(db, actor, org_id)
    cls = _validate(db, meta=data, org_id=org.id, resource_id=None)
    resource = Resource(
        code=_new_code(db, cls),
        org_id=org.id,
        class_id=cls.id,
        status=EntryStatus.draft.value,
        search_text="",
        name=data.name,
        summary=data.summary,
        format=data.format.value,
        provision_method=data.provision_method.value,
        sharing_type=data.sharing_type.value,
        open_type=data.open_type.value,
        update_cycle=data.update_cycle.value,
    )
    db.add(resource)
    db.flush()
    version = ResourceVersion(
        resource_id=resource.id,
        org_id=org.id,
        number=1,
        state=VersionState.draft.value,
        change_kind=ChangeKind.create.value,
        created_by=actor.user_id,
        field_comments={},
    )
    _apply(version, data, cls)
    db.add(version)
    db.flush()
    resource.working_version_id = version.id
    _show(db, resource, version)
    audit.record(
        db,
        EventType.catalog_created,
        actor=actor,
        obj=resource,
        org_id=org.id,
        details={"code": resource.code, "name": version.name, "sharing_type": version.sharing_type},
    )
    return resource


def _check_lock(resource: Resource, lock_version: int) -> None:
    if lock_version != resource.lock_version:
        raise Conflict(
            "该目录条目已被他人修改，请刷新后重新编辑。",
            "The entry was changed by someone else.",
            details={"current_version": resource.lock_version},
        )


def _copy(
    version: ResourceVersion, *, number: int, kind: ChangeKind, actor: Actor, reason: str | None
) -> ResourceVersion:
    fields = {
        name: getattr(version, name)
        for name in rules.FIELD_LABELS
        if name not in ("category", "related", "items")
    }
    return ResourceVersion(
        resource_id=version.resource_id,
        org_id=version.org_id,
        number=number,
        state=VersionState.draft.value,
        change_kind=kind.value,
        change_reason=reason,
        class_id=version.class_id,
        items=[dict(i) for i in version.items],
        related_ids=list(version.related_ids or []),
        created_by=actor.user_id,
        field_comments={},
        **fields,
    )


def _next_number(db: Session, resource: Resource) -> int:
    return (
        db.scalar(select(func.max(ResourceVersion.number)).where(ResourceVersion.resource_id == resource.id))
        or 0
    ) + 1


def update_resource(db: Session, *, actor: Actor, resource_id: int, data: ResourceUpdate) -> Resource:
    """Replace the working version's metadata; a published entry first gets a new working version
    (a change, e.g. after 机构改革, M10 ¶3) while its published version stays visible."""
    resource = get_resource(db, actor=actor, resource_id=resource_id)
    require(actor, Action.catalog_compile, resource)
    _check_lock(resource, data.lock_version)
    if resource.status == EntryStatus.retired.value:
        raise Invalid("已撤销的目录条目不能再修改。", "The entry is retired.")
    version = db.get(ResourceVersion, resource.working_version_id) if resource.working_version_id else None
    if version is None:
        if not data.change_reason:
            raise Invalid(
                "变更已发布的目录必须说明变更原因（如机构改革、职责调整）。",
                "change_reason is required to change a published entry.",
                details={"field": "change_reason"},
            )
        version = _copy(
            shown_version(db, resource),
            number=_next_number(db, resource),
            kind=ChangeKind.change,
            actor=actor,
            reason=data.change_reason,
        )
        db.add(version)
        db.flush()
        resource.working_version_id = version.id
    elif version.state not in EDITABLE:
        raise Conflict("该版本已报送审核，审核结束前不能修改。", "The working version is under review.")
    elif version.change_kind == ChangeKind.retire.value:
        raise Invalid("撤销申请不能修改，如需修改请先放弃撤销申请。", "A retirement cannot be edited.")
    cls = _validate(db, meta=data, org_id=resource.org_id, resource_id=resource.id)
    before = snapshot(db, version)
    _apply(version, data, cls)
    if data.change_reason:
        version.change_reason = data.change_reason
    changes = diff(before, snapshot(db, version))
    if changes:
        # A 保密审查 covers exactly the content it saw (M20).
        version.secrecy_reviewer = version.secrecy_opinion = version.secrecy_conclusion = None
        version.secrecy_reviewed_on = None
        version.secrecy_recorded_by = None
    if version.state == VersionState.returned.value:
        version.state = VersionState.draft.value
    if resource.published_version_id is None:
        resource.status = EntryStatus.draft.value
        _show(db, resource, version)
    resource.updated_at = utcnow()
    db.flush()
    audit.record(
        db,
        EventType.catalog_updated,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={"version": version.number, "fields": [c.field for c in changes]},
    )
    return resource


def record_secrecy(db: Session, *, actor: Actor, resource_id: int, data: SecrecyReview) -> ResourceVersion:
    """Record the department's 保密审查 of the working version (M20)."""
    resource = get_resource(db, actor=actor, resource_id=resource_id)
    require(actor, Action.catalog_secrecy, resource)
    version = _editable_version(db, resource)
    if data.reviewed_on > beijing_today():
        raise Invalid(
            "审查日期不能晚于今天。", "reviewed_on is in the future.", details={"field": "reviewed_on"}
        )
    version.secrecy_reviewer = data.reviewer
    version.secrecy_reviewed_on = data.reviewed_on
    version.secrecy_conclusion = data.conclusion.value
    version.secrecy_opinion = data.opinion
    version.secrecy_recorded_by = actor.user_id
    db.flush()
    audit.record(
        db,
        EventType.catalog_secrecy_recorded,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={
            "version": version.number,
            "reviewer": data.reviewer,
            "reviewed_on": data.reviewed_on.isoformat(),
            "conclusion": data.conclusion.value,
        },
    )
    return version


def _editable_version(db: Session, resource: Resource) -> ResourceVersion:
    version = db.get(ResourceVersion, resource.working_version_id) if resource.working_version_id else None
    if version is None:
        raise Invalid("该条目没有正在编制的版本；请先修改目录，形成新版本。", "No working version.")
    if version.state not in EDITABLE:
        raise Conflict("该版本已报送审核，审核结束前不能再办理。", "The working version is under review.")
    return version


def _metadata_of(db: Session, version: ResourceVersion) -> Metadata:
    cls = db.get(CatalogClass, version.class_id)
    assert cls is not None
    values = {
        name: getattr(version, name)
        for name in Metadata.model_fields
        if name not in ("category", "items", "related")
    }
    return Metadata.model_validate(
        {
            **values,
            "category": cls.code,
            "items": [Item.model_validate(i) for i in version.items],
            "related": version.related_ids or [],
        }
    )


def submit(db: Session, *, actor: Actor, resource_id: int) -> ResourceVersion:
    """Send the working version to the Bureau (M10); needs a passed 保密审查 (M20)."""
    resource = get_resource(db, actor=actor, resource_id=resource_id)
    require(actor, Action.catalog_submit, resource)
    version = _editable_version(db, resource)
    if version.secrecy_conclusion is None:
        raise Invalid(
            "报送前须由本单位完成保密审查并登记审查人、日期和结论（第二十条）。",
            "A confidentiality review must be recorded before submission (M20).",
            details={"field": "secrecy"},
        )
    if version.secrecy_conclusion != SecrecyConclusion.passed.value:
        raise Invalid(
            "保密审查结论为涉及国家秘密，该资源不能通过平台共享，请调整信息项后重新审查。",
            "The confidentiality review did not pass.",
            details={"field": "secrecy"},
        )
    # The rules may have changed since the draft was saved (a class retired, a lead department set).
    _validate(db, meta=_metadata_of(db, version), org_id=resource.org_id, resource_id=resource.id)
    version.state = VersionState.submitted.value
    version.submitted_by = actor.user_id
    version.submitted_at = utcnow()
    if resource.published_version_id is None:
        resource.status = EntryStatus.submitted.value
    db.flush()
    elements.detect_conflicts(db, actor=actor, resource=resource, version=version)
    _open_review_task(db, resource, version)
    tasks.close_tasks(db, subject_type="resources", subject_id=resource.id, kind=RETURNED_TASK)
    audit.record(
        db,
        EventType.catalog_submitted,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={"version": version.number, "change_kind": version.change_kind},
    )
    return version


def _open_review_task(db: Session, resource: Resource, version: ResourceVersion) -> None:
    bureau = orgs.bureau(db)
    if bureau is None:
        return
    what = ChangeKind(version.change_kind).label
    tasks.open_task(
        db,
        kind=REVIEW_TASK,
        title=f"审核{what}：{version.name}（{resource.code}）",
        link=f"/catalog/{resource.id}/review",
        org_id=bureau.id,
        subject_type="resources",
        subject_id=resource.id,
        assignee_role=Role.bureau_reviewer,
    )


def retire(db: Session, *, actor: Actor, resource_id: int, reason: str) -> ResourceVersion:
    """Ask the Bureau to retire a published entry; it stays published until approved."""
    resource = get_resource(db, actor=actor, resource_id=resource_id)
    require(actor, Action.catalog_submit, resource)
    if resource.status == EntryStatus.retired.value or resource.published_version_id is None:
        raise Invalid(
            "只有已发布的目录条目才能申请撤销；未发布的草稿可以直接放弃。",
            "Only published entries are retired.",
        )
    if resource.working_version_id is not None:
        raise Conflict("该条目有正在办理的版本，请先报送或放弃它。", "A working version exists.")
    version = _copy(
        shown_version(db, resource),
        number=_next_number(db, resource),
        kind=ChangeKind.retire,
        actor=actor,
        reason=reason,
    )
    version.state = VersionState.submitted.value
    version.submitted_by = actor.user_id
    version.submitted_at = utcnow()
    db.add(version)
    db.flush()
    resource.working_version_id = version.id
    db.flush()
    _open_review_task(db, resource, version)
    audit.record(
        db,
        EventType.catalog_retire_requested,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={"version": version.number, "reason": reason},
    )
    return version


def discard(db: Session, *, actor: Actor, resource_id: int) -> Resource:
    """Drop the working draft. A never-published entry ends as retired (its code is never reused)."""
    resource = get_resource(db, actor=actor, resource_id=resource_id)
    require(actor, Action.catalog_compile, resource)
    version = _editable_version(db, resource)
    version.state = VersionState.discarded.value
    resource.working_version_id = None
    if resource.published_version_id is None:
        resource.status = EntryStatus.retired.value
    db.flush()
    tasks.close_tasks(db, subject_type="resources", subject_id=resource.id)
    audit.record(
        db,
        EventType.catalog_discarded,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={"version": version.number},
    )
    return resource


# --- review --------------------------------------------------------------------------------------


def review(db: Session, *, actor: Actor, resource_id: int, data: ReviewDecision) -> ResourceVersion:
    """The Bureau's decision on the submitted version (M10, M15(2): the Bureau accepts the basis)."""
    resource = get_resource(db, actor=actor, resource_id=resource_id)
    require(actor, Action.catalog_review, resource)
    # Two reviewers deciding at once: the second waits here, then finds nothing submitted.
    resource = lock_row(db, Resource, resource.id)
    version = (
        db.get(ResourceVersion, resource.working_version_id, populate_existing=True)
        if resource.working_version_id
        else None
    )
    if version is None or version.state != VersionState.submitted.value:
        raise Conflict("该条目没有待审核的版本（可能已被其他审核员处理）。", "Nothing is waiting for review.")
    now = utcnow()
    version.reviewed_by = actor.user_id
    version.reviewed_at = now
    version.review_comment = data.comment or None
    comments = {k: v.strip() for k, v in data.field_comments.items() if v and v.strip()}
    if data.decision == "return":
        if not data.comment and not comments:
            raise Invalid(
                "退回时请写明修改意见（总体意见或逐项意见）。",
                "A return needs a comment.",
                details={"field": "comment"},
            )
        version.state = VersionState.returned.value
        version.field_comments = comments
        if version.change_kind == ChangeKind.retire.value:
            version.state = VersionState.discarded.value  # a refused retirement leaves the entry as it was
            resource.working_version_id = None
        elif resource.published_version_id is None:
            resource.status = EntryStatus.returned.value
        if version.submitted_by is not None and version.change_kind != ChangeKind.retire.value:
            tasks.open_task(
                db,
                kind=RETURNED_TASK,
                title=f"目录被退回修改：{version.name}（{resource.code}）",
                link=f"/catalog/{resource.id}",
                org_id=resource.org_id,
                subject_type="resources",
                subject_id=resource.id,
                assignee_id=version.submitted_by,
            )
        event = EventType.catalog_returned
    else:
        elements.check_authority(db, resource=resource, version=version)
        previous = (
            db.get(ResourceVersion, resource.published_version_id) if resource.published_version_id else None
        )
        if previous is not None:
            previous.state = VersionState.superseded.value
        version.state = VersionState.published.value
        version.published_at = now
        resource.published_version_id = version.id
        resource.working_version_id = None
        resource.published_at = now
        resource.reviewed_at = now
        resource.status = (
            EntryStatus.retired.value
            if version.change_kind == ChangeKind.retire.value
            else EntryStatus.published.value
        )
        db.flush()
        _show(db, resource, version)
        elements.claim_unowned(db, actor=actor, resource=resource, version=version)
        event = EventType.catalog_approved
    db.flush()
    tasks.close_tasks(db, subject_type="resources", subject_id=resource.id, kind=REVIEW_TASK)
    audit.record(
        db,
        event,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={
            "version": version.number,
            "change_kind": version.change_kind,
            "comment": data.comment,
            "field_comments": comments,
        },
    )
    return version


@dataclass(frozen=True)
class QueueEntry:
    resource: Resource
    version: ResourceVersion
    provider: str
    age_days: int
    age_provisional: bool


def review_queue(db: Session, *, actor: Actor, today: date | None = None) -> list[QueueEntry]:
    """Submitted versions, oldest first, with their age in working days."""
    require(actor, Action.catalog_review)
    today = today or beijing_today()
    rows = db.execute(
        select(Resource, ResourceVersion, Organisation.name)
        .join(ResourceVersion, ResourceVersion.id == Resource.working_version_id)
        .join(Organisation, Organisation.id == Resource.org_id)
        .where(ResourceVersion.state == VersionState.submitted.value)
        .order_by(ResourceVersion.submitted_at, Resource.id)
    ).all()
    calendar = Calendar.load(db)  # the Bureau's holiday table counts, where it loaded a year
    queue = []
    for resource, version, provider in rows:
        submitted = (version.submitted_at or version.created_at).astimezone(BEIJING).date()
        age = calendar.working_days_between(submitted, today)
        queue.append(QueueEntry(resource, version, provider, age.days, age.provisional))
    return queue
