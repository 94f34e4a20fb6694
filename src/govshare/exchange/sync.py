"""Front-end exchange database sync (前置交换库, M13, S16): the platform pulls a department's rows.

A department's data administrator registers, for a published 库表 resource, its front-end database
(URL sealed with SM4-GCM), a table or one SELECT, a column mapping and, usually, an incremental
watermark column. A run — on demand, or when the resource's update cycle says it is due — reads the
rows above the committed watermark page by page; each page goes through the ordinary ingest
pipeline (quality rules, quarantine, provenance) as one batch of the source's business system, and
the batch and the new watermark commit together. A run that fails (source gone, timeout, refused
batch) is recorded with its reason; the next run resumes from the last committed page. Without a
watermark column every run is one full snapshot.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy import Engine, make_url, select, update
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, Role
from govshare.catalog.models import Resource
from govshare.catalog.vocab import UpdateCycle
from govshare.db import utcnow
from govshare.errors import Conflict, DomainError, Invalid, NotFound
from govshare.exchange import sources
from govshare.exchange.access import provision_resource, published_items
from govshare.exchange.body import BatchRequest, Mode, from_file, spool
from govshare.exchange.ingest import ingest
from govshare.exchange.models import Batch, SyncRun, SyncSource
from govshare.exchange.sources import Relation, SourceError, SourceUrl
from govshare.sealing import SealError, seal, unseal
from govshare.settings import get_settings
from govshare.systems.models import BusinessSystem
from govshare.tasks import service as tasks

log = logging.getLogger("govshare.sync")

UnitOfWork = Callable[[], AbstractContextManager[Session]]
SEAL_PURPOSE = "sync-source-url"
ACTIVE = ("queued", "running")
STATUS_LABELS = {"queued": "排队中", "running": "同步中", "succeeded": "成功", "failed": "失败"}


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(min_length=8, max_length=500, description="postgresql://, mysql:// or sqlite:/// URL.")
    password: SecretStr | None = Field(
        None, max_length=200, description="The password, if not in the URL; kept if left out on an edit."
    )
    system_id: int = Field(description="The business system whose front-end database this is.")
    table: str | None = Field(None, max_length=128)
    query: str | None = Field(None, max_length=sources.MAX_QUERY)
    column_map: dict[str, str] | None = Field(
        None, description="{item name: source column}; default: the columns named like the items."
    )
    watermark_column: str | None = Field(None, max_length=128)
    schedule: Literal["cycle", "manual"] = "cycle"
    enabled: bool = True
    version: int | None = Field(None, description="The version you edited (optimistic locking).")


def _context(resource_id: int) -> str:
    return f"sync_sources/resource/{resource_id}"


def get_source(db: Session, *, actor: Actor, resource_id: int) -> tuple[Resource, SyncSource | None]:
    resource = provision_resource(db, actor=actor, resource_id=resource_id, action=Action.provision_view)
    source = db.scalar(select(SyncSource).where(SyncSource.resource_id == resource.id))
    return resource, source


def _table_resource(db: Session, actor: Actor, resource_id: int) -> Resource:
    resource = provision_resource(db, actor=actor, resource_id=resource_id, action=Action.sync_manage)
    if resource.provision_method != "table" or resource.published_version_id is None:
        raise Invalid(
            "只有已发布的库表类资源可以从前置库同步数据。", "Only published table resources can be synced."
        )
    return resource


def _system(db: Session, resource: Resource, system_id: int) -> BusinessSystem:
    system = db.get(BusinessSystem, system_id)
    if system is None or system.org_id != resource.org_id:
        raise Invalid(
            "请选择本单位登记的业务系统（前置库所属的系统）。",
            "The system must belong to the providing department.",
            details={"field": "system_id"},
        )
    if not system.is_active:
        raise Invalid("该业务系统已停用。", "The system is disabled.", details={"field": "system_id"})
    return system


def stored_url(source: SyncSource) -> str:
    """The registered URL with its password (for an edit that keeps the address; never shown)."""
    return unseal(source.url_sealed, purpose=SEAL_PURPOSE, context=_context(source.resource_id))


def _url(data: SourceIn, existing: SyncSource | None) -> SourceUrl:
    password = data.password.get_secret_value() if data.password else None
    parsed = sources.parse_url(data.url, password)
    if parsed.url.password is None and existing is not None:
        # An edit that leaves the password out keeps the stored one, for the same user at the same place.
        before = make_url(stored_url(existing))
        same = sources.without_password(before) == sources.without_password(parsed.url)
        if same and before.password is not None:
            parsed = sources.parse_url(data.url, str(before.password))
    return parsed


def _what(data: SourceIn) -> tuple[str | None, str | None]:
    """The checked table and query of a registration; exactly one of them."""
    table = sources.check_table(data.table) if data.table else None
    query = sources.check_query(data.query) if data.query else None
    if (table is None) == (query is None):
        raise Invalid(
            "请填写表名或查询语句（二选一）。", "Give a table or a query.", details={"field": "table"}
        )
    return table, query


@contextmanager
def _opened(parsed: SourceUrl) -> Iterator[Engine]:
    """An engine on the source for checking a registration; a failure to read it is a 422."""
    engine = sources.connect(parsed)
    try:
        yield engine
    except SourceError as exc:
        raise Invalid(
            f"无法读取前置库：{exc}。请检查地址、账号、网络和表名。",
            "Cannot read the source.",
            details={"field": "url"},
        ) from None
    finally:
        engine.dispose()


def _default_mapping(items: list[dict[str, Any]], columns: list[str]) -> dict[str, str]:
    """Each item mapped to the column named like it (case aside)."""
    lower = {c.lower(): c for c in columns}
    return {i["name"]: lower[i["name"].lower()] for i in items if i["name"].lower() in lower}


def _mapping(given: dict[str, str] | None, items: list[dict[str, Any]], columns: list[str]) -> dict[str, str]:
    names = [i["name"] for i in items]
    if not given:
        given = _default_mapping(items, columns)
    unknown_items = [n for n in given if n not in names]
    if unknown_items:
        raise Invalid(
            f"字段映射中有目录里不存在的信息项：{'、'.join(unknown_items)}。",
            "Mapping names unknown items.",
            details={"field": "column_map", "unknown": unknown_items},
        )
    missing_columns = sorted({c for c in given.values() if c not in columns})
    if missing_columns:
        raise Invalid(
            f"前置库中没有这些列：{'、'.join(missing_columns)}。可用的列：{'、'.join(columns[:60])}。",
            "Mapping names unknown source columns.",
            details={"field": "column_map", "unknown_columns": missing_columns, "columns": columns},
        )
    keys = [i["name"] for i in items if i.get("is_key")]
    unmapped = [k for k in keys if k not in given]
    if unmapped:
        raise Invalid(
            f"业务主键信息项必须映射到前置库的列：{'、'.join(unmapped)}。",
            "Business-key items must be mapped.",
            details={"field": "column_map", "missing": unmapped},
        )
    return dict(given)


def inspect_source(db: Session, *, actor: Actor, resource_id: int, data: SourceIn) -> dict[str, Any]:
    """Connect with the given settings and report the columns and the mapping that would be used."""
    resource = _table_resource(db, actor, resource_id)
    existing = db.scalar(select(SyncSource).where(SyncSource.resource_id == resource.id))
    parsed = _url(data, existing)
    table, query = _what(data)
    found: dict[str, Any] = {"url": parsed.display, "rows_without_watermark": None}
    with _opened(parsed) as engine:
        relation = Relation(engine, table, query)
        columns = found["columns"] = sources.columns(relation)
        if data.watermark_column in columns:
            found["rows_without_watermark"] = sources.count_null_watermark(relation, data.watermark_column)
    items = published_items(db, resource)
    try:
        found["column_map"], found["mapping_problem"] = _mapping(data.column_map, items, columns), None
    except Invalid as exc:  # a first look: say what is missing rather than refuse
        found["column_map"] = data.column_map or _default_mapping(items, columns)
        found["mapping_problem"] = exc.message
    return found


def save_source(db: Session, *, actor: Actor, resource_id: int, data: SourceIn) -> SyncSource:
    """Register or change the resource's front-end database; it is read once to check the settings."""
    resource = _table_resource(db, actor, resource_id)
    existing = db.scalar(select(SyncSource).where(SyncSource.resource_id == resource.id))
    if existing is not None and data.version is not None and data.version != existing.version:
        raise Conflict(
            "该同步设置已被他人修改，请刷新后重新编辑。", "The sync source changed meanwhile.", details={}
        )
    system = _system(db, resource, data.system_id)
    parsed = _url(data, existing)
    table, query = _what(data)
    with _opened(parsed) as engine:
        columns = sources.columns(Relation(engine, table, query))
    mapping = _mapping(data.column_map, published_items(db, resource), columns)
    watermark = data.watermark_column or None
    if watermark is not None and watermark not in columns:
        raise Invalid(
            f"前置库中没有水位列“{watermark}”。",
            "Unknown watermark column.",
            details={"field": "watermark_column", "columns": columns},
        )
    source = existing or SyncSource(resource_id=resource.id, org_id=resource.org_id, created_by=actor.user_id)
    reread = existing is None or (
        (existing.table_name, existing.query, existing.watermark_column, existing.url_display)
        != (table, query, watermark, parsed.display)
    )
    source.system_id = system.id
    source.dialect = parsed.dialect
    source.url_display = parsed.display
    source.url_sealed = seal(parsed.secret, purpose=SEAL_PURPOSE, context=_context(resource.id))
    source.table_name = table
    source.query = query
    source.column_map = mapping
    source.watermark_column = watermark
    if reread:  # another place or another order: start from the beginning
        source.watermark = None
    source.schedule = data.schedule
    source.enabled = data.enabled
    source.next_run_at = utcnow() if data.enabled and data.schedule == "cycle" else None
    source.updated_at = utcnow()
    if existing is None:
        db.add(source)
    db.flush()
    audit.record(
        db,
        EventType.sync_source_saved,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={
            "source_id": source.id,
            "url": source.url_display,
            "table": source.table_name,
            "query": source.query,
            "column_map": mapping,
            "watermark_column": watermark,
            "schedule": source.schedule,
            "enabled": source.enabled,
            "watermark_reset": reread,
        },
    )
    return source


