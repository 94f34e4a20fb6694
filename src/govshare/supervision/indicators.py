"""Sharing indicators per department (M22, M23): how each government body is doing, from the
platform's own records, for one reporting period.

Stock figures (catalog entries, data attached, updates on time, open feedback) are taken as they
stood at the end of the period (or now, for the current period); flow figures (requests answered,
batches received, data delivered) count what happened within it. Every number can be traced to the
records behind it (`supervision.drilldown`).

- 目录编制/发布: entries compiled (not retired) and published by the end of the period.
- 挂接率: published entries with data attached (a 库表 resource with an accepted batch, a 文件
  resource with a file, an 接口 resource with a registered service) ÷ published entries.
- 按时更新率: published 库表 resources with a fixed update cycle whose last accepted batch is within
  the cycle ÷ those resources (one never provided is late).
- 按时答复率: conditional requests answered by their due date ÷ requests answered in the period plus
  those whose due date passed in it unanswered; 平均答复用时 in working days (filing day excluded).
- 质量合格率: rows accepted ÷ rows received in the period's batches.
- 异议纠错: the provider's cases not yet answered at the end of the period, the oldest one's age.
- 数据使用: deliveries of the department's data (calls, consuming departments, rows) and its own
  calls as a consumer, with those refused for a purpose outside its grants.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, Scope, require, scope_of
from govshare.catalog.models import Resource
from govshare.catalog.vocab import UpdateCycle
from govshare.db import utcnow
from govshare.exchange.models import Batch, ResourceFile
from govshare.exchange.service_models import ApiService
from govshare.orgs.models import Organisation, OrgKind
from govshare.sharing.models import DataUse, Feedback, ShareRequest
from govshare.supervision.periods import Period
from govshare.workdays import BEIJING, Calendar, beijing_day

DECIDED = ("approved", "partial", "rejected")  # decided after the period: pending within it
SUPERVISED_KINDS = (OrgKind.department.value, OrgKind.district.value)


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


@dataclass
class Indicators:
    org_id: int
    name: str
    short_name: str
    compiled: int = 0
    published: int = 0
    attached: int = 0
    cycled: int = 0  # published 库表 resources with a fixed update cycle
    on_time: int = 0
    requests_due: int = 0
    answered_in_time: int = 0
    answered: int = 0
    reply_days_total: int = 0
    pending_overdue: int = 0
    rows_received: int = 0
    rows_accepted: int = 0
    feedback_open: int = 0
    feedback_oldest_days: int | None = None
    feedback_overdue: int = 0
    calls: int = 0
    consumers: int = 0
    rows_delivered: int = 0
    calls_made: int = 0
    calls_refused: int = 0

    @property
    def attach_rate(self) -> float | None:
        return _rate(self.attached, self.published)

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.on_time, self.cycled)

    @property
    def in_time_rate(self) -> float | None:
        return _rate(self.answered_in_time, self.requests_due)

    @property
    def avg_reply_days(self) -> float | None:
        return round(self.reply_days_total / self.answered, 1) if self.answered else None

    @property
    def quality_rate(self) -> float | None:
        return _rate(self.rows_accepted, self.rows_received)

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "attach_rate": self.attach_rate,
            "on_time_rate": self.on_time_rate,
            "in_time_rate": self.in_time_rate,
            "avg_reply_days": self.avg_reply_days,
            "quality_rate": self.quality_rate,
        }


# The published figures, in order: (key, Chinese heading, unit). The public report, its CSV and
# the dashboard's table all use this list.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("compiled", "已编制目录", "条"),
    ("published", "已发布目录", "条"),
    ("attach_rate", "挂接率", "%"),
    ("on_time_rate", "按时更新率", "%"),
    ("requests_due", "应答复申请", "件"),
    ("in_time_rate", "按时答复率", "%"),
    ("avg_reply_days", "平均答复用时", "工作日"),
    ("quality_rate", "质量合格率", "%"),
    ("feedback_open", "未答复异议", "件"),
    ("feedback_oldest_days", "最久异议", "天"),
    ("calls", "被调用次数", "次"),
    ("consumers", "使用部门数", "个"),
    ("rows_delivered", "提供数据量", "条"),
)


@dataclass
class CityIndicators:
    period: Period
    as_of: datetime
    departments: list[Indicators] = field(default_factory=list)

    @property
    def total(self) -> Indicators:
        """The city as a whole: sums of the counts (rates recomputed from them, not averaged)."""
        total = Indicators(0, "全市合计", "全市")
        oldest = [d.feedback_oldest_days for d in self.departments if d.feedback_oldest_days is not None]
        for d in self.departments:
            for key, value in asdict(d).items():
                if key in {"org_id", "name", "short_name", "feedback_oldest_days"}:
                    continue
                setattr(total, key, getattr(total, key) + value)
        total.feedback_oldest_days = max(oldest) if oldest else None
        return total


def _supervised(db: Session, org_ids: Iterable[int] | None) -> dict[int, Indicators]:
    stmt = (
        select(Organisation.id, Organisation.name, Organisation.short_name)
        .where(Organisation.is_active.is_(True), Organisation.kind.in_(SUPERVISED_KINDS))
        .order_by(Organisation.id)
    )
    if org_ids is not None:
        stmt = stmt.where(Organisation.id.in_(list(org_ids)))
    return {oid: Indicators(oid, name, short or name) for oid, name, short in db.execute(stmt)}


def aware(moment: datetime | None) -> datetime | None:
    """Aggregates skip the column type: SQLite hands back naive UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def visible_orgs(actor: Actor) -> list[int] | None:
    """The departments whose indicators `actor` may read: all (None) or its own."""
    require(actor, Action.supervision_view)
    if scope_of(actor, Action.supervision_view) is Scope.city:
        return None
    return [actor.org_id] if actor.org_id is not None else []


