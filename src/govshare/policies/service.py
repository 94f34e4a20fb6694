"""The security policy register (S5, S6, S8): create, revise, review, retire, read, and remind the
owners when a periodic review falls due.

Who: the Bureau's administrator writes the Bureau's (city-wide) policies; a department's data
administrator or security officer writes that department's (`policy_manage`, own organisation).
Every logged-in person reads the Bureau's policies and their own department's; other departments'
policies are reported as missing. Writers pass the `version` their edit is based on: a stale one is
a Conflict (409) naming the current version.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, Role, require, visible
from govshare.db import utcnow
from govshare.errors import Conflict, Invalid, NotFound
from govshare.orgs import service as orgs
from govshare.pagination import PageParams, paginate
from govshare.policies.models import (
    BUREAU_KINDS,
    PolicyKind,
    PolicyStatus,
    SecurityPolicy,
    SecurityPolicyVersion,
)
from govshare.tasks import service as tasks
from govshare.workdays import plausible
from govshare.workdays import today as beijing_today

MAX_TITLE = 200
MAX_BODY = 20_000
MAX_NOTE = 2_000
MIN_MONTHS, MAX_MONTHS = 1, 36
TASK = "policy_review"


@dataclass(frozen=True)
class PolicyText:
    """What a writer gives for a new policy or a new version (the kind only at creation)."""

    title: str
    body: str
    effective_on: date
    review_months: int
    kind: PolicyKind | None = None


def add_months(day: date, months: int) -> date:
    """`day` plus `months` calendar months, the day clipped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _text(value: str, field: str, label: str, limit: int, *, keep_lines: bool = False) -> str:
    """`value` trimmed (a title's or note's whitespace collapsed, a body's line breaks kept); Invalid
    naming `label` when empty or longer than `limit`."""
    if keep_lines:
        value = "\n".join(line.rstrip() for line in (value or "").replace("\r\n", "\n").strip().split("\n"))
    else:
        value = " ".join((value or "").split())
    if not value:
        raise Invalid(f"请填写{label}。", f"{field} is required.", details={"field": field})
    if len(value) > limit:
        raise Invalid(f"{label}最多 {limit} 个字。", f"{field} is too long.", details={"field": field})
    return value


def _months(value: int) -> int:
    if not MIN_MONTHS <= value <= MAX_MONTHS:
        raise Invalid(
            f"审核周期应为 {MIN_MONTHS}–{MAX_MONTHS} 个月。",
            "review_months must be 1-36.",
            details={"field": "review_months"},
        )
    return value


def _bureau_id(db: Session) -> int | None:
    found = orgs.bureau(db)
    return found.id if found is not None else None


# --- reading -------------------------------------------------------------------------------------


def readable_orgs(db: Session, *, actor: Actor) -> list[int] | None:
    """The owners whose policies `actor` may read: the Bureau's and the actor's own organisation's;
    `None` (every organisation) for the Bureau's own staff, who supervise the departments' rules
    (第五条), and for the local operator."""
    require(actor, Action.policy_view)
    bureau = _bureau_id(db)
    if actor.kind == "operator" or (bureau is not None and actor.org_id == bureau):
        return None
    return sorted({i for i in (bureau, actor.org_id) if i is not None})


def _readable(db: Session, actor: Actor, policy: SecurityPolicy) -> bool:
    owners = readable_orgs(db, actor=actor)
    return owners is None or policy.org_id in owners


def get_policy(db: Session, *, actor: Actor, policy_id: int, lock: bool = False) -> SecurityPolicy:
    """The policy, if `actor` may read it; NotFound for a missing one or another department's."""
    stmt = select(SecurityPolicy).where(SecurityPolicy.id == policy_id)
    policy = db.scalar(stmt.with_for_update() if lock else stmt)
    if policy is None or not _readable(db, actor, policy):
        raise NotFound("找不到该安全管理制度。", f"Policy #{policy_id} not found.")
    return policy


def list_policies(
    db: Session,
    *,
    actor: Actor,
    params: PageParams,
    org_id: int | None = None,
    kind: PolicyKind | None = None,
    status: PolicyStatus | None = None,
) -> tuple[list[SecurityPolicy], int]:
    """A page of the readable policies, optionally of one owner, kind and status; the Bureau's first,
    then by kind and title."""
    stmt = visible(actor, Action.policy_view, select(SecurityPolicy), SecurityPolicy)
    owners = readable_orgs(db, actor=actor)
    if owners is not None:
        stmt = stmt.where(SecurityPolicy.org_id.in_(owners))
    if org_id is not None:
        stmt = stmt.where(SecurityPolicy.org_id == org_id)
    if kind is not None:
        stmt = stmt.where(SecurityPolicy.kind == kind.value)
    if status is not None:
        stmt = stmt.where(SecurityPolicy.status == status.value)
    bureau = _bureau_id(db)
    order = (
        SecurityPolicy.org_id != bureau,
        SecurityPolicy.org_id,
        SecurityPolicy.kind,
        SecurityPolicy.title,
    )
    return paginate(db, stmt.order_by(*order, SecurityPolicy.id), params)