def remove_source(db: Session, *, actor: Actor, resource_id: int) -> SyncSource:
    """Stop syncing (the registration and its runs stay on record; the sealed password is erased)."""
    resource = _table_resource(db, actor, resource_id)
    source = db.scalar(select(SyncSource).where(SyncSource.resource_id == resource.id))
    if source is None:
        raise NotFound("该资源没有登记前置库。", "No sync source.")
    source.enabled = False
    source.next_run_at = None
    # Not parse_url: stopping must work even where the address would no longer be accepted.
    kept = sources.without_password(make_url(stored_url(source)))
    source.url_sealed = seal(
        kept.render_as_string(hide_password=False), purpose=SEAL_PURPOSE, context=_context(resource.id)
    )
    source.updated_at = utcnow()
    audit.record(
        db,
        EventType.sync_source_removed,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={"source_id": source.id},
    )
    return source


# --- runs ------------------------------------------------------------------------------------------


def _stale_before() -> Any:
    return utcnow() - timedelta(seconds=2 * get_settings().sync_timeout_seconds + 60)


def reap_stale(db: Session) -> int:
    """Runs whose process died (no heartbeat for twice the timeout) are marked failed."""
    stale = list(
        db.scalars(
            select(SyncRun).where(
                SyncRun.status == "running",
                SyncRun.heartbeat_at < _stale_before(),
            )
        )
    )
    for run in stale:
        run.status = "failed"
        run.finished_at = utcnow()
        run.error = "同步进程中断（长时间无进展）；下次同步将从最后提交的水位继续。"
    return len(stale)


