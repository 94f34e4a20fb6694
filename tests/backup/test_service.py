"""Backups on record: the policy, the scheduled job (backup, retention, drill), the runs, the
page and the API, and who may do what."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from govshare.audit.models import AuditEvent
from govshare.authz import Actor
from govshare.backup import service
from govshare.backup.models import BackupPolicy, BackupRun
from govshare.db import unit_of_work
from govshare.errors import Forbidden, Invalid
from govshare.settings import Settings
from tests.helpers import actor, login
from tests.ui import ui_login

POLICY = dict(enabled=True, scope="database", every_hours=24, keep_days=30, keep_min=1, drill_every_days=7)


@pytest.fixture
def scheduled_env(engine: Engine, demo_city: object, tmp_path: Path) -> Iterator[Settings]:
    """The test database's committed state (the demo city) with a clean backup record."""
    settings = Settings(data_dir=tmp_path, database_url=str(engine.url.render_as_string(hide_password=False)))
    with unit_of_work(engine) as db:
        db.query(BackupRun).update({BackupRun.backup_id: None})
        db.query(BackupRun).delete()
        db.query(BackupPolicy).delete()
    yield settings
    with unit_of_work(engine) as db:
        db.query(BackupRun).update({BackupRun.backup_id: None})
        db.query(BackupRun).delete()
        db.query(BackupPolicy).delete()


def _events(engine: Engine, kind: str) -> list[AuditEvent]:
    with unit_of_work(engine) as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.event_type == kind)))


def test_job_backs_up_when_due_then_waits_then_drills(engine: Engine, scheduled_env: Settings) -> None:
    events_before = len(_events(engine, "backup.created"))
    summary = service.scheduled(engine, scheduled_env)
    assert "备份" in summary and "恢复演练成功" in summary
    with unit_of_work(engine) as db:
        runs = list(db.scalars(select(BackupRun).order_by(BackupRun.id)))
    assert [r.kind for r in runs] == ["scheduled", "drill"]
    backup, drill = runs
    assert backup.status == "succeeded" and Path(backup.file_name or "").is_file()
    assert Path(backup.file_name or "").parent == scheduled_env.backups.resolve()
    assert backup.rows and backup.sm3 and backup.size_bytes == Path(backup.file_name or "").stat().st_size
    assert drill.status == "succeeded" and drill.backup_id == backup.id and drill.rows == backup.rows
    assert len(_events(engine, "backup.created")) == events_before + 1
    # Nothing is due right after.
    assert service.scheduled(engine, scheduled_env) == "无到期任务"


def test_requested_backup_runs_at_the_next_round_and_retention_prunes(
    engine: Engine, scheduled_env: Settings
) -> None:
    bureau = Actor.operator("tester")
    with unit_of_work(engine) as db:
        service.update_policy(db, _admin(db), service.PolicyChange(**POLICY))  # keep only one
    service.scheduled(engine, scheduled_env)
    with unit_of_work(engine) as db:
        service.request_backup(db, _admin(db))
    service.scheduled(engine, scheduled_env)
    with unit_of_work(engine) as db:
        backups = list(
            db.scalars(
                select(BackupRun).where(BackupRun.kind.in_(("scheduled", "manual"))).order_by(BackupRun.id)
            )
        )
        assert [b.kind for b in backups] == ["scheduled", "manual"]
        assert backups[1].actor == "bureau_admin"
        assert service.policy(db).requested_at is None
        # The first one is past its retention: it goes, the newest stays (keep_min 1).
        backups[0].finished_at = backups[0].finished_at - timedelta(days=31)  # type: ignore[operator]
    first, second = (Path(b.file_name or "") for b in backups)
    assert service.prune(engine, actor=bureau) == 1
    assert not first.exists() and second.exists()
    with unit_of_work(engine) as db:
        assert db.get(BackupRun, backups[0].id).pruned_at is not None  # type: ignore[union-attr]
    assert _events(engine, "backup.pruned")