def versions(db: Session, *, actor: Actor, policy_id: int) -> list[SecurityPolicyVersion]:
    """Every version of a readable policy, the newest first."""
    policy = get_policy(db, actor=actor, policy_id=policy_id)
    return list(
        db.scalars(
            select(SecurityPolicyVersion)
            .where(SecurityPolicyVersion.policy_id == policy.id)
            .order_by(SecurityPolicyVersion.version.desc())
        )
    )


def get_version(db: Session, *, actor: Actor, policy_id: int, version: int) -> SecurityPolicyVersion:
    policy = get_policy(db, actor=actor, policy_id=policy_id)
    found = db.scalar(
        select(SecurityPolicyVersion).where(
            SecurityPolicyVersion.policy_id == policy.id, SecurityPolicyVersion.version == version
        )
    )
    if found is None:
        raise NotFound("该制度没有这个版本。", f"Version {version} not found.")
    return found


def is_overdue(policy: SecurityPolicy, today: date | None = None) -> bool:
    """Whether the periodic review (定期审核) of an active policy has passed its date."""
    return policy.status == PolicyStatus.active.value and policy.next_review_on < (today or beijing_today())


# --- writing -------------------------------------------------------------------------------------


def _writable(db: Session, actor: Actor, policy_id: int, version: int) -> SecurityPolicy:
    """The policy locked for a change by `actor`: NotFound, Forbidden, Conflict when retired or when
    `version` is not the current one."""
    policy = get_policy(db, actor=actor, policy_id=policy_id, lock=True)
    require(actor, Action.policy_manage, policy)
    if policy.status != PolicyStatus.active.value:
        raise Conflict("该制度已废止，不能再修改或审核。", "The policy is retired.")
    if version != policy.version:
        raise Conflict(
            f"该制度已被他人修订为第 {policy.version} 版，请刷新页面后在最新版本上操作。",
            "The policy was revised meanwhile.",
            details={"current_version": policy.version},
        )
    return policy


def _add_version(db: Session, actor: Actor, policy: SecurityPolicy, note: str) -> None:
    db.add(
        SecurityPolicyVersion(
            policy_id=policy.id,
            version=policy.version,
            title=policy.title,
            body=policy.body,
            effective_on=policy.effective_on,
            review_months=policy.review_months,
            change_note=note,
            created_by=actor.user_id,
        )
    )


def create_policy(db: Session, *, actor: Actor, data: PolicyText) -> SecurityPolicy:
    """Adopt a policy for the actor's own organisation (the Bureau's administrator: city-wide).
    Raises Forbidden without `policy_manage`, Invalid for a kind only the Bureau formulates (安全方针、
    目标、原则和安全管理制度) or a bad field (naming it)."""
    require(actor, Action.policy_manage)
    if actor.org_id is None:
        raise Invalid("制度须属于一个单位。", "The actor has no organisation.")
    if data.kind is None:
        raise Invalid("请选择制度类别。", "kind is required.", details={"field": "kind"})
    if data.kind in BUREAU_KINDS and actor.org_id != _bureau_id(db):
        raise Invalid(
            f"「{data.kind.label}」由市数据资源管理局统一制定；本单位请登记数据资产安全管理制度等本单位制度。",
            "Only the Bureau formulates this kind.",
            details={"field": "kind"},
        )
    months = _months(data.review_months)
    plausible(data.effective_on, field="effective_on", label="生效日期")
    policy = SecurityPolicy(
        org_id=actor.org_id,
        kind=data.kind.value,
        title=_text(data.title, "title", "制度名称", MAX_TITLE),
        body=_text(data.body, "body", "制度正文", MAX_BODY, keep_lines=True),
        effective_on=data.effective_on,
        review_months=months,
        next_review_on=add_months(data.effective_on, months),
        status=PolicyStatus.active.value,
        version=1,
        created_by=actor.user_id,
    )
    require(actor, Action.policy_manage, policy)
    db.add(policy)
    db.flush()
    _add_version(db, actor, policy, "首次发布")
    audit.record(
        db,
        EventType.policy_created,
        actor=actor,
        obj=policy,
        org_id=policy.org_id,
        details={
            "kind": policy.kind,
            "title": policy.title,
            "version": 1,
            "next_review_on": str(policy.next_review_on),
        },
    )
    db.flush()
    return policy


