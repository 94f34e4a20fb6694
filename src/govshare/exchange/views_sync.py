"""The front-end database sync page of a 库表 resource: registration, "sync now", and the runs.

The providing department's data administrator registers and runs; its security officer and the
Bureau see the registration (password never shown) and every run.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed
from govshare.catalog.models import Resource
from govshare.catalog.vocab import UpdateCycle
from govshare.exchange import sources, sync
from govshare.exchange.access import published_items
from govshare.exchange.models import Batch, SyncRun, SyncSource
from govshare.exchange.sync import SourceIn
from govshare.settings import get_settings
from govshare.systems.models import BusinessSystem
from govshare.users.models import User
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import FIXABLE, refusal, see_other
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)

TRIGGER_LABELS = {"manual": "手动", "schedule": "按更新周期", "cli": "命令行"}
SCHEDULE_LABELS = {"cycle": "按资源更新周期自动同步", "manual": "仅手动同步"}
FIELDS = {
    "url": ("连接地址", "应为 postgresql://、mysql:// 或 sqlite:/// 开头的地址"),
    "password": ("密码", ""),
    "system_id": ("所属业务系统", "请从列表中选择"),
    "table": ("表名", ""),
    "query": ("查询语句", ""),
    "column_map": ("字段映射", "每行一项：信息项字段名 = 前置库列名"),
    "watermark_column": ("水位列", ""),
    "schedule": ("同步方式", "请从列表中选择"),
}


def parse_mapping(text: str) -> dict[str, str]:
    """`item = column` lines (`:` works too); blank lines and lines without a column are skipped."""
    mapping: dict[str, str] = {}
    for line in text.splitlines():
        item, sep, column = line.replace("：", ":").replace(":", "=", 1).partition("=")
        if sep and item.strip() and column.strip():
            mapping[item.strip()] = column.strip()
    return mapping


def _form_of(source: SyncSource | None, items: list[dict[str, Any]]) -> dict[str, str]:
    if source is None:
        return {
            "url": "",
            "system_id": "",
            "kind": "table",
            "table": "",
            "query": "",
            "column_map": "\n".join(f"{i['name']} = " for i in items),
            "watermark_column": "",
            "schedule": "cycle",
            "enabled": "on",
            "version": "",
        }
    mapping = source.column_map
    return {
        "url": source.url_display,
        "system_id": str(source.system_id),
        "kind": "query" if source.query else "table",
        "table": source.table_name or "",
        "query": source.query or "",
        "column_map": "\n".join(f"{i['name']} = {mapping.get(i['name'], '')}" for i in items),
        "watermark_column": source.watermark_column or "",
        "schedule": source.schedule,
        "enabled": "on" if source.enabled else "",
        "version": str(source.version),
    }


def _page(
    request: Request,
    db: Session,
    actor: Actor,
    resource: Resource,
    source: SyncSource | None,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    items = published_items(db, resource)
    runs = list(
        db.scalars(
            select(SyncRun).where(SyncRun.resource_id == resource.id).order_by(SyncRun.id.desc()).limit(50)
        )
    )
    run_ids = [r.id for r in runs]
    batches: dict[int, list[str]] = {}
    if run_ids:
        for batch_id, run_id in db.execute(
            select(Batch.id, Batch.sync_run_id)
            .where(Batch.sync_run_id.in_(run_ids))
            .order_by(Batch.received_at)
        ):
            if run_id is not None:
                batches.setdefault(run_id, []).append(batch_id)
    user_ids = {r.user_id for r in runs if r.user_id}
    people = (
        {
            uid: name
            for uid, name in db.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
        }
        if user_ids
        else {}
    )
    can_manage = allowed(actor, Action.sync_manage, resource)
    systems = list(
        db.scalars(
            select(BusinessSystem)
            .where(BusinessSystem.org_id == resource.org_id, BusinessSystem.is_active.is_(True))
            .order_by(BusinessSystem.name)
        )
    )
    return render(
        request,
        "exchange/sync.html",
        {
            "resource": resource,
            "source": source,
            "items": items,
            "keys": [i["name"] for i in items if i.get("is_key")],
            "runs": runs,
            "active": any(r.status in sync.ACTIVE for r in runs),
            "run_batches": batches,
            "people": people,
            "systems": systems,
            "system_names": {s.id: s.name for s in systems},
            "can_manage": can_manage and resource.published_version_id is not None,
            "form": form or _form_of(source, items),
            "error": error,
            "status_labels": sync.STATUS_LABELS,
            "trigger_labels": TRIGGER_LABELS,
            "schedule_labels": SCHEDULE_LABELS,
            "dialect_labels": sources.DIALECT_LABELS,
            "cycle_label": dict(UpdateCycle.choices()).get(resource.update_cycle, resource.update_cycle),
            "watermark_text": sources.watermark_text,
            "frontdb_dir": get_settings().frontdb_dir,
            "page_rows": get_settings().sync_page_rows,
        },
        status_code=status,
    )


@router.get("/catalog/{resource_id}/data/sync", response_class=HTMLResponse)
def sync_page(resource_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    resource, source = sync.get_source(db, actor=actor, resource_id=resource_id)
    return _page(request, db, actor, resource, source)


@router.post("/catalog/{resource_id}/data/sync", response_class=HTMLResponse)
def sync_save(
    resource_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    url: Annotated[str, Form(max_length=500)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    system_id: Annotated[str, Form(max_length=12)] = "",
    kind: Annotated[str, Form(max_length=8)] = "table",
    table: Annotated[str, Form(max_length=128)] = "",
    query: Annotated[str, Form(max_length=sources.MAX_QUERY)] = "",
    column_map: Annotated[str, Form(max_length=20_000)] = "",
    watermark_column: Annotated[str, Form(max_length=128)] = "",
    schedule: Annotated[str, Form(max_length=16)] = "cycle",
    enabled: Annotated[str, Form(max_length=8)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    resource, source = sync.get_source(db, actor=actor, resource_id=resource_id)
    form = {
        "url": url,
        "system_id": system_id,
        "kind": kind,
        "table": table,
        "query": query,
        "column_map": column_map,
        "watermark_column": watermark_column,
        "schedule": schedule,
        "enabled": enabled,
        "version": version,
    }
    # The masked URL shown on the form comes back unchanged: it means "keep the stored address".
    if source is not None and url.strip() == source.url_display:
        url = sync.stored_url(source)
    try:
        data = SourceIn.model_validate(
            {
                "url": url,
                "password": password or None,
                "system_id": system_id,
                "table": table if kind == "table" else None,
                "query": query if kind == "query" else None,
                "column_map": parse_mapping(column_map) or None,
                "watermark_column": watermark_column or None,
                "schedule": schedule,
                "enabled": bool(enabled),
                "version": version or None,
            }
        )
        with db.begin_nested():
            sync.save_source(db, actor=actor, resource_id=resource.id, data=data)
    except (*FIXABLE, ValidationError) as exc:
        message, status = refusal(exc, FIELDS)
        return _page(request, db, actor, resource, source, form=form, error=message, status=status)
    return see_other(f"/catalog/{resource.id}/data/sync?saved=1")


@router.post("/catalog/{resource_id}/data/sync/run", response_class=HTMLResponse)
def sync_run(
    resource_id: int, request: Request, background: BackgroundTasks, actor: CurrentActor, db: DB
) -> Response:
    run = sync.request_run(db, actor=actor, resource_id=resource_id, trigger="manual")
    background.add_task(sync.execute, request.app.state.unit_of_work, run.id)
    return see_other(f"/catalog/{resource_id}/data/sync?run={run.id}")


@router.post("/catalog/{resource_id}/data/sync/remove", response_class=HTMLResponse)
def sync_remove(resource_id: int, actor: CurrentActor, db: DB) -> Response:
    sync.remove_source(db, actor=actor, resource_id=resource_id)
    return see_other(f"/catalog/{resource_id}/data/sync?removed=1")
