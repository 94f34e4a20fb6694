"""A worked analysis in the demo city: 人社局's business user, under its grant of 人口基础信息 for
社会保险参保资格核验 (demo/activity.py), counts people by district and gender, and keeps the checked
result as a derived dataset; one query that lists ID numbers shows what the identifier check refuses.

Everything goes through the analysis service, so the records, checks and audit events are real."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.analysis import service
from govshare.auth.service import actor_for
from govshare.catalog.models import Resource
from govshare.demo.activity import DOUBTER
from govshare.users.models import User

USERNAME = f"{DOUBTER.consumer}_user"
PURPOSE = DOUBTER.purpose


def load(db: Session, *, progress: Callable[[str], None] = lambda _m: None) -> int:
    """Run the demo's analyses; returns the number of queries run (0 when 人社局 holds no grant)."""
    progress("数据分析示例")
    user = db.scalar(select(User).where(User.username == USERNAME))
    population = db.scalar(select(Resource.id).where(Resource.name == "人口基础信息"))
    assert user is not None and population is not None
    person = actor_for(db, user)
    tables = {t["table"]: t for t in service.schema(db, actor=person) if t["purpose"] == PURPOSE}
    table = f"r{population}"
    if table not in tables:
        return 0
    columns = {c["name"] for c in tables[table]["columns"]}
    run = 0
    if {"region_code", "gender"} <= columns:
        query = service.run_query(
            db,
            actor=person,
            # The table name is r<id> from the granted schema; the analysis service checks the SQL and
            # runs it in its sandbox, which holds only granted, masked rows.
            sql=f"SELECT region_code, gender, COUNT(*) AS n FROM {table} "  # noqa: S608  # nosec B608
            "GROUP BY region_code, gender ORDER BY region_code, gender",
            purpose=PURPOSE,
        )
        run += 1
        if query.releasable:
            service.release(
                db,
                actor=person,
                query_id=query.id,
                kind="derived",
                name="参保核验人口区划性别分布",
                description="按行政区划和性别统计的户籍人口数，用于社会保险参保资格核验（演示）。",
            )
    if "id_number" in columns:
        listing = f"SELECT id_number FROM {table} LIMIT 20"  # noqa: S608  # nosec B608
        service.run_query(db, actor=person, sql=listing, purpose=PURPOSE)
        run += 1
    return run
