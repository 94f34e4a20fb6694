"""Scheduled detection: scan the audit events written since the last scan every five minutes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from govshare.jobs import job
from govshare.protection import detection


@job("protection.scan", every=lambda: timedelta(minutes=5))
def scan(db: Session) -> str:
    return detection.scan(db).text()
