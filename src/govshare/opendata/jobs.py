"""Scheduled open-data work: forget old rate-limit windows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from govshare.jobs import job
from govshare.opendata import ratelimit


@job("opendata.prune_rate_counters", every=lambda: timedelta(minutes=30))
def prune_rate_counters(db: Session) -> str:
    return f"删除 {ratelimit.prune(db)} 个过期的开放数据限流计数窗口"