def request_run(db: Session, *, actor: Actor, resource_id: int, trigger: str = "manual") -> SyncRun:
    """Queue a run of the resource's sync (one active run per source)."""
    resource = _table_resource(db, actor, resource_id)
    source = db.scalar(select(SyncSource).where(SyncSource.resource_id == resource.id).with_for_update())
    if source is None or not source.enabled:
        raise Invalid(
            "该资源尚未登记（或已停用）前置库同步，请先在“前置库同步”中登记。", "No enabled sync source."
        )
    return _queue(db, source, actor=actor, trigger=trigger)


def _queue(db: Session, source: SyncSource, *, actor: Actor, trigger: str) -> SyncRun:
    reap_stale(db)
    active = db.scalar(select(SyncRun).where(SyncRun.source_id == source.id, SyncRun.status.in_(ACTIVE)))
    if active is not None:
        raise Conflict(
            f"该资源的同步正在进行（第 {active.id} 次），请等它结束后再试。",
            "A run of this source is in progress.",
            details={"run_id": active.id},
        )
    run = SyncRun(
        source_id=source.id,
        resource_id=source.resource_id,
        org_id=source.org_id,
        trigger=trigger,
        user_id=actor.user_id,
        status="queued",
        queued_at=utcnow(),
        watermark_from=source.watermark,
    )
    db.add(run)
    db.flush()
    audit.record(
        db,
        EventType.sync_run_started,
        actor=actor,
        obj=run,
        org_id=source.org_id,
        details={"resource_id": source.resource_id, "trigger": trigger, "watermark": source.watermark},
    )
    return run


