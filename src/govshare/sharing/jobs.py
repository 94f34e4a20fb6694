"""Scheduled sharing work: grants past their validity expire."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from govshare.jobs import job
from govshare.sharing import service


@job("sharing.expire_grants", every=lambda: timedelta(minutes=15))
def expire_grants(db: Session) -> str:
    return f"{service.expire_grants(db)} 项授权到期"
