"""The records behind one department's indicators for one period (钻取): each list is what a figure
on the dashboard counts, so that a number can always be checked against the platform's records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, require
from govshare.catalog.models import Resource
from govshare.db import utcnow
from govshare.errors import NotFound
from govshare.exchange.models import Batch
from govshare.orgs.models import Organisation
from govshare.sharing.models import DataUse, Feedback
from govshare.supervision import indicators
from govshare.supervision.periods import Period

MAX_ROWS = 500  # per list: the page says when a list is cut


@dataclass
class Records:
    org: Organisation
    period: Period
    as_of: datetime
    figures: indicators.Indicators
    catalog: list[dict[str, Any]] = field(default_factory=list)
    timeliness: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    consumers: list[dict[str, Any]] = field(default_factory=list)


def records(db: Session, *, actor: Actor, org_id: int, period: Period) -> Records:
    visible = indicators.visible_orgs(actor)
    org = db.get(Organisation, org_id)
    if org is None or (visible is not None and org_id not in visible):
        raise NotFound("没有这个部门，或您无权查看它的监督指标。", "No such department.")
    require(actor, Action.supervision_view, org)
    end = min(period.end_at, utcnow())
    start = period.start_at
    city = indicators.compute(db, period, org_ids=[org_id], now=end)
    if not city.departments:
        raise NotFound("该单位不在共享工作监督范围内。", "Not a supervised department.")
    found = Records(org, period, end, city.departments[0])
    found.catalog = _catalog(db, org_id, end)
    found.timeliness = [
        {"resource": r, "last_update": last, "on_time": on_time}
        for r, last, on_time in indicators.late_resources(db, [org_id], end)
    ]
    found.requests = [
        {
            "request": r,
            "in_time": indicators.answered_in_time(r, end),
            "consumer": db.get(Organisation, r.org_id),
        }
        for r in indicators.requests_in(db, [org_id], start, end)
    ][:MAX_ROWS]
    found.batches = list(
        db.scalars(
            select(Batch)
            .join(Resource, Resource.id == Batch.resource_id)
            .where(Resource.org_id == org_id, Batch.received_at >= start, Batch.received_at < end)
            .order_by(Batch.received_at.desc())
            .limit(MAX_ROWS)
        )
    )
    found.feedback = indicators.open_feedback(db, [org_id], end)[:MAX_ROWS]
    found.consumers = [
        {"org": consumer, "calls": calls, "rows": int(rows or 0)}
        for consumer, calls, rows in db.execute(
            select(Organisation, func.count(), func.sum(DataUse.rows))
            .join(DataUse, DataUse.org_id == Organisation.id)
            .join(Resource, Resource.id == DataUse.resource_id)
            .where(
                Resource.org_id == org_id,
                DataUse.outcome == "delivered",
                DataUse.at >= start,
                DataUse.at < end,
            )
            .group_by(Organisation.id)
            .order_by(func.count().desc())
        )
    ]
    return found


def _catalog(db: Session, org_id: int, end: datetime) -> list[dict[str, Any]]:
    """Every entry compiled by `end`, whether published by then and whether data was attached."""
    rows = []
    for resource, attached in db.execute(
        select(Resource, indicators.attached_by(end))
        .where(Resource.org_id == org_id, Resource.status != "retired", Resource.created_at < end)
        .order_by(Resource.code)
        .limit(MAX_ROWS)
    ):
        published_at = indicators.aware(resource.published_at)
        published = published_at is not None and published_at < end
        rows.append({"resource": resource, "published": published, "attached": bool(published and attached)})
    return rows
