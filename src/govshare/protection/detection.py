"""Detection rules over the audit log, their Bureau-edited thresholds, and the scanner (S10–S12).

The scanner reads audit events after its watermark (`ScanState.last_seq`) in sequence order, lets
every enabled rule look at them, and moves the watermark in the same transaction as the alerts it
raised: each event is evaluated once, and a restart neither skips nor re-alerts. A rule looks at a
new event together with the subject's earlier events inside its window (already evaluated, but
still part of the situation). Audit sequence numbers are handed out under the chain head's lock,
which is held until commit, so no event can commit behind the watermark.

A finding extends the subject's latest alert of the same rule while that alert is not closed and
the new window touches its window (the same situation continuing); otherwise it raises a new alert,
whose `dedupe_key` is rule|subject|window start. A closed alert is never reopened by the scanner:
its window has been concluded.
"""

from __future__ import annotations

import json
import statistics
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.audit.models import AuditEvent
from govshare.authz import Action, Actor, require
from govshare.db import utcnow
from govshare.orgs.models import Organisation
from govshare.protection import alerts
from govshare.protection.models import Alert, ScanState
from govshare.protection.rules import RULES, effective
from govshare.sharing.models import DataUse
from govshare.workdays import BEIJING, Calendar

BATCH = 5000
EVIDENCE_LIMIT = 1000  # audit seqs kept on an alert; `event_count` counts them all
SCANNER = Actor.operator("protection-scanner")

# --- events and findings ------------------------------------------------------------------------


@dataclass(frozen=True)
class Ev:
    seq: int
    at: datetime
    type: str
    actor_kind: str
    actor_id: int | None
    actor_name: str
    org_id: int | None
    ip: str | None
    details: dict[str, Any]


_COLUMNS = (
    AuditEvent.seq,
    AuditEvent.occurred_at,
    AuditEvent.event_type,
    AuditEvent.actor_kind,
    AuditEvent.actor_id,
    AuditEvent.actor_name,
    AuditEvent.org_id,
    AuditEvent.source_ip,
    AuditEvent.details,
)


def _ev(row: Any) -> Ev:
    at = row.occurred_at if row.occurred_at.tzinfo else row.occurred_at.replace(tzinfo=UTC)
    try:
        details = json.loads(row.details) if row.details else {}
    except ValueError:
        details = {}
    return Ev(
        row.seq,
        at,
        row.event_type,
        row.actor_kind,
        row.actor_id,
        row.actor_name,
        row.org_id,
        row.source_ip,
        details if isinstance(details, dict) else {},
    )


@dataclass
class Finding:
    rule: str
    subject: str
    subject_name: str
    org_id: int | None
    start: datetime
    end: datetime
    seqs: list[int]
    measure: int
    summary: str
    gap: timedelta  # how far apart two windows may be and still be one situation
    count: int | None = None  # events behind it when more than `seqs` holds


@dataclass(frozen=True)
class Subject:
    key: str
    name: str
    org_id: int | None
    condition: Any  # SQL condition on AuditEvent selecting the subject's events


def actor_subject(ev: Ev) -> Subject | None:
    """The person or business system that acted."""
    if ev.actor_kind not in ("user", "system") or ev.actor_id is None:
        return None
    cond = and_(AuditEvent.actor_kind == ev.actor_kind, AuditEvent.actor_id == ev.actor_id)
    return Subject(f"{ev.actor_kind}:{ev.actor_id}", ev.actor_name, ev.org_id, cond)


def consumer_subject(ev: Ev) -> Subject | None:
    """The consumer of data: the business system that called, or the department of the person who did."""
    if ev.actor_kind == "system" and ev.actor_id is not None:
        return actor_subject(ev)
    if ev.actor_kind == "user" and ev.org_id is not None:
        cond = and_(AuditEvent.actor_kind == "user", AuditEvent.org_id == ev.org_id)
        return Subject(f"org:{ev.org_id}", f"org:{ev.org_id}", ev.org_id, cond)
    return None


def address_subject(ev: Ev) -> Subject | None:
    if not ev.ip:
        return None
    return Subject(f"ip:{ev.ip}", ev.ip, None, AuditEvent.source_ip == ev.ip)


