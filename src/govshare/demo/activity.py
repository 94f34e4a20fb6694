"""Six months of simulated sharing in the demo city, so that supervision has something to show.

Everything here goes through the real services — requests are filed and answered by the demo
people, data is read through the data API under the grants, doubts are filed on real rows — and
then the records' business dates are moved back into the months they stand for (the request's
filing day and due date, the answer, the use of data, when an entry was compiled and published).
The audit log keeps the real moment of loading: it is the chain of what happened on this server.
Finally the reports of the finished months and quarter are published, as the job would have.

The history is deterministic: the same demo every time, with a few departments that answer late,
one request left unanswered past its due date, and one doubt left waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from govshare.auth.service import actor_for
from govshare.authz import Actor
from govshare.calendar.deadlines import due_date
from govshare.catalog.models import Resource
from govshare.classification import scheme as classification
from govshare.demo.provision import SYNCED
from govshare.errors import Invalid
from govshare.exchange import store
from govshare.exchange.access import published_items
from govshare.exchange.models import Batch
from govshare.sharing import feedback, rowids, rows
from govshare.sharing.models import DataUse
from govshare.sharing.service import DecisionIn, RequestIn, decide, file_request
from govshare.supervision import pdf, reports
from govshare.supervision.periods import Period
from govshare.users.models import User
from govshare.workdays import BEIJING, today

MONTHS = 6
BASIS = "《石家庄市政务数据共享管理规定》第十五条及本部门法定职责"


@dataclass(frozen=True)
class Use:
    consumer: str  # org code
    provider: str
    resource: str
    purpose: str
    reply_days: int | None = None  # conditional: working days the provider took (None: unanswered)


# Who uses whose data, in the order of the months they started (oldest first). 民政局 holds no grant
# on 公安局's 人口基础信息 or 机动车登记信息: a newcomer following docs/sharing.md (and the acceptance
# checks) requests them as 民政局 from scratch.
USES = (
    Use("housing", "police", "人口基础信息", "住房保障对象资格审核"),
    Use("hrss", "police", "人口基础信息", "社会保险参保资格核验"),
    Use("housing", "police", "机动车登记信息", "住房保障家庭财产状况核查", reply_days=4),
    Use("health", "police", "人口基础信息", "居民健康档案身份核验"),
    Use("housing", "market", "企业登记信息", "建筑业企业资质审查"),
    Use("civil", "health", "出生医学证明信息", "新生儿救助对象核查", reply_days=3),
    Use("hrss", "market", "企业登记信息", "用人单位参保登记核验"),
    Use("hrss", "medical", "医疗保障参保信息", "社会保险关系转移核验", reply_days=11),
    Use("civil", "hrss", "社会保险参保信息", "困难群众救助对象核查"),
    Use("edu", "police", "人口基础信息", "义务教育入学资格审核"),
    Use("medical", "market", "企业登记信息", "定点医药机构资格审核"),
    Use("transport", "police", "驾驶人信息", "道路运输从业人员资格审查", reply_days=13),
    Use("market", "housing", "住房公积金缴存信息", "市场主体准入联合审查", reply_days=6),
    Use("changan", "civil", "最低生活保障对象信息", "辖区困难群众走访慰问", reply_days=None),
)
DOUBTER = USES[1]  # 人社局 on 人口基础信息: files the demo's waiting doubt and runs its analysis


def _person(db: Session, username: str) -> Actor:
    user = db.scalar(select(User).where(User.username == username))
    assert user is not None, username
    return actor_for(db, user)


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(10), BEIJING)


def _working_day(db: Session, day: date) -> date:
    """`day` if it is a working day, else the next one."""
    return due_date(db, day - timedelta(days=1), 1).day


def _items(db: Session, resource: Resource, unconditional: bool) -> list[str]:
    """Up to five items the levels let this route share."""
    levels = classification.load(db)
    wanted = []
    for item in published_items(db, resource):
        level = levels.of_item(item)
        if level.shareable and (level.unconditional or not unconditional):
            wanted.append(item["name"])
    return wanted[:5]


def load(db: Session, *, progress: Callable[[str], None] = lambda _m: None) -> int:
    """Simulate the last six months; returns the number of data calls made."""
    progress("共享与使用记录（近六个月）")
    now = today()
    resources = {
        r.name: r
        for r in db.scalars(select(Resource).where(Resource.status == "published").order_by(Resource.id))
    }
    _backdate_catalog(db, list(resources.values()), now)
    calls = 0
    for index, use in enumerate(USES):
        resource = resources.get(use.resource)
        if resource is None:
            raise Invalid(f"演示目录中没有“{use.resource}”。", f"Demo entry {use.resource} missing.")
        # Spread the uses over the months, oldest first, each on a working day mid-month.
        month = Period.containing(now)
        for _ in range(MONTHS - 1 - index * MONTHS // len(USES)):
            month = month.previous()
        filed_on = _working_day(db, min(month.start + timedelta(days=4 + index % 9), now))
        calls += _use(db, use, resource, filed_on, now)
    _doubt(db, resources["人口基础信息"], now)
    db.flush()
    return calls


def _backdate_catalog(db: Session, resources: list[Resource], now: date) -> None:
    """Entries compiled and published over the past months rather than all today; every other 库表
    entry received its data two days after publication and nothing since (so it is late now), the
    others are current."""
    for index, resource in enumerate(resources):
        back = timedelta(days=30 * (MONTHS + 2) - index * 7)
        resource.created_at -= back
        if resource.published_at is None:
            continue
        resource.published_at -= back - timedelta(days=3)
        if resource.provision_method == "table" and index % 2 and resource.name != SYNCED:
            received = resource.published_at + timedelta(days=2)
            db.execute(
                update(Batch)
                .where(Batch.resource_id == resource.id)
                .values(received_at=received, finished_at=received + timedelta(minutes=1))
                .execution_options(synchronize_session=False)
            )


def _use(db: Session, use: Use, resource: Resource, filed_on: date, now: date) -> int:
    consumer = _person(db, f"{use.consumer}_user")
    conditional = resource.sharing_type == "conditional"
    request, grant = file_request(
        db,
        actor=consumer,
        data=RequestIn(
            resource_id=resource.id,
            items=_items(db, resource, unconditional=not conditional),
            purpose=use.purpose,
            basis=BASIS,
            duration_days=365,
        ),
    )
    shift = datetime.combine(now, time(), BEIJING) - datetime.combine(filed_on, time(), BEIJING)
    request.filed_on, request.filed_at = filed_on, request.filed_at - shift
    if conditional:
        due = due_date(db, filed_on, 10)
        request.due_date, request.due_provisional = due.day, due.provisional
        if use.reply_days is None:
            return 0  # left unanswered: overdue once its due date passes
        decided_on = due_date(db, filed_on, use.reply_days).day
        if decided_on > now:
            return 0
        request, grant = decide(
            db,
            actor=_person(db, f"{use.provider}_approver"),
            request_id=request.id,
            data=DecisionIn(decision="approve", reason="符合履职需要，同意共享"),
        )
        request.decided_at = _noon(decided_on)
        filed_on = decided_on
    if grant is None:
        return 0
    grant.valid_from = _noon(filed_on)
    db.flush()
    first = db.scalar(select(func.max(DataUse.id))) or 0
    days = (now - filed_on).days
    for step in range(0, days + 1, 9):  # about three calls a month since the grant
        rows.read_rows(db, actor=consumer, resource_id=resource.id, purpose=use.purpose, query=[], limit=20)
        db.execute(
            update(DataUse)
            .where(DataUse.id > first)
            .values(at=_noon(filed_on + timedelta(days=step)))
            .execution_options(synchronize_session=False)
        )
        first = db.scalar(select(func.max(DataUse.id))) or 0
    return days // 9 + 1


def _doubt(db: Session, population: Resource, now: date) -> None:
    """人社局 doubts one row of 人口基础信息 twelve days ago; 公安局 has not answered yet."""
    if not store.exists(db, population.id):
        return  # a demo without rows has nothing to doubt
    consumer = _person(db, f"{DOUBTER.consumer}_user")
    table = store.table_for(db, population.id, published_items(db, population))
    key = db.scalar(select(table.c._key).where(table.c._retired_at.is_(None)).order_by(table.c._key).limit(1))
    if key is None:
        return
    case = feedback.file_feedback(
        db,
        actor=consumer,
        resource_id=population.id,
        purpose=DOUBTER.purpose,
        kind="wrong",
        description="该参保人已于上月迁出本市，户籍地址与社会保险登记不一致",
        row_id=rowids.row_id(consumer.org_id or 0, key),
    )
    filed = now - timedelta(days=12)
    case.filed_at = _noon(filed)
    case.clock_from = filed
    case.due_date = due_date(db, filed, 5).day


def publish_reports(db: Session, *, progress: Callable[[str], None] = lambda _m: None) -> int:
    """The reports the job would have published: the last three months and the last quarter."""
    try:
        pdf.report_font()
    except Invalid as exc:
        progress(f"未生成公示报告：{exc.message}")
        return 0
    operator = Actor.operator("demo-loader")
    month = Period.containing(today())
    periods = []
    for _ in range(3):
        month = month.previous()
        periods.append(month)
    periods.append(Period.containing(today(), "quarter").previous())
    for period in periods:
        progress(f"公示报告 {period.label}")
        reports.generate(db, actor=operator, period=period, source="demo")
    return len(periods)
