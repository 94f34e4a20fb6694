"""Detection of the M24 violations from the platform's own records (the rules are in
docs/rectification.md; thresholds are settings).

Each rule yields findings, one per problem, keyed by `dedupe_key`. A finding whose key has an
unresolved violation extends it (new evidence, `last_seen_at`); otherwise it raises a new one —
unless the rule describes an *event* (a quarantined batch's feedback, a refused call, an alert) and
that very event was already raised once: an event never comes back after the Bureau resolved or
dismissed it. A *state* (no catalog, an overdue delivery, open quarantined rows) that is no longer
found resolves its open violation by itself, and may recur later as a new one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.catalog.models import Resource, ResourceVersion
from govshare.catalog.supervision import department_catalogs
from govshare.catalog.vocab import EntryStatus, VersionState
from govshare.db import utcnow
from govshare.exchange.models import Batch, QuarantinedRow
from govshare.exchange.timeliness import timeliness
from govshare.protection.models import Alert
from govshare.rectification.models import Violation
from govshare.settings import get_settings
from govshare.sharing.models import DataUse, Feedback
from govshare.workdays import BEIJING, today

# Rules that describe a state: when no longer found, their open violation resolves by itself.
STATE_RULES = frozenset({"no_catalog", "returned", "stale", "late", "quarantine"})
EVIDENCE_LIMIT = 50
READER = Actor.operator("rectification.detect")


@dataclass
class Finding:
    org_id: int
    kind: str
    rule: str
    key: str
    summary: str
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Detected:
    raised: int = 0
    extended: int = 0
    resolved: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def text(self) -> str:
        return f"新发现违规 {self.raised} 项，持续 {self.extended} 项，已消除 {self.resolved} 项"


def _ev(type_: str, id_: Any, label: str, link: str | None) -> dict[str, Any]:
    return {"type": type_, "id": str(id_), "label": label, "link": link}


def _catalog(db: Session, on: date) -> Iterator[Finding]:
    settings = get_settings()
    stale_before = utcnow() - timedelta(days=settings.catalog_stale_days)
    for row in department_catalogs(db, actor=READER, on=on):
        link = _ev("catalog_supervision", row.org_id, "目录监督：本单位目录情况", "/catalog/supervision")
        if row.compiled == 0 or row.published == 0:
            what = "未编制政务数据资源目录" if row.compiled == 0 else "已编制目录条目但没有一条通过审核发布"
            yield Finding(row.org_id, "catalog", "no_catalog", f"catalog:none:{row.org_id}", what, [link])
        if row.returned and (row.oldest_returned_days or 0) >= settings.rectification_returned_working_days:
            entries = db.execute(
                select(Resource.id, Resource.name)
                .join(ResourceVersion, ResourceVersion.id == Resource.working_version_id)
                .where(Resource.org_id == row.org_id, ResourceVersion.state == VersionState.returned.value)
                .order_by(Resource.id)
                .limit(EVIDENCE_LIMIT)
            )
            yield Finding(
                row.org_id,
                "catalog",
                "returned",
                f"catalog:returned:{row.org_id}",
                f"{row.returned} 条目录被退回后未修改，最久已 {row.oldest_returned_days} 个工作日",
                [_ev("resource", rid, f"退回未修改：{name}", f"/catalog/{rid}") for rid, name in entries],
            )
        if row.stale:
            entries = db.execute(
                select(Resource.id, Resource.name)
                .where(
                    Resource.org_id == row.org_id,
                    Resource.status == EntryStatus.published.value,
                    Resource.reviewed_at < stale_before,
                )
                .order_by(Resource.id)
                .limit(EVIDENCE_LIMIT)
            )
            yield Finding(
                row.org_id,
                "catalog",
                "stale",
                f"catalog:stale:{row.org_id}",
                f"{row.stale} 条已发布目录超过 {settings.catalog_stale_days} 天未更新",
                [_ev("resource", rid, f"长期未更新：{name}", f"/catalog/{rid}") for rid, name in entries],
            )


def _timeliness(db: Session, now: datetime) -> Iterator[Finding]:
    late_days = get_settings().rectification_late_days
    for t in timeliness(db, actor=READER, now=now, late_only=True):
        if t.due is not None and t.days_late < late_days:
            continue
        org_id = db.scalar(select(Resource.org_id).where(Resource.id == t.resource_id))
        assert org_id is not None
        if t.due is None:
            summary, key = f"已发布的库表资源“{t.name}”从未提供数据", f"timeliness:{t.resource_id}:never"
        else:
            due = t.due.astimezone(BEIJING).date()
            summary = (
                f"资源“{t.name}”未按更新周期提供数据：应于 {due:%Y-%m-%d} 前更新，已逾期 {t.days_late} 天"
            )
            key = f"timeliness:{t.resource_id}:{due.isoformat()}"
        yield Finding(
            org_id,
            "timeliness",
            "late",
            key,
            summary,
            [
                _ev("resource", t.resource_id, f"资源数据：{t.name}", f"/catalog/{t.resource_id}/data"),
                _ev("timeliness", t.resource_id, "数据及时性", "/provision/timeliness"),
            ],
        )


def _quality(db: Session, since: datetime) -> Iterator[Finding]:
    open_rows = (
        select(QuarantinedRow.batch_id, func.count().label("n"))
        .where(QuarantinedRow.status == "open")
        .group_by(QuarantinedRow.batch_id)
        .subquery()
    )
    for batch, n, name in db.execute(
        select(Batch, open_rows.c.n, Resource.name)
        .join(open_rows, open_rows.c.batch_id == Batch.id)
        .join(Resource, Resource.id == Batch.resource_id)
        .order_by(Batch.received_at)
    ):
        yield Finding(
            batch.org_id,
            "quality",
            "quarantine",
            f"quality:batch:{batch.id}",
            f"资源“{name}”的数据批次有 {n} 行不符合数据标准和质量规则，被隔离后未更正",
            [
                _ev(
                    "batch",
                    batch.id,
                    f"数据批次 {batch.id[:8]}（隔离 {batch.quarantined} 行，"
                    f"质量分 {batch.quality_score:.0f}）",
                    f"/catalog/{batch.resource_id}/data/batches/{batch.id}",
                )
            ],
        )
    for case, name in db.execute(
        select(Feedback, Resource.name)
        .join(Resource, Resource.id == Feedback.resource_id)
        .where(Feedback.answer == "corrected", Feedback.answered_at >= since)
        .order_by(Feedback.id)
    ):
        yield Finding(
            case.provider_org_id,
            "quality",
            "feedback_error",
            f"feedback:error:{case.id}",
            f"资源“{name}”的数据经使用部门纠错，提供部门核实确认有误（已更正）",
            [_ev("feedback", case.id, f"数据纠错 #{case.id}", f"/sharing/feedback/{case.id}")],
        )
    for case, name in db.execute(
        select(Feedback, Resource.name)
        .join(Resource, Resource.id == Feedback.resource_id)
        .where(Feedback.status == "open", Feedback.due_date < today())
        .order_by(Feedback.id)
    ):
        yield Finding(
            case.provider_org_id,
            "quality",
            "feedback_overdue",
            f"feedback:overdue:{case.id}:{case.clock_from.isoformat()}",
            f"资源“{name}”的数据异议逾期未核实（应于 {case.due_date:%Y-%m-%d} 前答复）",
            [_ev("feedback", case.id, f"数据异议 #{case.id}", f"/sharing/feedback/{case.id}")],
        )


def _purpose(db: Session, since: datetime) -> Iterator[Finding]:
    groups: dict[tuple[int, int, date], list[DataUse]] = defaultdict(list)
    for use in db.scalars(
        select(DataUse).where(DataUse.reason == "purpose_mismatch", DataUse.at >= since).order_by(DataUse.id)
    ):
        at = use.at if use.at.tzinfo is not None else use.at.replace(tzinfo=UTC)
        groups[(use.org_id, use.resource_id, at.astimezone(BEIJING).date())].append(use)
    minimum = get_settings().rectification_purpose_mismatch_min
    names = dict(
        db.execute(select(Resource.id, Resource.name).where(Resource.id.in_({k[1] for k in groups}))).all()
    )
    for (org_id, resource_id, day), uses in groups.items():
        if len(uses) < minimum:
            continue
        purposes = sorted({u.purpose for u in uses})
        yield Finding(
            org_id,
            "purpose",
            "purpose_mismatch",
            f"purpose:{org_id}:{resource_id}:{day.isoformat()}",
            f"{day:%Y-%m-%d} 以授权未申报的用途调用资源“{names.get(resource_id, resource_id)}”"
            f" {len(uses)} 次（用途：{'；'.join(purposes)[:300]}），均被拒绝",
            [
                _ev("data_use", u.id, f"调用被拒：用途“{u.purpose}”", f"/sharing/purposes?org={org_id}")
                for u in uses[:EVIDENCE_LIMIT]
            ],
        )


def _sensitive(db: Session, since: datetime) -> Iterator[Finding]:
    from govshare.protection.rules import RULES

    concluded = (Alert.status == "closed") & Alert.accountability.in_(("rectified", "held_accountable"))
    open_high = (Alert.status != "closed") & (Alert.severity == "high")
    for alert in db.scalars(
        select(Alert)
        .where(Alert.org_id.is_not(None), (concluded & (Alert.closed_at >= since)) | open_high)
        .order_by(Alert.id)
    ):
        assert alert.org_id is not None
        rule = RULES.get(alert.rule)
        title = rule.label if rule is not None else alert.rule
        state = "经调查认定违规" if alert.status == "closed" else "高等级告警尚未处置完毕"
        yield Finding(
            alert.org_id,
            "sensitive",
            "alert",
            f"alert:{alert.id}",
            f"安全告警（{title}）{state}：{alert.summary}"[:1000],
            [_ev("alert", alert.id, f"安全告警 #{alert.id}", f"/protection/alerts/{alert.id}")],
        )


def findings(db: Session, *, now: datetime | None = None) -> list[Finding]:
    """Every current finding, without writing anything."""
    now = now or utcnow()
    since = now - timedelta(days=get_settings().rectification_window_days)
    on = now.astimezone(BEIJING).date()
    return [
        *_catalog(db, on),
        *_timeliness(db, now),
        *_quality(db, since),
        *_purpose(db, since),
        *_sensitive(db, since),
    ]


def detect(db: Session, *, actor: Actor, now: datetime | None = None) -> Detected:
    """Run every rule and bring the violations up to date (see the module's docstring); every
    violation raised or resolved is audited. Raises Forbidden unless `actor` supervises rectification."""
    require(actor, Action.rectification_supervise)
    now = now or utcnow()
    result = Detected()
    unresolved = {
        v.dedupe_key: v
        for v in db.scalars(
            select(Violation).where(Violation.resolved_at.is_(None), Violation.source == "detected")
        )
    }
    found: set[str] = set()
    for f in findings(db, now=now):
        if f.key in found:
            continue
        found.add(f.key)
        current = unresolved.get(f.key)
        if current is not None:
            current.last_seen_at, current.summary, current.evidence = now, f.summary, f.evidence
            result.extended += 1
            continue
        if f.rule not in STATE_RULES and db.scalar(
            select(Violation.id).where(Violation.dedupe_key == f.key).limit(1)
        ):
            continue  # this event was raised once and has been dealt with
        violation = Violation(
            org_id=f.org_id,
            kind=f.kind,
            rule=f.rule,
            dedupe_key=f.key,
            summary=f.summary,
            evidence=f.evidence,
            source="detected",
            status="open",
            detected_at=now,
            last_seen_at=now,
        )
        db.add(violation)
        db.flush()
        result.raised += 1
        result.by_kind[f.kind] = result.by_kind.get(f.kind, 0) + 1
        audit.record(
            db,
            EventType.violation_detected,
            actor=actor,
            obj=violation,
            org_id=f.org_id,
            details={"kind": f.kind, "rule": f.rule, "key": f.key, "summary": f.summary},
        )
    for key, violation in unresolved.items():
        if key in found or violation.status != "open" or violation.rule not in STATE_RULES:
            continue
        violation.status, violation.resolved_at = "resolved", now
        violation.resolution = "复查时检测条件已消除"
        result.resolved += 1
        audit.record(
            db,
            EventType.violation_resolved,
            actor=actor,
            obj=violation,
            org_id=violation.org_id,
            details={"reason": violation.resolution},
        )
    db.flush()
    return result