def compute(
    db: Session, period: Period, *, org_ids: Iterable[int] | None = None, now: datetime | None = None
) -> CityIndicators:
    """The indicators of every supervised department (or those in `org_ids`) for `period`.

    No permission check: callers decide who sees what (`for_actor`, the public report job)."""
    now = now or utcnow()
    end = min(period.end_at, now)
    start = period.start_at
    rows = _supervised(db, org_ids)
    ids = list(rows)
    if not ids:
        return CityIndicators(period, end, [])
    _catalog(db, rows, ids, end)
    _timeliness(db, rows, ids, end)
    _requests(db, rows, ids, start, end)
    _quality(db, rows, ids, start, end)
    _feedback(db, rows, ids, end)
    _uses(db, rows, ids, start, end)
    return CityIndicators(period, end, list(rows.values()))


def for_actor(db: Session, *, actor: Actor, period: Period) -> CityIndicators:
    return compute(db, period, org_ids=visible_orgs(actor))


def attached_by(end: datetime) -> ColumnElement[bool]:
    """Whether a resource had data attached before `end`: a 库表 resource an accepted batch, a 文件
    resource an uploaded file, an 接口 resource a registered service."""
    return or_(
        and_(
            Resource.provision_method == "table",
            select(Batch.id)
            .where(Batch.resource_id == Resource.id, Batch.accepted > 0, Batch.finished_at < end)
            .exists(),
        ),
        and_(
            Resource.provision_method == "file",
            select(ResourceFile.id)
            .where(ResourceFile.resource_id == Resource.id, ResourceFile.uploaded_at < end)
            .exists(),
        ),
        and_(
            Resource.provision_method == "api",
            select(ApiService.id)
            .where(ApiService.resource_id == Resource.id, ApiService.created_at < end)
            .exists(),
        ),
    )


def _catalog(db: Session, rows: dict[int, Indicators], ids: list[int], end: datetime) -> None:
    live = Resource.status != "retired"
    for org_id, count in db.execute(
        select(Resource.org_id, func.count())
        .where(Resource.org_id.in_(ids), live, Resource.created_at < end)
        .group_by(Resource.org_id)
    ):
        rows[org_id].compiled = count
    published = and_(Resource.org_id.in_(ids), live, Resource.published_at < end)
    for org_id, count in db.execute(
        select(Resource.org_id, func.count()).where(published).group_by(Resource.org_id)
    ):
        rows[org_id].published = count
    attached = attached_by(end)
    for org_id, count in db.execute(
        select(Resource.org_id, func.count()).where(published, attached).group_by(Resource.org_id)
    ):
        rows[org_id].attached = count


def late_resources(
    db: Session, ids: list[int], end: datetime
) -> list[tuple[Resource, datetime | None, bool]]:
    """Published 库表 resources of `ids` with a fixed cycle: (resource, last update, on time) at `end`."""
    last = (
        select(Batch.resource_id, func.max(Batch.finished_at).label("last"))
        .where(Batch.accepted > 0, Batch.finished_at < end)
        .group_by(Batch.resource_id)
        .subquery()
    )
    found = []
    for resource, last_update in db.execute(
        select(Resource, last.c.last)
        .outerjoin(last, last.c.resource_id == Resource.id)
        .where(
            Resource.org_id.in_(ids),
            Resource.status != "retired",
            Resource.published_at < end,
            Resource.provision_method == "table",
        )
        .order_by(Resource.code)
    ):
        days = UpdateCycle(resource.update_cycle).days
        if days is None:
            continue
        moment = aware(last_update)
        found.append((resource, moment, moment is not None and moment + timedelta(days=days) >= end))
    return found


def _timeliness(db: Session, rows: dict[int, Indicators], ids: list[int], end: datetime) -> None:
    for resource, _last, on_time in late_resources(db, ids, end):
        row = rows[resource.org_id]
        row.cycled += 1
        row.on_time += on_time


