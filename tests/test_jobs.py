"""Scheduled jobs take a database lease, so two instances never run the same job twice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from govshare.audit.events import EventType
from govshare.audit.models import AuditCheckpoint
from govshare.audit.service import record
from govshare.authz import Actor
from govshare.db import make_engine, unit_of_work
from govshare.jobs import JobRun, Scheduler, run_job, try_lease
from govshare.migrate import upgrade


def test_lease_is_exclusive_and_runs_are_recorded(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    upgrade(engine)
    assert try_lease(engine, "audit.checkpoint", timedelta(minutes=5))
    assert not try_lease(engine, "audit.checkpoint", timedelta(minutes=5))  # a second instance
    assert try_lease(engine, "audit.checkpoint", timedelta(minutes=5), force=True)
    with unit_of_work(engine) as db:
        record(db, EventType.user_updated, actor=Actor.operator())
        record(db, EventType.user_updated, actor=Actor.operator())
    run = run_job(engine, "audit.checkpoint")
    assert run.status == "ok" and run.detail == "signed at #2"
    with unit_of_work(engine) as db:
        assert db.scalars(select(AuditCheckpoint.seq)).all()[-1] == 2
        assert db.scalars(select(JobRun.name)).all() == ["audit.checkpoint"]
    scheduler = Scheduler(engine)
    # The checkpoint's lease is still held.
    assert sorted(scheduler.run_due()) == [
        "audit.link",
        "backup.scheduled",
        "calendar.next_year_check",
        "encryption.rotate_keys",
        "exchange.sync",
        "opendata.prune_rate_counters",
        "policies.review_reminders",
        "protection.scan",
        "rectification.detect",
        "rectification.escalate",
        "sharing.deadlines",
        "sharing.expire_grants",
        "supervision.publish_reports",
    ]
    assert scheduler.run_due() == []
    with unit_of_work(engine) as db:
        sync_run = db.scalars(select(JobRun).where(JobRun.name == "exchange.sync")).one()
        assert (sync_run.status, sync_run.detail) == ("ok", "0 sync run(s): 0 succeeded, 0 failed; 0 stale")
        scan_run = db.scalars(select(JobRun).where(JobRun.name == "protection.scan")).one()
        assert scan_run.status == "ok" and "新告警 0 条" in (scan_run.detail or ""), scan_run.detail
        # A fresh platform backs itself up at once (the default policy) and drills the backup.
        backup_run = db.scalars(select(JobRun).where(JobRun.name == "backup.scheduled")).one()
        assert backup_run.status == "ok" and "恢复演练成功" in (backup_run.detail or ""), backup_run.detail
    engine.dispose()
