"""The data-asset register (数据资产登记, S8): every catalog resource with its level, owner, where its
data lives, where it stands in its life, how many rows the platform holds and when it last changed.

Bureau roles see the whole city; a department's data administrator, security officer and metadata
administrator see their own department's resources (`Action.asset_register_view`). The CSV export is
audited with the filters it used and the number of lines.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require, visible
from govshare.catalog.models import Resource
from govshare.catalog.schemas import OrgRef
from govshare.classification import scheme as classification
from govshare.classification.schemas import AssetOut
from govshare.errors import Invalid
from govshare.exchange import store
from govshare.exchange.models import Batch, ResourceFile
from govshare.exchange.service_models import ApiService
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams, paginate

LOCATIONS = {
    "store": "平台库表（交换库）",
    "file": "平台文件存储",
    "service": "接口服务（经平台代理）",
    "external": "部门系统（尚未汇聚到平台）",
}
# The lifecycle of an entry as the register shows it, from the catalog's statuses. 已销毁 is kept for
# resources whose data has been destroyed (S28/S29) once destruction records exist.
LIFECYCLE = {"draft": "编制中", "published": "已发布", "retired": "已撤销", "destroyed": "已销毁"}
_STATUS_LIFECYCLE = {
    "draft": "draft",
    "submitted": "draft",
    "returned": "draft",
    "published": "published",
    "retired": "retired",
}
MAX_EXPORT = 20_000


@dataclass(frozen=True)
class RegisterFilters:
    q: str | None = None
    org_id: int | None = None
    importance: str | None = None
    sensitivity: str | None = None
    lifecycle: str | None = None
    method: str | None = None  # table | file | api

    def check(self) -> None:
        for field, value, allowed in (
            ("importance", self.importance, classification.DIMENSIONS["importance"]),
            ("sensitivity", self.sensitivity, classification.DIMENSIONS["sensitivity"]),
            ("lifecycle", self.lifecycle, tuple(LIFECYCLE)),
            ("method", self.method, ("table", "file", "api")),
        ):
            if value is not None and value not in allowed:
                raise Invalid(
                    f"筛选条件 {field} 的取值应为：{'、'.join(allowed)}。",
                    f"{field} must be one of {', '.join(allowed)}.",
                    details={"field": field},
                )

    def used(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


def _query(actor: Actor, filters: RegisterFilters) -> Select[Resource]:
    filters.check()
    stmt = visible(actor, Action.asset_register_view, select(Resource), Resource)
    if filters.q:
        term = f"%{filters.q.strip()}%"
        stmt = stmt.where(or_(Resource.name.like(term), Resource.code.like(term)))
    if filters.org_id is not None:
        stmt = stmt.where(Resource.org_id == filters.org_id)
    if filters.importance:
        stmt = stmt.where(Resource.importance == filters.importance)
    if filters.sensitivity:
        stmt = stmt.where(Resource.sensitivity == filters.sensitivity)
    if filters.lifecycle:
        statuses = [s for s, stage in _STATUS_LIFECYCLE.items() if stage == filters.lifecycle]
        stmt = stmt.where(Resource.status.in_(statuses))
    if filters.method:
        stmt = stmt.where(Resource.provision_method == filters.method)
    return stmt.order_by(Resource.org_id, Resource.code)


def _live_rows(db: Session, resource: Resource, stored: set[int]) -> int | None:
    if resource.provision_method != "table" or resource.id not in stored:
        return None
    table = store.table_for(db, resource.id, [])
    return int(db.scalar(select(func.count()).select_from(table).where(table.c._retired_at.is_(None))) or 0)


def _assets(db: Session, resources: Sequence[Resource]) -> list[AssetOut]:
    ids = [r.id for r in resources]
    levels = classification.load(db)
    orgs = {
        o.id: o
        for o in db.scalars(select(Organisation).where(Organisation.id.in_({r.org_id for r in resources})))
    }
    batches: dict[int, datetime] = {
        rid: at
        for rid, at in db.execute(
            select(Batch.resource_id, func.max(Batch.received_at))
            .where(Batch.resource_id.in_(ids))
            .group_by(Batch.resource_id)
        )
    }
    files: dict[int, datetime] = {
        rid: at
        for rid, at in db.execute(
            select(ResourceFile.resource_id, func.max(ResourceFile.uploaded_at))
            .where(ResourceFile.resource_id.in_(ids))
            .group_by(ResourceFile.resource_id)
        )
    }
    services: dict[int, datetime] = {
        rid: at
        for rid, at in db.execute(
            select(ApiService.resource_id, ApiService.updated_at).where(ApiService.resource_id.in_(ids))
        )
    }
    stored = (
        store.resources_with_tables(db) if any(r.provision_method == "table" for r in resources) else set()
    )
    out = []
    for resource in resources:
        rows = _live_rows(db, resource, stored)
        if resource.provision_method == "file":
            location = "file" if resource.id in files else "external"
            data_at: datetime | None = files.get(resource.id)
        elif resource.provision_method == "api":
            location = "service" if resource.id in services else "external"
            data_at = services.get(resource.id)
        else:
            location = "store" if rows is not None else "external"
            data_at = batches.get(resource.id)
        lifecycle = _STATUS_LIFECYCLE.get(resource.status, "draft")
        org = orgs[resource.org_id]
        out.append(
            AssetOut(
                resource_id=resource.id,
                code=resource.code,
                name=resource.name,
                owner=OrgRef(id=org.id, code=org.code, name=org.name),
                importance=resource.importance,
                importance_label=levels.level("importance", resource.importance).label,
                sensitivity=resource.sensitivity,
                sensitivity_label=levels.level("sensitivity", resource.sensitivity).label,
                encryption_required=levels.of_item(
                    {"importance": resource.importance, "sensitivity": resource.sensitivity}
                ).encrypted,
                location=location,
                location_label=LOCATIONS[location],
                lifecycle=lifecycle,
                lifecycle_label=LIFECYCLE[lifecycle],
                rows=rows,
                last_update=max((t for t in (data_at, resource.updated_at) if t is not None), default=None),
            )
        )
    return out


def list_assets(
    db: Session, *, actor: Actor, filters: RegisterFilters, params: PageParams
) -> tuple[list[AssetOut], int]:
    """One page of the register the actor may see."""
    require(actor, Action.asset_register_view)
    resources, total = paginate(db, _query(actor, filters), params)
    return _assets(db, resources), total


CSV_HEADER = [
    "信息资源代码",
    "信息资源名称",
    "所属部门",
    "重要程度",
    "敏感程度",
    "须加密存储",
    "存储位置",
    "生命周期",
    "数据行数",
    "最近更新（UTC）",
]


def export_csv(db: Session, *, actor: Actor, filters: RegisterFilters) -> tuple[bytes, int]:
    """The whole register the actor may see under `filters` as CSV (UTF-8 with BOM, for Excel);
    audited. Returns the file and its number of lines."""
    require(actor, Action.asset_register_view)
    resources = list(db.scalars(_query(actor, filters).limit(MAX_EXPORT + 1)))
    if len(resources) > MAX_EXPORT:
        raise Invalid(
            f"登记表超过 {MAX_EXPORT} 条，请按部门或级别筛选后分批导出。",
            f"More than {MAX_EXPORT} lines: filter first.",
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    assets = _assets(db, resources)
    for a in assets:
        writer.writerow(
            [
                a.code,
                a.name,
                a.owner.name,
                a.importance_label,
                a.sensitivity_label,
                "是" if a.encryption_required else "否",
                a.location_label,
                a.lifecycle_label,
                "" if a.rows is None else a.rows,
                a.last_update.isoformat(timespec="seconds") if a.last_update else "",
            ]
        )
    audit.record(
        db,
        EventType.asset_register_exported,
        actor=actor,
        object_type="resources",
        org_id=actor.org_id,
        details={"format": "csv", "count": len(assets), "filters": filters.used()},
    )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8"), len(assets)
