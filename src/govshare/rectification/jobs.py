"""Scheduled rectification work: detect violations, and escalate notices past their deadline."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from govshare.authz import Actor
from govshare.jobs import job
from govshare.rectification import detection, escalation


@job("rectification.detect", every=lambda: timedelta(hours=6))
def detect(db: Session) -> str:
    return detection.detect(db, actor=Actor.operator("scheduler")).text()


@job("rectification.escalate", every=lambda: timedelta(hours=6))
def escalate(db: Session) -> str:
    return f"{len(escalation.escalate_overdue(db))} 份整改通知逾期未整改，已上报市政府"