def requests_in(db: Session, ids: list[int], start: datetime, end: datetime) -> list[ShareRequest]:
    """Conditional requests to `ids` that were answered in the period or fell due in it unanswered."""
    candidates = db.scalars(
        select(ShareRequest)
        .where(
            ShareRequest.provider_org_id.in_(ids),
            ShareRequest.route == "conditional",
            ShareRequest.filed_at < end,
            or_(ShareRequest.decided_at.is_(None), ShareRequest.decided_at >= start),
        )
        .order_by(ShareRequest.id)
    ).all()
    first, last = start.astimezone(BEIJING).date(), end.astimezone(BEIJING).date()
    found = []
    for r in candidates:
        answered = r.decided_at is not None and r.decided_at < end
        fell_due = r.due_date is not None and first <= r.due_date < last and r.status in {"pending", *DECIDED}
        if answered or fell_due:
            found.append(r)
    return found


def answered_in_time(request: ShareRequest, end: datetime) -> bool:
    if request.decided_at is None or request.decided_at >= end or request.due_date is None:
        return False
    return beijing_day(request.decided_at) <= request.due_date


def _requests(
    db: Session, rows: dict[int, Indicators], ids: list[int], start: datetime, end: datetime
) -> None:
    calendar = Calendar.load(db)
    for r in requests_in(db, ids, start, end):
        row = rows[r.provider_org_id]
        row.requests_due += 1
        if r.decided_at is not None and r.decided_at < end:
            row.answered += 1
            row.reply_days_total += calendar.working_days_between(r.filed_on, beijing_day(r.decided_at)).days
            row.answered_in_time += answered_in_time(r, end)
        else:
            row.pending_overdue += 1


def _quality(
    db: Session, rows: dict[int, Indicators], ids: list[int], start: datetime, end: datetime
) -> None:
    for org_id, received, accepted in db.execute(
        select(Resource.org_id, func.sum(Batch.rows_received), func.sum(Batch.accepted))
        .join(Resource, Resource.id == Batch.resource_id)
        .where(Resource.org_id.in_(ids), Batch.received_at >= start, Batch.received_at < end)
        .group_by(Resource.org_id)
    ):
        rows[org_id].rows_received = int(received or 0)
        rows[org_id].rows_accepted = int(accepted or 0)


def open_feedback(db: Session, ids: list[int], end: datetime) -> list[Feedback]:
    """Cases filed with `ids` as provider and not yet answered at `end`."""
    return list(
        db.scalars(
            select(Feedback)
            .where(
                Feedback.provider_org_id.in_(ids),
                Feedback.filed_at < end,
                or_(Feedback.answered_at.is_(None), Feedback.answered_at >= end),
                or_(Feedback.closed_at.is_(None), Feedback.closed_at >= end),
            )
            .order_by(Feedback.filed_at)
        )
    )


def _feedback(db: Session, rows: dict[int, Indicators], ids: list[int], end: datetime) -> None:
    last = end.astimezone(BEIJING).date()
    for case in open_feedback(db, ids, end):
        row = rows[case.provider_org_id]
        row.feedback_open += 1
        filed = aware(case.filed_at)
        assert filed is not None
        age = (end - filed).days
        row.feedback_oldest_days = max(row.feedback_oldest_days or 0, age)
        row.feedback_overdue += case.due_date < last


def _uses(db: Session, rows: dict[int, Indicators], ids: list[int], start: datetime, end: datetime) -> None:
    in_period = and_(DataUse.at >= start, DataUse.at < end)
    for org_id, calls, consumers, delivered in db.execute(
        select(
            Resource.org_id, func.count(), func.count(func.distinct(DataUse.org_id)), func.sum(DataUse.rows)
        )
        .join(Resource, Resource.id == DataUse.resource_id)
        .where(Resource.org_id.in_(ids), in_period, DataUse.outcome == "delivered")
        .group_by(Resource.org_id)
    ):
        rows[org_id].calls = calls
        rows[org_id].consumers = consumers
        rows[org_id].rows_delivered = int(delivered or 0)
    made: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for org_id, outcome, count in db.execute(
        select(DataUse.org_id, DataUse.outcome, func.count())
        .where(DataUse.org_id.in_(ids), in_period)
        .group_by(DataUse.org_id, DataUse.outcome)
    ):
        made[org_id][0] += count
        if outcome == "refused":
            made[org_id][1] += count
    for org_id, (count, refused) in made.items():
        rows[org_id].calls_made = count
        rows[org_id].calls_refused = refused


def trend(
    db: Session, periods: list[Period], *, org_ids: Iterable[int] | None = None
) -> list[dict[str, Any]]:
    """The totals of `org_ids` (all departments: None) for each period, oldest first."""
    ids = None if org_ids is None else list(org_ids)
    series = []
    for period in periods:
        total = compute(db, period, org_ids=ids).total.as_dict()
        series.append({"period": period.code, "label": period.label, **total})
    return series