def revise_policy(
    db: Session, *, actor: Actor, policy_id: int, version: int, data: PolicyText, change_note: str
) -> SecurityPolicy:
    """Adopt a new version (the previous stays readable) and restart the review period from today.
    Raises Conflict when `version` is stale or the policy retired, Invalid for a bad field."""
    policy = _writable(db, actor, policy_id, version)
    note = _text(change_note, "change_note", "修订说明", MAX_NOTE)
    title = _text(data.title, "title", "制度名称", MAX_TITLE)
    body = _text(data.body, "body", "制度正文", MAX_BODY, keep_lines=True)
    months = _months(data.review_months)
    plausible(data.effective_on, field="effective_on", label="生效日期")
    today = beijing_today()
    policy.title, policy.body, policy.review_months = title, body, months
    policy.effective_on = data.effective_on
    policy.version += 1
    policy.next_review_on = add_months(max(today, data.effective_on), months)
    policy.updated_at = utcnow()
    _add_version(db, actor, policy, note)
    tasks.close_tasks(db, subject_type="security_policy", subject_id=policy.id, kind=TASK)
    audit.record(
        db,
        EventType.policy_revised,
        actor=actor,
        obj=policy,
        org_id=policy.org_id,
        details={
            "version": policy.version,
            "change_note": note,
            "next_review_on": str(policy.next_review_on),
        },
    )
    db.flush()
    return policy


def review_policy(
    db: Session, *, actor: Actor, policy_id: int, version: int, note: str = ""
) -> SecurityPolicy:
    """Record the periodic review (审核无需修改): the text stands, the next review is one period from
    today, and an open reminder closes."""
    policy = _writable(db, actor, policy_id, version)
    note = " ".join((note or "").split())
    if len(note) > MAX_NOTE:
        raise Invalid(f"审核意见最多 {MAX_NOTE} 个字。", "note is too long.", details={"field": "note"})
    today = beijing_today()
    previous = policy.next_review_on
    policy.last_reviewed_on, policy.last_reviewed_by = today, actor.user_id
    policy.next_review_on = add_months(today, policy.review_months)
    policy.updated_at = utcnow()
    tasks.close_tasks(db, subject_type="security_policy", subject_id=policy.id, kind=TASK)
    audit.record(
        db,
        EventType.policy_reviewed,
        actor=actor,
        obj=policy,
        org_id=policy.org_id,
        details={
            "version": policy.version,
            "note": note,
            "due_on": str(previous),
            "next_review_on": str(policy.next_review_on),
        },
    )
    db.flush()
    return policy


def retire_policy(db: Session, *, actor: Actor, policy_id: int, version: int, reason: str) -> SecurityPolicy:
    """Retire (废止) the policy with a reason; its versions stay readable and it is never reminded."""
    policy = _writable(db, actor, policy_id, version)
    policy.retire_reason = _text(reason, "reason", "废止理由", MAX_NOTE)
    policy.status = PolicyStatus.retired.value
    policy.retired_at = policy.updated_at = utcnow()
    policy.retired_by = actor.user_id
    tasks.close_tasks(db, subject_type="security_policy", subject_id=policy.id, kind=TASK)
    audit.record(
        db,
        EventType.policy_retired,
        actor=actor,
        obj=policy,
        org_id=policy.org_id,
        details={"version": policy.version, "reason": policy.retire_reason},
    )
    db.flush()
    return policy


# --- reminders -----------------------------------------------------------------------------------


def remind_due_reviews(db: Session, *, today: date | None = None) -> int:
    """Open a review task for each active policy whose review date has passed and that was not yet
    reminded for that date: to the Bureau's administrators for the Bureau's policies, else to the
    department's data administrators. Returns how many were reminded."""
    today = today or beijing_today()
    due = db.scalars(
        select(SecurityPolicy)
        .where(
            SecurityPolicy.status == PolicyStatus.active.value,
            SecurityPolicy.next_review_on < today,
            or_(
                SecurityPolicy.reminded_for.is_(None),
                SecurityPolicy.reminded_for != SecurityPolicy.next_review_on,
            ),
        )
        .order_by(SecurityPolicy.id)
        .with_for_update(skip_locked=True)
    ).all()
    bureau = _bureau_id(db)
    job = Actor.operator("job:policies.review_reminders")
    for policy in due:
        role = Role.bureau_admin if policy.org_id == bureau else Role.data_admin
        tasks.open_task(
            db,
            kind=TASK,
            title=f"安全管理制度到期待审核：{policy.title}（应于 {policy.next_review_on:%Y-%m-%d} 前审核）",
            link=f"/policies/{policy.id}",
            org_id=policy.org_id,
            subject_type="security_policy",
            subject_id=policy.id,
            assignee_role=role,
        )
        policy.reminded_for = policy.next_review_on
        audit.record(
            db,
            EventType.policy_review_due,
            actor=job,
            obj=policy,
            org_id=policy.org_id,
            details={"due_on": str(policy.next_review_on), "assignee_role": role.value},
        )
    db.flush()
    return len(due)
