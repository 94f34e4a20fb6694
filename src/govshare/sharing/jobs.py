"""Scheduled sharing work: grants past their validity expire; pending requests are reminded before
their due date and escalated to the Bureau after it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from govshare.jobs import job
from govshare.sharing import feedback, service


@job("sharing.expire_grants", every=lambda: timedelta(minutes=15))
def expire_grants(db: Session) -> str:
    return f"{service.expire_grants(db)} 项授权到期"


@job("sharing.deadlines", every=lambda: timedelta(hours=1))
def follow_deadlines(db: Session) -> str:
    reminded, escalated = service.follow_deadlines(db)
    late = feedback.escalate_overdue(db)
    return f"共享申请提醒 {reminded} 项、逾期上报 {escalated} 项；数据异议逾期上报 {late} 项"
