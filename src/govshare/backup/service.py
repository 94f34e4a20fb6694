"""Backups on record: the Bureau's policy, each backup, drill and restore as a run with its evidence,
retention, and the scheduled job that does them.

A backup takes as long as the database is large, so it never runs inside a caller's transaction:
the run is recorded as started in one short transaction, the file is written from a read-only
snapshot, and the outcome is recorded (and audited) in another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.backup import core
from govshare.backup.archive import BackupError
from govshare.backup.models import BackupPolicy, BackupRun
from govshare.db import unit_of_work, utcnow
from govshare.errors import Conflict, DomainError, Invalid, NotFound
from govshare.pagination import PageParams
from govshare.settings import Settings, get_settings

SCHEDULER = Actor.operator("scheduler")
SCOPE_LABELS = {"full": "数据库、交换库和文件", "database": "仅数据库和交换库"}
KIND_LABELS = {
    "scheduled": "定时备份",
    "manual": "立即备份",
    "cli": "命令行备份",
    "drill": "恢复演练",
    "restore": "恢复",
}
STATUS_LABELS = {"running": "进行中", "succeeded": "成功", "failed": "失败"}


def policy(db: Session) -> BackupPolicy:
    found = db.get(BackupPolicy, 1)
    if found is None:
        found = BackupPolicy(id=1)
        db.add(found)
        db.flush()
    return found


@dataclass(frozen=True)
class PolicyChange:
    enabled: bool
    scope: str
    every_hours: int
    keep_days: int
    keep_min: int
    drill_every_days: int

    def problems(self) -> list[str]:
        out = []
        if self.scope not in core.SCOPES:
            out.append("备份范围只能是“数据库、交换库和文件”或“仅数据库和交换库”")
        if not 1 <= self.every_hours <= 24 * 31:
            out.append("备份间隔应在 1 小时到 31 天之间")
        if not 1 <= self.keep_days <= 3650:
            out.append("保留天数应在 1 到 3650 天之间")
        if not 1 <= self.keep_min <= 100:
            out.append("至少保留的备份份数应在 1 到 100 之间")
        if not 1 <= self.drill_every_days <= 366:
            out.append("恢复演练间隔应在 1 到 366 天之间")
        return out


def update_policy(db: Session, actor: Actor, change: PolicyChange) -> BackupPolicy:
    require(actor, Action.backup_manage)
    problems = change.problems()
    if problems:
        raise Invalid("；".join(problems), "invalid backup policy")
    current = policy(db)
    before = policy_values(current)
    for key, value in change.__dict__.items():
        setattr(current, key, value)
    current.updated_by = actor.user_id
    current.updated_at = utcnow()
    after = policy_values(current)
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    audit.record(db, EventType.backup_policy_changed, actor=actor, obj=current, details={"changed": changed})
    return current


def policy_values(p: BackupPolicy) -> dict[str, Any]:
    """The settings of the policy, as the page's form and the audit trail show them."""
    return {
        "enabled": p.enabled,
        "scope": p.scope,
        "every_hours": p.every_hours,
        "keep_days": p.keep_days,
        "keep_min": p.keep_min,
        "drill_every_days": p.drill_every_days,
    }


def request_backup(db: Session, actor: Actor) -> BackupPolicy:
    """Ask the scheduler for a backup now (it runs within a minute or two, see `scheduled`)."""
    require(actor, Action.backup_manage)
    current = policy(db)
    current.requested_at = utcnow()
    current.requested_by = actor.name
    audit.record(db, EventType.backup_requested, actor=actor, obj=current)
    return current


