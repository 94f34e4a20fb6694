"""Per-address rate limits of the anonymous open-data endpoints, counted in the platform database.

Production runs several stateless app instances, so a counter in process memory would let a caller
multiply its allowance by the number of instances: each call is one `INSERT … ON CONFLICT DO UPDATE
… RETURNING count` on the row (bucket, address, minute window), atomic on SQLite and PostgreSQL.
The count is taken in its own short transaction before the call runs, so a refused or failing call
counts too. Windows older than `KEEP` are deleted by the `opendata.prune_rate_counters` job.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from govshare.db import utcnow
from govshare.errors import TooManyRequests
from govshare.opendata.models import OpenRateCounter

KEEP = timedelta(hours=2)
UNKNOWN_ADDRESS = "unknown"


def window_of(now: datetime, length: timedelta) -> datetime:
    """The start of the window of `length` (a whole number of minutes) that `now` falls in."""
    minutes = int(length.total_seconds() // 60)
    start = now.replace(second=0, microsecond=0)
    return (
        start.replace(minute=start.minute - start.minute % minutes)
        if minutes < 60
        else start.replace(minute=0)
    )


def take(
    db: Session, *, bucket: str, address: str | None, length: timedelta, now: datetime | None = None
) -> tuple[int, int]:
    """Count one call of `address` in `bucket`: (calls in the window so far, seconds until the
    window ends)."""
    moment = now or utcnow()
    start = window_of(moment, length)
    who = (address or UNKNOWN_ADDRESS)[:64]
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(OpenRateCounter)
        .values(bucket=bucket, address=who, window_start=start, count=1)
        .on_conflict_do_update(
            index_elements=["bucket", "address", "window_start"],
            set_={"count": OpenRateCounter.count + 1},
        )
        .returning(OpenRateCounter.count)
    )
    count = int(db.execute(stmt).scalar_one())
    return count, max(1, math.ceil((start + length - moment).total_seconds()))


def refusal(limit: int, retry: int, length: timedelta) -> TooManyRequests:
    per = "每分钟" if length <= timedelta(minutes=1) else "每小时"
    return TooManyRequests(
        f"您所在地址的访问过于频繁（{per}最多 {limit} 次），请 {retry} 秒后再试；"
        "如需获取整个数据集，请使用整体下载。",
        f"Rate limit of {limit} calls reached; retry in {retry} s.",
        retry_after=retry,
    )


def check(
    unit: Callable[[], AbstractContextManager[Session]],
    *,
    bucket: str,
    address: str | None,
    limit: int,
    length: timedelta,
    now: datetime | None = None,
) -> None:
    """Count the call in its own short unit of work (so that it counts whatever the call does
    next) and raise TooManyRequests (429) beyond `limit`."""
    with unit() as db:
        count, retry = take(db, bucket=bucket, address=address, length=length, now=now)
    if count > limit:
        raise refusal(limit, retry, length)


def prune(db: Session, *, now: datetime | None = None) -> int:
    """Delete windows that ended long ago; returns how many rows went."""
    result = db.execute(
        delete(OpenRateCounter)
        .where(OpenRateCounter.window_start < (now or utcnow()) - KEEP)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
