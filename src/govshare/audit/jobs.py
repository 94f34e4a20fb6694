"""Scheduled audit work: sign a checkpoint of the chain at least every `audit_checkpoint_minutes`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from govshare.audit import service
from govshare.jobs import job
from govshare.settings import get_settings


@job("audit.checkpoint", every=lambda: timedelta(minutes=get_settings().audit_checkpoint_minutes))
def sign_checkpoint(db: Session) -> str:
    checkpoint = service.checkpoint_now(db)
    return f"signed at #{checkpoint.seq}" if checkpoint else "nothing new to sign"
