"""Scheduled provision work: front-end database syncs that are due by their resource's update cycle."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from govshare.db import unit_of_work
from govshare.exchange import sync
from govshare.jobs import job
from govshare.settings import get_settings


@job("exchange.sync", every=lambda: timedelta(minutes=get_settings().sync_check_minutes))
def run_syncs(db: Session) -> str:
    # Each run commits page by page in units of work of its own; this session stays unused (on SQLite
    # an open write transaction here would block them).
    engine = db.get_bind()
    assert isinstance(engine, Engine)
    return sync.run_due(lambda: unit_of_work(engine))
