"""Scheduled policy work: remind owners of periodic reviews that fell due (S8 定期审核和更新)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from govshare.jobs import job
from govshare.policies import service


@job("policies.review_reminders", every=lambda: timedelta(days=1))
def remind_reviews(db: Session) -> str:
    return f"{service.remind_due_reviews(db)} 项安全管理制度到期待审核"