def runs(
    db: Session, actor: Actor, params: PageParams, kind: str | None = None
) -> tuple[list[BackupRun], int]:
    require(actor, Action.backup_view)
    query = select(BackupRun)
    if kind:
        query = query.where(BackupRun.kind == kind)
    total = int(db.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = db.scalars(query.order_by(BackupRun.id.desc()).offset(params.offset).limit(params.page_size))
    return list(rows), total


def get_run(db: Session, actor: Actor, run_id: int) -> BackupRun:
    require(actor, Action.backup_view)
    found = db.get(BackupRun, run_id)
    if found is None:
        raise NotFound("找不到该备份记录", "backup run not found")
    return found


# --- running -----------------------------------------------------------------------------------


def _start(engine: Engine, **fields: Any) -> int:
    with unit_of_work(engine) as db:
        run = BackupRun(status="running", started_at=utcnow(), **fields)
        db.add(run)
        db.flush()
        return run.id


def _finish(
    engine: Engine, run_id: int, event: EventType, actor: Actor, outcome: str, **fields: Any
) -> BackupRun:
    with unit_of_work(engine) as db:
        run = db.get(BackupRun, run_id)
        assert run is not None
        for key, value in fields.items():
            setattr(run, key, value)
        run.finished_at = utcnow()
        details = {
            k: getattr(run, k)
            for k in (
                "kind",
                "scope",
                "file_name",
                "size_bytes",
                "sm3",
                "tables",
                "rows",
                "files",
                "backup_id",
            )
            if getattr(run, k) is not None
        }
        if run.detail:
            details["detail"] = run.detail[:1000]
        audit.record(db, event, actor=actor, obj=run, outcome=outcome, details=details)
        return run


def default_path(settings: Settings, when: datetime) -> Path:
    """`govshare-<UTC time>.gsbackup`, or `…-2.gsbackup` and so on when a backup of the same second
    exists (a requested backup right after a scheduled one): a backup never replaces another."""
    stem = f"govshare-{when.strftime('%Y%m%dT%H%M%SZ')}"
    path, n = settings.backups / f"{stem}.gsbackup", 2
    while path.exists():
        path, n = settings.backups / f"{stem}-{n}.gsbackup", n + 1
    return path


def run_backup(
    engine: Engine,
    *,
    kind: str,
    actor: Actor,
    scope: str = "full",
    out: Path | None = None,
    settings: Settings | None = None,
    progress: core.Progress | None = None,
) -> BackupRun:
    """Write a backup and record it; a failure is recorded (and audited) too, then re-raised."""
    settings = settings or get_settings()
    target = (out or default_path(settings, utcnow())).resolve()
    run_id = _start(engine, kind=kind, scope=scope, actor=actor.name, file_name=str(target))
    try:
        result = core.create(engine, target, settings, scope=scope, progress=progress)
    except Exception as exc:
        _finish(
            engine, run_id, EventType.backup_failed, actor, "failure", status="failed", detail=_reason(exc)
        )
        raise
    return _finish(
        engine,
        run_id,
        EventType.backup_created,
        actor,
        "success",
        status="succeeded",
        size_bytes=result.size,
        sm3=result.sm3,
        tables=result.tables,
        rows=result.rows,
        files=result.files,
        seconds=round(result.seconds, 3),
    )


def run_drill(
    engine: Engine,
    *,
    actor: Actor,
    path: Path | None = None,
    settings: Settings | None = None,
    progress: core.Progress | None = None,
) -> BackupRun:
    """Restore a backup (the latest kept one unless `path`) into a scratch location, compare it with
    its manifest, and record the result."""
    settings = settings or get_settings()
    backup_id = None
    if path is None:
        with unit_of_work(engine) as db:
            latest = _latest_backup(db)
            if latest is None or latest.file_name is None:
                raise Conflict("还没有可供演练的备份", "no backup to drill yet")
            backup_id, path = latest.id, Path(latest.file_name)
    run_id = _start(engine, kind="drill", actor=actor.name, file_name=str(path), backup_id=backup_id)
    try:
        result = core.drill(path, settings, progress=progress)
    except Exception as exc:
        _finish(
            engine, run_id, EventType.backup_drilled, actor, "failure", status="failed", detail=_reason(exc)
        )
        raise
    return _finish(
        engine,
        run_id,
        EventType.backup_drilled,
        actor,
        "success" if result.ok else "failure",
        status="succeeded" if result.ok else "failed",
        tables=result.tables,
        rows=result.rows,
        files=result.files,
        seconds=round(result.seconds, 3),
        detail="\n".join(result.mismatches) or None,
    )


def record_restore(engine: Engine, result: core.RestoreResult, actor: Actor) -> None:
    """Record a restore in the restored platform's own audit chain."""
    header = result.verified.header
    now = utcnow()
    with unit_of_work(engine) as db:
        run = BackupRun(
            kind="restore",
            status="succeeded",
            scope=header.get("scope"),
            started_at=now,
            finished_at=now,
            actor=actor.name,
            file_name=str(result.verified.path),
            tables=result.tables,
            rows=result.rows,
            files=result.files,
            seconds=round(result.seconds, 3),
            detail=f"备份时间 {header.get('created_at')}，来源 {header.get('dialect')}",
        )
        db.add(run)
        db.flush()
        audit.record(
            db,
            EventType.backup_restored,
            actor=actor,
            obj=run,
            details={"created_at": header.get("created_at"), "rows": result.rows, "files": result.files},
        )


def _reason(exc: Exception) -> str:
    if isinstance(exc, BackupError | DomainError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"[:2000]


def _latest_backup(db: Session) -> BackupRun | None:
    return db.scalar(
        select(BackupRun)
        .where(
            BackupRun.kind.in_(("scheduled", "manual", "cli")),
            BackupRun.status == "succeeded",
            BackupRun.pruned_at.is_(None),
        )
        .order_by(BackupRun.id.desc())
        .limit(1)
    )


def prune(engine: Engine, *, actor: Actor = SCHEDULER) -> int:
    """Delete backup files past the policy's retention, always keeping the newest `keep_min`."""
    now = utcnow()
    pruned = 0
    with unit_of_work(engine) as db:
        current = policy(db)
        kept = list(
            db.scalars(
                select(BackupRun)
                .where(
                    BackupRun.kind.in_(("scheduled", "manual")),
                    BackupRun.status == "succeeded",
                    BackupRun.pruned_at.is_(None),
                )
                .order_by(BackupRun.id.desc())
            )
        )
        for run in kept[current.keep_min :]:
            if run.finished_at is None or now - run.finished_at < timedelta(days=current.keep_days):
                continue
            if run.file_name:
                Path(run.file_name).unlink(missing_ok=True)
            run.pruned_at = now
            pruned += 1
            audit.record(
                db, EventType.backup_pruned, actor=actor, obj=run, details={"file_name": run.file_name}
            )
    return pruned


def due(engine: Engine) -> tuple[bool, bool, str]:
    """Whether a backup and a drill are due now, and the scope to back up."""
    now = utcnow()
    with unit_of_work(engine) as db:
        current = policy(db)
        last = db.scalar(
            select(func.max(BackupRun.started_at)).where(
                BackupRun.kind.in_(("scheduled", "manual")), BackupRun.status == "succeeded"
            )
        )
        requested = current.requested_at is not None
        backup = requested or (
            current.enabled and (last is None or now - last >= timedelta(hours=current.every_hours))
        )
        last_drill = db.scalar(select(func.max(BackupRun.started_at)).where(BackupRun.kind == "drill"))
        drill = current.enabled and (
            last_drill is None or now - last_drill >= timedelta(days=current.drill_every_days)
        )
        return backup, drill, current.scope


def scheduled(engine: Engine, settings: Settings | None = None) -> str:
    """The job: a backup when due or requested, retention, a drill when due."""
    done = []
    backup, drill, scope = due(engine)
    if backup:
        with unit_of_work(engine) as db:
            current = policy(db)
            kind = "manual" if current.requested_at is not None else "scheduled"
            who = Actor.operator(current.requested_by or SCHEDULER.name)
            current.requested_at = None
            current.requested_by = None
        run = run_backup(engine, kind=kind, actor=who, scope=scope, settings=settings)
        done.append(f"备份 {Path(run.file_name or '').name}（{run.rows} 行）")
        pruned = prune(engine)
        if pruned:
            done.append(f"删除过期备份 {pruned} 份")
    if drill:
        with unit_of_work(engine) as db:
            has_backup = _latest_backup(db) is not None
        if has_backup:
            result = run_drill(engine, actor=SCHEDULER, settings=settings)
            done.append(f"恢复演练{STATUS_LABELS[result.status]}")
    return "；".join(done) or "无到期任务"