class Window(ABC):
    """What a sliding window holds; `add` and `drop` keep it current as it moves."""

    @abstractmethod
    def add(self, ev: Ev) -> None: ...

    @abstractmethod
    def drop(self, ev: Ev) -> None: ...

    @abstractmethod
    def measure(self) -> int: ...


class Total(Window):
    def __init__(self, weight: Callable[[Ev], int]) -> None:
        self.weight, self.total = weight, 0

    def add(self, ev: Ev) -> None:
        self.total += self.weight(ev)

    def drop(self, ev: Ev) -> None:
        self.total -= self.weight(ev)

    def measure(self) -> int:
        return self.total


def _signature(ev: Ev) -> str:
    return json.dumps(ev.details.get("filters") or {}, sort_keys=True, ensure_ascii=False)


def _missed(ev: Ev) -> bool:
    """A first page that found nothing (a later page may be empty at the end of what it found)."""
    return not ev.details.get("rows") and not ev.details.get("page")


class Lookups(Window):
    """Distinct single-value filters, and distinct ones that found nothing."""

    def __init__(self) -> None:
        self.all: Counter[str] = Counter()
        self.empty: Counter[str] = Counter()

    def add(self, ev: Ev) -> None:
        self.all[_signature(ev)] += 1
        if _missed(ev):
            self.empty[_signature(ev)] += 1

    def drop(self, ev: Ev) -> None:
        for counter, counted in ((self.all, True), (self.empty, _missed(ev))):
            if counted:
                counter[_signature(ev)] -= 1
                if counter[_signature(ev)] <= 0:
                    del counter[_signature(ev)]

    def measure(self) -> int:
        return len(self.all)

    def misses(self) -> int:
        return len(self.empty)


@dataclass
class WindowRule:
    code: str
    types: tuple[str, ...]
    matches: Callable[[Ev, dict[str, int], Calendar], bool]
    subject: Callable[[Ev], Subject | None]
    window: Callable[[], Window]
    hit: Callable[[Window, dict[str, int]], bool]
    describe: Callable[[Window, dict[str, int]], str]
    minutes: str = "minutes"


def _rows(ev: Ev) -> int:
    rows = ev.details.get("rows")
    return rows if isinstance(rows, int) and rows > 0 else 0


def is_working_time(calendar: Calendar, at: datetime, start_hour: int, end_hour: int) -> bool:
    """Whether `at` falls in working hours (China Standard Time) of a working day (holidays and
    make-up working days per the calendar)."""
    local = at.astimezone(BEIJING)
    return calendar.judge(local.date()).workday and start_hour <= local.hour < end_hour


def _single_lookup(ev: Ev) -> bool:
    # A later page counts too (the signature is the filters': one lookup however many pages), or
    # one cursor sent with every lookup would hide them all.
    filters = ev.details.get("filters")
    if not isinstance(filters, dict) or not filters:
        return False
    # Equality on one value per item (`item=v`), not ranges (`item__gte=v`) nor lists of values.
    return all("__" not in k and isinstance(v, list) and len(v) == 1 for k, v in filters.items())


_DENIALS = (
    str(EventType.access_denied),
    str(EventType.system_address_refused),
    str(EventType.data_refused),
    str(EventType.service_called),  # a refused call is recorded as the call, outcome refused
)


def _denial(ev: Ev) -> bool:
    if ev.type == EventType.service_called:
        return ev.details.get("outcome") == "refused"
    return ev.type != EventType.data_refused or ev.details.get("reason") != "purpose_mismatch"


def _count(label: str) -> Callable[[Window, dict[str, int]], str]:
    return lambda w, p: f"{p['minutes']} 分钟内{label} {w.measure()} 次（阈值 {p['count']} 次）"