def list_runs(db: Session, *, actor: Actor, resource_id: int, limit: int = 50) -> list[SyncRun]:
    resource = provision_resource(db, actor=actor, resource_id=resource_id, action=Action.provision_view)
    return list(
        db.scalars(
            select(SyncRun).where(SyncRun.resource_id == resource.id).order_by(SyncRun.id.desc()).limit(limit)
        )
    )


def get_run(db: Session, *, actor: Actor, resource_id: int, run_id: int) -> SyncRun:
    resource = provision_resource(db, actor=actor, resource_id=resource_id, action=Action.provision_view)
    run = db.get(SyncRun, run_id)
    if run is None or run.resource_id != resource.id:
        raise NotFound("找不到该同步记录。", f"Sync run {run_id} not found.")
    return run


def run_batches(db: Session, run: SyncRun) -> list[Batch]:
    return list(db.scalars(select(Batch).where(Batch.sync_run_id == run.id).order_by(Batch.received_at)))


class _Plan:
    """What a run needs from the platform database, read once at its start."""

    def __init__(self, db: Session, run: SyncRun, source: SyncSource) -> None:
        system = db.get(BusinessSystem, source.system_id)
        if system is None or not system.is_active:
            raise SourceError("前置库所属的业务系统已停用，不能代表它提供数据。")
        self.run_id, self.source_id, self.resource_id = run.id, source.id, source.resource_id
        self.actor = Actor(
            kind="system", name=f"system:{system.code}", system_id=system.id, org_id=system.org_id
        )
        try:
            self.url = sources.parse_url(stored_url(source))  # checked again: settings may have changed
        except SealError:
            raise SourceError(
                "无法解密前置库连接信息（主密钥已更换？），请重新登记连接地址和密码。"
            ) from None
        except Invalid as exc:  # refused now though accepted at registration (settings changed)
            raise SourceError(exc.message) from None
        self.table, self.query = source.table_name, source.query
        self.column_map = dict(source.column_map)
        self.watermark_column = source.watermark_column
        self.after = sources.decode_watermark(source.watermark)


