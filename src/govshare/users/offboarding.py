"""离任审计 (S7): deactivate a person at once and record what they could access and what was revoked.

Other domains that hand out access (business systems now; grants, analyses later) register a hook
with `register_hook`; each revokes or hands over what it owns and returns its part of the report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import PERMISSIONS, Action, Actor, Role, require
from govshare.db import utcnow
from govshare.errors import Conflict, Invalid, NotFound
from govshare.orgs.service import bureau
from govshare.tasks import service as tasks
from govshare.users import registrations
from govshare.users import service as users
from govshare.users.models import LoginSession, OffboardingRecord, Registration, RegistrationStatus, User

OffboardingHook = Callable[[Session, Actor, User, User], dict[str, Any]]
_hooks: dict[str, OffboardingHook] = {}


def register_hook(name: str, hook: OffboardingHook) -> None:
    """`hook(db, actor, leaver, successor)` revokes or hands over and returns a report section."""
    _hooks[name] = hook


def revoke_sessions(db: Session, *, user_id: int, reason: str) -> int:
    result = db.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoke_reason=reason)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def access_summary(user: User) -> dict[str, Any]:
    """Roles the person held and every action they allowed, with its reach."""
    permissions: dict[str, str] = {}
    for name in user.role_names:
        for action, scope in PERMISSIONS.get(Role(name), {}).items():
            current = permissions.get(action.value)
            if current is None or scope.name == "city":
                permissions[action.value] = scope.name
    return {
        "roles": [{"role": r, "label": Role(r).label} for r in user.role_names],
        "permissions": [
            {"action": a, "label": Action(a).label, "scope": s} for a, s in sorted(permissions.items())
        ],
    }


def offboard(db: Session, *, actor: Actor, user_id: int, successor_id: int, reason: str) -> OffboardingRecord:
    """Deactivate `user_id`, hand their work to `successor_id` and write the offboarding record.

    Raises Invalid (successor is the same person, inactive or from another organisation),
    Conflict (already deactivated), NotFound/Forbidden (not the actor's to offboard).
    """
    user = users.get_user(db, actor=actor, user_id=user_id)
    require(actor, Action.user_offboard, user)
    if not user.is_active:
        raise Conflict("该人员已停用。", "The person is already deactivated.")
    successor = db.get(User, successor_id)
    if successor is None:
        raise NotFound("找不到接替人员。", "Successor not found.", details={"field": "successor_id"})
    if successor.id == user.id or not successor.is_active or successor.org_id != user.org_id:
        raise Invalid(
            "接替人员须为本单位在岗的其他人员。",
            "The successor must be another active person of the same organisation.",
            details={"field": "successor_id"},
        )
    if actor.user_id == user.id:
        raise Invalid(
            "不能为自己办理离任，请由本单位其他管理员或管理局办理。", "You cannot offboard yourself."
        )

    held_roles = list(user.role_names)
    report: dict[str, Any] = {"access": access_summary(user)}
    report["sessions_revoked"] = revoke_sessions(db, user_id=user.id, reason="offboarded")

    handed = tasks.personal_open_tasks(db, user_id=user.id)
    for task in handed:
        task.assignee_id = successor.id
    report["tasks_handed_over"] = [{"id": t.id, "title": t.title} for t in handed]
    if handed:
        audit.record(
            db,
            EventType.task_reassigned,
            actor=actor,
            obj=user,
            org_id=user.org_id,
            details={"to": successor.username, "tasks": [t.id for t in handed]},
        )

    ended = []
    for reg in db.scalars(
        select(Registration).where(
            Registration.user_id == user.id,
            Registration.status.in_([RegistrationStatus.approved.value, RegistrationStatus.pending.value]),
        )
    ):
        if reg.status == RegistrationStatus.approved.value:
            registrations.end(db, actor=actor, registration=reg, reason="离任")
            _ask_for_new_registration(db, reg)
        else:
            reg.status = RegistrationStatus.ended.value
            reg.ended_at = utcnow()
            reg.end_reason = "离任（未审批）"
            tasks.close_tasks(db, subject_type="registration", subject_id=reg.id)
        ended.append({"id": reg.id, "role": reg.role})
    report["registrations_ended"] = ended

    for name, hook in _hooks.items():
        report[name] = hook(db, actor, user, successor)

    for role in list(user.role_names):  # registered roles already went with their registrations
        users.revoke_role(db, actor=actor, user=user, role=Role(role), reason="离任")
    revoked_roles = held_roles
    report["roles_revoked"] = revoked_roles

    user.is_active = False
    user.deactivated_at = utcnow()
    record = OffboardingRecord(
        user_id=user.id,
        org_id=user.org_id,
        successor_id=successor.id,
        performed_by=actor.name,
        reason=reason,
        report=json.dumps(report, ensure_ascii=False, sort_keys=True),
    )
    db.add(record)
    db.flush()
    audit.record(
        db,
        EventType.user_offboarded,
        actor=actor,
        obj=user,
        org_id=user.org_id,
        details={
            "successor": successor.username,
            "reason": reason,
            "record_id": record.id,
            "sessions_revoked": report["sessions_revoked"],
            "roles_revoked": revoked_roles,
        },
    )
    return record


def _ask_for_new_registration(db: Session, reg: Registration) -> None:
    the_bureau = bureau(db)
    if the_bureau is None:
        return
    tasks.open_task(
        db,
        kind="registration.vacant",
        title=f"{Role(reg.role).label}因离任空缺，请督促单位重新备案",
        link=f"/orgs/{reg.org_id}",
        org_id=the_bureau.id,
        subject_type="organisation",
        subject_id=reg.org_id,
        assignee_role=Role.bureau_admin,
    )


def get_record(db: Session, *, actor: Actor, record_id: int) -> OffboardingRecord:
    record = db.get(OffboardingRecord, record_id)
    if record is None:
        raise NotFound("找不到该离任记录。", "Offboarding record not found.")
    require(actor, Action.user_view, record.user)
    return record


def records_for(db: Session, *, actor: Actor, user_id: int) -> list[OffboardingRecord]:
    user = users.get_user(db, actor=actor, user_id=user_id)
    return list(
        db.scalars(
            select(OffboardingRecord)
            .where(OffboardingRecord.user_id == user.id)
            .order_by(OffboardingRecord.id.desc())
        )
    )