WINDOW_RULES: list[WindowRule] = [
    WindowRule(
        "denial_burst",
        _DENIALS,
        lambda ev, p, c: _denial(ev),
        actor_subject,
        lambda: Total(lambda ev: 1),
        lambda w, p: w.measure() >= p["count"],
        _count("被拒绝访问"),
    ),
    WindowRule(
        "purpose_mismatch",
        (str(EventType.data_refused),),
        lambda ev, p, c: ev.details.get("reason") == "purpose_mismatch",
        actor_subject,
        lambda: Total(lambda ev: 1),
        lambda w, p: w.measure() >= p["count"],
        _count("以授权未申报的用途调用被拒绝"),
    ),
    WindowRule(
        "revoked_credentials",
        (str(EventType.token_rejected),),
        lambda ev, p, c: True,
        actor_subject,
        lambda: Total(lambda ev: 1),
        lambda w, p: w.measure() >= p["count"],
        _count("使用失效凭证"),
    ),
    WindowRule(
        "login_failures",
        (str(EventType.login_failed),),
        lambda ev, p, c: True,
        address_subject,
        lambda: Total(lambda ev: 1),
        lambda w, p: w.measure() >= p["count"],
        _count("登录失败"),
    ),
    WindowRule(
        "off_hours_bulk",
        (str(EventType.data_delivered),),
        lambda ev, p, c: _rows(ev) > 0 and not is_working_time(c, ev.at, p["work_start"], p["work_end"]),
        consumer_subject,
        lambda: Total(_rows),
        lambda w, p: w.measure() >= p["rows"],
        lambda w, p: f"非工作时间 {p['minutes']} 分钟内获取数据 {w.measure()} 行（阈值 {p['rows']} 行）",
    ),
    WindowRule(
        "key_enumeration",
        (str(EventType.data_delivered),),
        lambda ev, p, c: _single_lookup(ev),
        actor_subject,
        Lookups,
        lambda w, p: w.measure() >= p["lookups"] or (isinstance(w, Lookups) and w.misses() >= p["misses"]),
        lambda w, p: (
            f"{p['minutes']} 分钟内用 {w.measure()} 个不同的单值条件逐条查询"
            f"（其中 {w.misses() if isinstance(w, Lookups) else 0} 个查无结果；"
            f"阈值 {p['lookups']} / {p['misses']}）"
        ),
    ),
]


def _evaluate_window(
    db: Session, rule: WindowRule, events: list[Ev], params: dict[str, int], calendar: Calendar
) -> list[Finding]:
    span = timedelta(minutes=params[rule.minutes])
    last_seq = events[-1].seq
    fresh: dict[str, tuple[Subject, list[Ev]]] = {}
    for ev in events:
        if ev.type in rule.types and rule.matches(ev, params, calendar):
            subject = rule.subject(ev)
            if subject is not None:
                fresh.setdefault(subject.key, (subject, []))[1].append(ev)
    findings: list[Finding] = []
    for subject, new in fresh.values():
        first, last = min(e.at for e in new), max(e.at for e in new)
        rows = db.execute(
            select(*_COLUMNS)
            .where(
                AuditEvent.event_type.in_(rule.types),
                subject.condition,
                AuditEvent.occurred_at > first - span,
                AuditEvent.occurred_at <= last,
                AuditEvent.seq <= last_seq,
            )
            .order_by(AuditEvent.occurred_at, AuditEvent.seq)
        ).all()
        context = [e for e in map(_ev, rows) if rule.matches(e, params, calendar)]
        new_seqs = {e.seq for e in new}
        window, left = rule.window(), 0
        current: Finding | None = None
        for right, ev in enumerate(context):
            window.add(ev)
            while context[left].at <= ev.at - span:
                window.drop(context[left])
                left += 1
            if ev.seq not in new_seqs or not rule.hit(window, params):
                continue
            inside = context[left : right + 1]
            if current is not None and inside[0].at <= current.end + span:
                current.seqs = sorted(set(current.seqs) | {e.seq for e in inside})
                current.end, current.measure = ev.at, max(current.measure, window.measure())
                current.summary = rule.describe(window, params)
                continue
            current = Finding(
                rule.code,
                subject.key,
                subject.name,
                subject.org_id,
                inside[0].at,
                ev.at,
                [e.seq for e in inside],
                window.measure(),
                rule.describe(window, params),
                span,
            )
            findings.append(current)
    return findings


def _day_start(at: datetime) -> datetime:
    local = at.astimezone(BEIJING)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _china_day(db: Session, column: Any) -> Any:
    """The calendar day (YYYY-MM-DD) in China Standard Time of a UTC timestamp column."""
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM-DD")
    return func.substr(func.datetime(column, "+8 hours"), 1, 10)


def _uses_of(key: str) -> ColumnElement[bool]:
    kind, _, ident = key.partition(":")
    if kind == "system":
        return DataUse.system_id == int(ident)
    return and_(DataUse.org_id == int(ident), DataUse.system_id.is_(None))