def execute(uow: UnitOfWork, run_id: int, *, progress: Callable[[int], None] | None = None) -> SyncRun:
    """Carry out a queued run; every page commits on its own. Returns the run as it ended."""
    with uow() as db:
        taken = db.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status == "queued")
            .values(status="running", started_at=utcnow(), heartbeat_at=utcnow())
        )
        run = db.get(SyncRun, run_id)
        if run is None:
            raise NotFound("找不到该同步记录。", f"Sync run {run_id} not found.")
        if not taken.rowcount:  # type: ignore[attr-defined]
            return run  # someone else runs (or ran) it
        source = db.get(SyncSource, run.source_id)
        assert source is not None
        try:
            plan = _Plan(db, run, source)
        except SourceError as exc:
            plan, error = None, str(exc)
    if plan is None:
        return _fail(uow, run_id, error)
    engine = None
    try:
        engine = sources.connect(plan.url)
        relation = Relation(engine, plan.table, plan.query)
        wanted = sorted(set(plan.column_map.values()))
        if plan.watermark_column:
            _incremental(uow, plan, relation, wanted, progress)
        else:
            _snapshot(uow, plan, relation, wanted, progress)
    except (SourceError, DomainError) as exc:
        message = exc.message if isinstance(exc, DomainError) else str(exc)
        return _fail(uow, run_id, message)
    except Exception as exc:  # recorded and reported; the next run resumes from the committed watermark
        log.exception("sync run %s failed", run_id)
        return _fail(uow, run_id, f"同步出错：{type(exc).__name__}")
    finally:
        if engine is not None:
            engine.dispose()
    return _succeed(uow, run_id)


def _incremental(
    uow: UnitOfWork,
    plan: _Plan,
    relation: Relation,
    wanted: list[str],
    progress: Callable[[int], None] | None,
) -> None:
    assert plan.watermark_column is not None
    size = get_settings().sync_page_rows
    for page in sources.pages(relation, wanted, plan.watermark_column, plan.after, size):
        with spool() as file:
            _write(file, plan, page.rows)
            _apply(uow, plan, file, len(page.rows), Mode.upsert, sources.encode_watermark(page.watermark))
        if progress is not None:
            progress(len(page.rows))


def _snapshot(
    uow: UnitOfWork,
    plan: _Plan,
    relation: Relation,
    wanted: list[str],
    progress: Callable[[int], None] | None,
) -> None:
    """No watermark: the whole source is one snapshot batch (rows it no longer has are retired)."""
    with spool() as file:
        count = 0
        for chunk in sources.everything(relation, wanted, get_settings().sync_page_rows):
            _write(file, plan, chunk)
            count += len(chunk)
            if progress is not None:
                progress(len(chunk))
        _apply(uow, plan, file, count, Mode.snapshot, None)


def _write(file: Any, plan: _Plan, rows: Iterable[dict[str, Any]]) -> None:
    for row in rows:
        record = {
            item: (None if row[column] is None else sources.jsonable(row[column]))
            for item, column in plan.column_map.items()
        }
        file.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")


def _apply(
    uow: UnitOfWork,
    plan: _Plan,
    file: IO[bytes],
    count: int,
    mode: Mode,
    watermark: dict[str, str] | None,
) -> None:
    """One page of `count` rows written to `file`: its batch, the new watermark and the run's counts
    commit together."""
    file.flush()
    file.seek(0)
    body = from_file(file)
    with uow() as db:
        run = db.get(SyncRun, plan.run_id, with_for_update=True)
        source = db.get(SyncSource, plan.source_id)
        assert run is not None and source is not None
        if run.status != "running":
            raise SourceError("该次同步已被标记为中断，停止写入。")
        batch, _replayed = ingest(
            db,
            actor=plan.actor,
            req=BatchRequest(
                resource_id=plan.resource_id,
                body=body,
                content_type="application/x-ndjson",
                mode=mode,
                source="sync",
            ),
            max_retire_ratio=get_settings().snapshot_max_retire_ratio,
        )
        batch.sync_run_id = run.id
        if watermark is not None:
            source.watermark = watermark
            run.watermark_to = watermark
        run.pages += 1
        run.rows_read += count
        run.accepted += batch.accepted
        run.quarantined += batch.quarantined
        run.heartbeat_at = utcnow()


