"""Scheduled backups, retention and restore drills, after the Bureau's policy."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from govshare.backup import service
from govshare.jobs import job


@job("backup.scheduled", every=lambda: timedelta(minutes=1))
def scheduled(db: Session) -> str:
    # The session is left unused: a backup must not hold a transaction (on SQLite, the write lock)
    # for as long as it takes; the service opens its own short units of work on the same engine.
    engine = db.get_bind()
    assert isinstance(engine, Engine)
    return service.scheduled(engine)
