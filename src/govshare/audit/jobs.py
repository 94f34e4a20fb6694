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


@job("audit.link", every=lambda: timedelta(minutes=1))
def link_inbox(db: Session) -> str:
    """Chain what data calls left in the audit inbox, where no server process's linker did
    (`audit.linker`)."""
    linked = service.link_pending(db)
    return f"chained {linked} events" if linked else "nothing waiting"