def test_a_failed_backup_is_recorded_and_audited(
    engine: Engine, scheduled_env: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(OSError):
        service.run_backup(
            engine,
            kind="cli",
            actor=Actor.operator("tester"),
            out=blocker / "b.gsbackup",
            settings=scheduled_env,
        )
    with unit_of_work(engine) as db:
        run = db.scalar(select(BackupRun).order_by(BackupRun.id.desc()))
        assert run is not None and run.status == "failed" and run.detail
    failed = _events(engine, "backup.failed")
    assert failed and failed[-1].outcome == "failure"


def _admin(db: Session) -> Actor:
    return actor(db, "bureau_admin")


def test_policy_is_validated_and_only_the_bureau_admin_sets_it(db: Session) -> None:
    with pytest.raises(Invalid, match="备份间隔"):
        service.update_policy(db, _admin(db), service.PolicyChange(**(POLICY | {"every_hours": 0})))
    with pytest.raises(Invalid, match="备份范围"):
        service.update_policy(db, _admin(db), service.PolicyChange(**(POLICY | {"scope": "everything"})))
    auditor = actor(db, "bureau_auditor")
    with pytest.raises(Forbidden):
        service.update_policy(db, auditor, service.PolicyChange(**POLICY))
    saved = service.update_policy(db, _admin(db), service.PolicyChange(**(POLICY | {"every_hours": 6})))
    assert saved.every_hours == 6
    changed = db.scalars(select(AuditEvent).where(AuditEvent.event_type == "backup.policy_changed")).all()[-1]
    assert json.loads(changed.details)["changed"]["every_hours"] == [24, 6]


def test_backups_page_and_api(client: TestClient) -> None:
    api = login(client, "bureau_admin")
    put = client.put("/api/v1/backups/policy", json=POLICY | {"every_hours": 12}, headers=api)
    assert put.status_code == 200 and put.json()["every_hours"] == 12
    bad = client.put("/api/v1/backups/policy", json=POLICY | {"keep_days": 0}, headers=api)
    assert bad.status_code == 422
    asked = client.post("/api/v1/backups/requests", headers=api)
    assert asked.status_code == 202 and asked.json()["requested_at"]
    runs = client.get("/api/v1/backups/runs", headers=api)
    assert runs.status_code == 200 and "items" in runs.json()
    csrf = ui_login(client, "bureau_admin")
    page = client.get("/admin/backups")
    assert page.status_code == 200 and "备份策略" in page.text and "等待调度程序执行" in page.text
    form = {"csrf_token": csrf, "scope": "full", "keep_days": "30", "keep_min": "3", "drill_every_days": "7"}
    refused = client.post("/admin/backups/policy", data=form | {"every_hours": "x", "enabled": "1"})
    assert refused.status_code == 422 and "正整数" in refused.text
    saved = client.post("/admin/backups/policy", data=form | {"every_hours": "8"}, follow_redirects=False)
    assert saved.status_code == 303
    now = client.get("/api/v1/backups/policy", headers=api).json()
    assert (now["every_hours"], now["enabled"]) == (8, False)


def test_auditor_reads_but_cannot_manage_and_departments_see_nothing(client: TestClient) -> None:
    api = login(client, "bureau_auditor")
    assert client.get("/api/v1/backups/runs", headers=api).status_code == 200
    assert client.post("/api/v1/backups/requests", headers=api).status_code == 403
    assert client.put("/api/v1/backups/policy", json=POLICY, headers=api).status_code == 403
    ui_login(client, "bureau_auditor")
    page = client.get("/admin/backups")
    assert page.status_code == 200 and "policy-form" not in page.text and "request-form" not in page.text
    police = login(client, "police_admin")
    assert client.get("/api/v1/backups/runs", headers=police).status_code == 403
    ui_login(client, "police_admin")
    assert client.get("/admin/backups").status_code == 403


def test_two_backups_in_the_same_second_get_files_of_their_own(scheduled_env: Settings) -> None:
    when = datetime(2026, 11, 27, 15, 26, 57, tzinfo=UTC)
    scheduled_env.backups.mkdir(parents=True, exist_ok=True)
    first = service.default_path(scheduled_env, when)
    first.write_bytes(b"x")
    second = service.default_path(scheduled_env, when)
    assert first.name == "govshare-20261127T152657Z.gsbackup"
    assert second.name == "govshare-20261127T152657Z-2.gsbackup"
