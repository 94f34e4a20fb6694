"""信息资源分类 (M15): the three classes, their sub-classes and who leads each one."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.catalog.models import CatalogClass
from govshare.catalog.schemas import CatalogClassCreate, CatalogClassUpdate
from govshare.catalog.vocab import ClassKind
from govshare.errors import Conflict, Invalid, NotFound
from govshare.orgs.models import Organisation, OrgKind

# The classes of M15 with their one-digit codes; sub-classes add two digits (101 人口, …).
TOP_CLASSES = [
    ("1", "基础信息资源", ClassKind.base),
    ("2", "主题信息资源", ClassKind.theme),
    ("3", "部门信息资源", ClassKind.department),
]
BASE_SUBCLASSES = ["人口", "法人", "自然资源和空间地理", "社会信用", "电子证照"]
THEME_SUBCLASSES = [
    "健康保障",
    "社会保障",
    "食品药品安全",
    "安全生产",
    "价格监管",
    "能源安全",
    "信用体系",
    "城乡建设",
    "社区治理",
    "生态环保",
]


def ensure_top_classes(db: Session) -> None:
    """Create the three classes of M15 if they are missing (idempotent)."""
    for code, name, kind in TOP_CLASSES:
        if db.scalar(select(CatalogClass.id).where(CatalogClass.code == code)) is None:
            db.add(CatalogClass(code=code, name=name, kind=kind.value))
    db.flush()


def by_code(db: Session, code: str) -> CatalogClass | None:
    return db.scalar(select(CatalogClass).where(CatalogClass.code == code))


def list_classes(db: Session, *, include_inactive: bool = False) -> list[CatalogClass]:
    """Every class and sub-class, ordered by code (classes before their sub-classes)."""
    stmt = select(CatalogClass).order_by(CatalogClass.code)
    if not include_inactive:
        stmt = stmt.where(CatalogClass.is_active.is_(True))
    return list(db.scalars(stmt))


def department_class(db: Session, org_id: int) -> CatalogClass | None:
    """The 部门 sub-class of one department, if the Bureau has opened it."""
    return db.scalar(
        select(CatalogClass).where(
            CatalogClass.kind == ClassKind.department.value,
            CatalogClass.parent_id.is_not(None),
            CatalogClass.lead_org_id == org_id,
        )
    )


def _next_subclass_code(db: Session, parent: CatalogClass) -> str:
    used = db.scalar(select(func.count()).where(CatalogClass.parent_id == parent.id)) or 0
    number = used + 1
    while by_code(db, f"{parent.code}{number:02d}") is not None:
        number += 1
    if number > 99:
        raise Invalid(
            "该大类下的小类已满 99 个，请停用不再使用的小类后联系运维人员。", "No sub-class codes left."
        )
    return f"{parent.code}{number:02d}"


def create_class(db: Session, *, actor: Actor, data: CatalogClassCreate) -> CatalogClass:
    """Open a sub-class under 基础, 主题 or 部门 (the Bureau edits the list, M15(4))."""
    require(actor, Action.catalog_classes)
    parent = by_code(db, data.parent)
    if parent is None:
        raise NotFound("找不到该大类。", f"class {data.parent} not found.")
    kind = ClassKind(parent.kind)
    lead = _lead_org(db, data.lead_org_id, kind)
    if db.scalar(
        select(CatalogClass.id).where(CatalogClass.parent_id == parent.id, CatalogClass.name == data.name)
    ):
        raise Conflict(
            f"“{parent.name}”下已有名为“{data.name}”的小类。",
            "Duplicate sub-class name.",
            details={"field": "name"},
        )
    if kind is ClassKind.department and department_class(db, lead.id) is not None:  # type: ignore[union-attr]
        raise Conflict(
            "该部门已有部门信息资源小类。",
            "The department already has a sub-class.",
            details={"field": "lead_org_id"},
        )
    cls = CatalogClass(
        code=_next_subclass_code(db, parent),
        name=data.name,
        kind=kind.value,
        parent_id=parent.id,
        lead_org_id=lead.id if lead else None,
        description=data.description,
    )
    db.add(cls)
    db.flush()
    audit.record(
        db,
        EventType.catalog_class_created,
        actor=actor,
        obj=cls,
        details={"code": cls.code, "name": cls.name, "lead_org_id": cls.lead_org_id},
    )
    return cls


def _lead_org(db: Session, org_id: int | None, kind: ClassKind) -> Organisation | None:
    if org_id is None:
        if kind is ClassKind.department:
            raise Invalid(
                "部门信息资源小类必须指定所属部门。",
                "A department sub-class needs its department.",
                details={"field": "lead_org_id"},
            )
        return None
    org = db.get(Organisation, org_id)
    if org is None or not org.is_active or org.kind == OrgKind.enterprise.value:
        raise Invalid(
            "牵头部门应为在用的政务部门。",
            "lead_org_id must be an active government body.",
            details={"field": "lead_org_id"},
        )
    return org


def update_class(db: Session, *, actor: Actor, class_id: int, data: CatalogClassUpdate) -> CatalogClass:
    require(actor, Action.catalog_classes)
    cls = db.get(CatalogClass, class_id)
    if cls is None or cls.parent_id is None:
        raise NotFound("找不到该小类（大类不能修改）。", f"sub-class #{class_id} not found.")
    if data.version != cls.version:
        raise Conflict(
            "该分类已被他人修改，请刷新后重新编辑。",
            "Stale class version.",
            details={"current_version": cls.version},
        )
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if "lead_org_id" in changes:
        _lead_org(db, changes["lead_org_id"], ClassKind(cls.kind))
    before = {k: getattr(cls, k) for k in changes}
    for key, value in changes.items():
        if value is not None or key in ("lead_org_id", "description"):
            setattr(cls, key, value)
    db.flush()
    audit.record(
        db,
        EventType.catalog_class_updated,
        actor=actor,
        obj=cls,
        details={"before": before, "after": {k: getattr(cls, k) for k in changes}},
    )
    return cls


def check_use(db: Session, cls: CatalogClass | None, org_id: int, code: str) -> CatalogClass:
    """The sub-class `code` as department `org_id` may file an entry under it, or Invalid."""
    if cls is None or cls.parent_id is None or not cls.is_active:
        raise Invalid(
            f"信息资源分类“{code}”不存在或已停用，请选择一个小类（如 101 人口）。",
            f"category: unknown or inactive sub-class {code}.",
            details={"field": "category"},
        )
    if cls.lead_org_id is not None and cls.lead_org_id != org_id:
        lead = db.get(Organisation, cls.lead_org_id)
        who = lead.name if lead else "牵头部门"
        what = "部门信息资源" if cls.kind == ClassKind.department.value else f"“{cls.name}”类目录"
        raise Invalid(
            f"{what}由{who}负责编制和维护（第十五条第三、四项），本单位不能在该分类下编目。",
            f"category: sub-class {code} is compiled by its lead department only (M15(3)(4)).",
            details={"field": "category"},
        )
    return cls
