"""Scheduled publication of the public reports: hourly, the last finished month's and quarter's
reports are published when missing (so a report appears within the hour after a period ends, and a
server that was down catches up)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from govshare.jobs import job
from govshare.supervision import reports


@job("supervision.publish_reports", every=lambda: timedelta(hours=1))
def publish_reports(db: Session) -> str:
    done = reports.publish_due(db)
    return "；".join(f"已发布 {r.title}" for r in done) or "无需发布新的公示报告"