def _evaluate_volume(db: Session, events: list[Ev], params: dict[str, int]) -> list[Finding]:
    """Per consumer and China day with new deliveries: that day's rows against the median of its
    daily rows over the previous `baseline_days` days (days without calls count as 0)."""
    last_seq = events[-1].seq
    days: dict[tuple[str, datetime], Subject] = {}
    for ev in events:
        if ev.type == EventType.data_delivered and _rows(ev) > 0:
            subject = consumer_subject(ev)
            if subject is not None:
                days.setdefault((subject.key, _day_start(ev.at)), subject)
    findings = []
    for (key, start), subject in days.items():
        end = start + timedelta(days=1)
        delivered = and_(_uses_of(key), DataUse.outcome == "delivered")
        today = db.scalar(
            select(func.coalesce(func.sum(DataUse.rows), 0)).where(
                delivered, DataUse.at >= start, DataUse.at < end
            )
        )
        today = int(today or 0)
        if today < params["min_rows"]:
            continue
        since = start - timedelta(days=params["baseline_days"])
        day = _china_day(db, DataUse.at)
        per_day: dict[str, int] = dict(
            db.execute(
                select(day, func.sum(DataUse.rows))
                .where(delivered, DataUse.at >= since, DataUse.at < start)
                .group_by(day)
            ).all()
        )
        days_back = [
            (start - timedelta(days=n)).astimezone(BEIJING).strftime("%Y-%m-%d")
            for n in range(1, params["baseline_days"] + 1)
        ]
        daily = [int(per_day.get(d) or 0) for d in days_back]
        median = statistics.median(daily)
        if today <= params["factor"] * median:
            continue
        evidence = select(AuditEvent.seq, AuditEvent.occurred_at).where(
            AuditEvent.event_type == str(EventType.data_delivered),
            subject.condition,
            AuditEvent.occurred_at >= start,
            AuditEvent.occurred_at < end,
            AuditEvent.seq <= last_seq,
        )
        found_sub = evidence.subquery()
        count, last_at = db.execute(select(func.count(), func.max(found_sub.c.occurred_at))).one()
        found = db.scalars(
            evidence.with_only_columns(AuditEvent.seq).order_by(AuditEvent.seq).limit(EVIDENCE_LIMIT)
        ).all()
        last_at = last_at or start
        findings.append(
            Finding(
                "volume_spike",
                key,
                subject.name,
                subject.org_id,
                start,
                last_at if last_at.tzinfo else last_at.replace(tzinfo=UTC),
                list(found),
                today,
                f"{start.astimezone(BEIJING):%Y-%m-%d} 获取数据 {today} 行，"
                f"前 {params['baseline_days']} 天日中位数 {median:g} 行（阈值 {params['factor']} 倍且不少于 "
                f"{params['min_rows']} 行）",
                timedelta(days=1),
                count=count,
            )
        )
    return findings


# --- the scanner --------------------------------------------------------------------------------


@dataclass
class ScanResult:
    events: int = 0
    raised: list[int] = field(default_factory=list)
    extended: list[int] = field(default_factory=list)
    last_seq: int = 0

    def text(self) -> str:
        return (
            f"评估审计事件 {self.events} 条，新告警 {len(self.raised)} 条，追加证据 {len(self.extended)} 条，"
            f"水位 #{self.last_seq}"
        )


def _state(db: Session) -> ScanState:
    state = db.scalar(select(ScanState).where(ScanState.id == 1).with_for_update())
    if state is None:
        state = ScanState(id=1, last_seq=0)
        db.add(state)
        db.flush()
    return state


def watermark(db: Session) -> ScanState:
    """The scanner's state, locked for this transaction (created when missing)."""
    return _state(db)


def last_scan(db: Session) -> ScanState | None:
    """The scanner's state as last committed, for display (no lock)."""
    return db.get(ScanState, 1)


def _names(db: Session, findings: Iterable[Finding]) -> None:
    """Name department subjects by their organisation (the others are named by their events)."""
    ids = {int(f.subject.split(":")[1]) for f in findings if f.subject.startswith("org:")}
    if not ids:
        return
    names = dict(
        db.execute(select(Organisation.id, Organisation.short_name).where(Organisation.id.in_(ids))).all()
    )
    for f in findings:
        if f.subject.startswith("org:"):
            f.subject_name = f"{names.get(int(f.subject.split(':')[1]), f.subject)}（部门人员）"