def _next_run(source: SyncSource, resource: Resource | None, *, failed: bool) -> Any:
    if not source.enabled or source.schedule != "cycle":
        return None
    check = timedelta(minutes=get_settings().sync_check_minutes)
    if failed:
        return utcnow() + 3 * check
    if resource is None:
        return None
    if resource.update_cycle == UpdateCycle.realtime:
        return utcnow() + check
    days = UpdateCycle(resource.update_cycle).days
    return utcnow() + timedelta(days=days) if days is not None else None  # 不定期: on demand only


def _succeed(uow: UnitOfWork, run_id: int) -> SyncRun:
    with uow() as db:
        run = db.get(SyncRun, run_id)
        assert run is not None
        source = db.get(SyncSource, run.source_id)
        assert source is not None
        run.status = "succeeded"
        run.finished_at = utcnow()
        if run.watermark_to is None:
            run.watermark_to = source.watermark
        source.next_run_at = _next_run(source, db.get(Resource, source.resource_id), failed=False)
        audit.record(
            db,
            EventType.sync_run_finished,
            actor=Actor.operator("sync"),
            obj=run,
            org_id=run.org_id,
            details={
                "resource_id": run.resource_id,
                "pages": run.pages,
                "rows": run.rows_read,
                "accepted": run.accepted,
                "quarantined": run.quarantined,
                "watermark": run.watermark_to,
            },
        )
        return run


def _fail(uow: UnitOfWork, run_id: int, message: str) -> SyncRun:
    with uow() as db:
        run = db.get(SyncRun, run_id)
        assert run is not None
        source = db.get(SyncSource, run.source_id)
        assert source is not None
        resource = db.get(Resource, run.resource_id)
        run.status = "failed"
        run.finished_at = utcnow()
        run.error = message[:2000]
        run.watermark_to = source.watermark
        source.next_run_at = _next_run(source, resource, failed=True)
        audit.record(
            db,
            EventType.sync_run_failed,
            actor=Actor.operator("sync"),
            obj=run,
            org_id=run.org_id,
            outcome="failed",
            details={"resource_id": run.resource_id, "pages": run.pages, "error": run.error},
        )
        tasks.open_task(
            db,
            kind="sync_failed",
            title=f"前置库同步失败：{resource.name if resource else run.resource_id}"[:200],
            link=f"/catalog/{run.resource_id}/data/sync",
            org_id=run.org_id,
            subject_type="sync_runs",
            subject_id=run.id,
            assignee_role=Role.data_admin,
        )
        return run


# --- scheduling ------------------------------------------------------------------------------------


def run_due(uow: UnitOfWork) -> str:
    """The scheduled job: mark dead runs failed, then run every sync that is due."""
    with uow() as db:
        reaped = reap_stale(db)
        now = utcnow()
        queued = [
            r.id
            for r in db.scalars(
                select(SyncRun).where(
                    SyncRun.status == "queued", SyncRun.queued_at < now - timedelta(minutes=1)
                )
            )
        ]
        due = list(
            db.scalars(
                select(SyncSource).where(
                    SyncSource.enabled.is_(True),
                    SyncSource.schedule == "cycle",
                    SyncSource.next_run_at <= now,
                )
            )
        )
        for source in due:
            try:
                with db.begin_nested():
                    queued.append(
                        _queue(db, source, actor=Actor.operator("scheduler"), trigger="schedule").id
                    )
            except Conflict:
                continue
    outcomes = [execute(uow, run_id).status for run_id in queued]
    ok = outcomes.count("succeeded")
    return f"{len(outcomes)} sync run(s): {ok} succeeded, {len(outcomes) - ok} failed; {reaped} stale"