def _record(db: Session, finding: Finding, result: ScanResult) -> None:
    latest = db.scalar(
        select(Alert)
        .where(Alert.rule == finding.rule, Alert.subject == finding.subject)
        .order_by(Alert.window_end.desc(), Alert.id.desc())
        .limit(1)
    )
    if latest is not None and latest.status != "closed" and latest.window_end >= finding.start - finding.gap:
        new = [s for s in finding.seqs if s > latest.last_evidence_seq]
        if not new and finding.measure <= latest.measure:
            return
        room = EVIDENCE_LIMIT - len(latest.evidence)
        if room > 0 and new:
            latest.evidence = latest.evidence + new[:room]
        latest.event_count += len(new)
        latest.last_evidence_seq = max([latest.last_evidence_seq, *new])
        latest.window_end = max(latest.window_end, finding.end)
        latest.measure = max(latest.measure, finding.measure)
        latest.summary = finding.summary
        latest.updated_at = utcnow()
        db.flush()
        audit.record(
            db,
            EventType.alert_extended,
            actor=SCANNER,
            obj=latest,
            org_id=latest.org_id,
            details={
                "rule": latest.rule,
                "subject": latest.subject,
                "new_events": new[:50],
                "measure": latest.measure,
            },
        )
        result.extended.append(latest.id)
        return
    key = f"{finding.rule}|{finding.subject}|{finding.start.astimezone(UTC).isoformat()}"
    if db.scalar(select(Alert.id).where(Alert.dedupe_key == key)) is not None:
        return  # that window was concluded (closed): see the module docstring
    alert = Alert(
        rule=finding.rule,
        dedupe_key=key,
        subject=finding.subject,
        subject_name=finding.subject_name[:200],
        org_id=finding.org_id,
        severity=RULES[finding.rule].severity,
        summary=finding.summary,
        window_start=finding.start,
        window_end=finding.end,
        evidence=finding.seqs[:EVIDENCE_LIMIT],
        event_count=finding.count if finding.count is not None else len(finding.seqs),
        last_evidence_seq=max(finding.seqs, default=0),
        measure=finding.measure,
        status="open",
    )
    db.add(alert)
    db.flush()
    audit.record(
        db,
        EventType.alert_raised,
        actor=SCANNER,
        obj=alert,
        org_id=alert.org_id,
        details={
            "rule": alert.rule,
            "subject": alert.subject,
            "summary": alert.summary,
            "events": alert.event_count,
            "first_seq": alert.evidence[0] if alert.evidence else None,
        },
    )
    alerts.alert_task(db, alert)
    result.raised.append(alert.id)


def scan(db: Session, *, max_events: int | None = None) -> ScanResult:
    """Evaluate every audit event after the watermark (at most `max_events`, in batches), raise or
    extend alerts, and move the watermark; all in the caller's transaction. The watermark row is
    locked for the scan, so two scanners never evaluate the same events."""
    state = _state(db)
    rules = effective(db)
    calendar = Calendar.load(db)
    result = ScanResult(last_seq=state.last_seq)
    while max_events is None or result.events < max_events:
        size = BATCH if max_events is None else min(BATCH, max_events - result.events)
        rows = db.execute(
            select(*_COLUMNS).where(AuditEvent.seq > state.last_seq).order_by(AuditEvent.seq).limit(size)
        ).all()
        if not rows:
            break
        events = [_ev(r) for r in rows]
        findings: list[Finding] = []
        for rule in WINDOW_RULES:
            setting = rules[rule.code]
            if setting.enabled:
                findings += _evaluate_window(db, rule, events, setting.params, calendar)
        if rules["volume_spike"].enabled:
            findings += _evaluate_volume(db, events, rules["volume_spike"].params)
        _names(db, findings)
        for finding in sorted(findings, key=lambda f: (f.end, f.rule, f.subject)):
            _record(db, finding, result)
        state.last_seq = result.last_seq = events[-1].seq
        result.events += len(events)
        db.flush()
    state.scanned_at = utcnow()
    return result


def run_scan(db: Session, *, actor: Actor) -> ScanResult:
    """A scan asked for by a person (the Bureau) rather than the schedule."""
    require(actor, Action.rules_manage)
    return scan(db)
