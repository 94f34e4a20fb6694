"""备案 of a department's data administrator and security officer with the Bureau (M21, S7)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import (
    REGISTERED_ROLES,
    Action,
    Actor,
    Role,
    get_visible,
    register_view_action,
    require,
    visible,
)
from govshare.db import utcnow
from govshare.errors import Conflict, Invalid
from govshare.orgs.models import Organisation
from govshare.orgs.service import bureau
from govshare.pagination import PageParams, paginate
from govshare.tasks import service as tasks
from govshare.users import service as users
from govshare.users.models import Registration, RegistrationStatus, User

register_view_action(Registration, Action.registration_view)

TASK_KIND = "registration.decide"


def get_registration(db: Session, *, actor: Actor, registration_id: int) -> Registration:
    return get_visible(db, Registration, registration_id, actor=actor, label="备案")


def list_registrations(
    db: Session, *, actor: Actor, params: PageParams, status: RegistrationStatus | None = None
) -> tuple[list[Registration], int]:
    stmt = visible(actor, Action.registration_view, select(Registration), Registration)
    if status is not None:
        stmt = stmt.where(Registration.status == status.value)
    return paginate(db, stmt.order_by(Registration.id.desc()), params)


def current_holder(db: Session, *, org_id: int, role: Role) -> Registration | None:
    return db.scalar(
        select(Registration).where(
            Registration.org_id == org_id,
            Registration.role == role.value,
            Registration.status == RegistrationStatus.approved.value,
        )
    )


def submit(db: Session, *, actor: Actor, user_id: int, role: Role, note: str | None = None) -> Registration:
    """File a registration of `user_id` for `role` in that person's department; opens a Bureau task.

    Raises Invalid (not a registered role, inactive person), Conflict (one already pending).
    """
    if role not in REGISTERED_ROLES:
        raise Invalid(
            "只有数据资源管理员和安全管理员需要备案。",
            "Only data_admin and security_officer are registered.",
            details={"field": "role"},
        )
    user = users.get_user(db, actor=actor, user_id=user_id)
    org = db.get(Organisation, user.org_id)
    assert org is not None
    require(actor, Action.registration_submit, org)
    if not user.is_active:
        raise Invalid("该人员已停用，不能备案。", "The person is deactivated.")
    pending = db.scalar(
        select(Registration.id).where(
            Registration.org_id == org.id,
            Registration.role == role.value,
            Registration.status == RegistrationStatus.pending.value,
        )
    )
    if pending is not None:
        raise Conflict(
            "本单位该岗位已有待审批的备案，请等待审批结果。",
            "A registration for this post is pending.",
            details={"registration_id": pending},
        )
    holder = current_holder(db, org_id=org.id, role=role)
    if holder is not None and holder.user_id == user.id:
        raise Conflict(
            "该人员已是本单位已备案的" + role.label + "。", "The person already holds this registration."
        )
    reg = Registration(
        org_id=org.id,
        user_id=user.id,
        role=role.value,
        note=note,
        submitted_by=actor.user_id,
        supersedes_id=holder.id if holder else None,
    )
    db.add(reg)
    db.flush()
    audit.record(
        db,
        EventType.registration_submitted,
        actor=actor,
        obj=reg,
        org_id=org.id,
        details={"user": user.username, "role": role.value, "supersedes": reg.supersedes_id},
    )
    the_bureau = bureau(db)
    if the_bureau is not None:
        tasks.open_task(
            db,
            kind=TASK_KIND,
            title=f"审批{org.short_name}{role.label}备案：{user.display_name}",
            link=f"/registrations/{reg.id}",
            org_id=the_bureau.id,
            subject_type="registration",
            subject_id=reg.id,
            assignee_role=Role.bureau_admin,
        )
    return reg


def decide(
    db: Session, *, actor: Actor, registration_id: int, approve: bool, comment: str | None = None
) -> Registration:
    """Approve or return a pending registration.

    Approval gives the role, and when it replaces an earlier holder ends that registration and takes
    the role from the earlier holder (a change of person updates the registration).
    """
    reg = get_registration(db, actor=actor, registration_id=registration_id)
    require(actor, Action.registration_decide, reg)
    if reg.status != RegistrationStatus.pending.value:
        raise Conflict("该备案已处理，无需重复审批。", "The registration is already decided.")
    if not approve and not comment:
        raise Invalid(
            "退回备案时请填写理由。", "A returned registration needs a comment.", details={"field": "comment"}
        )
    reg.decided_by = actor.user_id
    reg.decided_at = utcnow()
    reg.decision_comment = comment
    role = Role(reg.role)
    if approve:
        user = db.get(User, reg.user_id)
        assert user is not None
        if not user.is_active:
            raise Invalid("该人员已停用，不能通过备案。", "The person is deactivated.")
        previous = current_holder(db, org_id=reg.org_id, role=role)
        if previous is not None and previous.id != reg.id:
            end(db, actor=actor, registration=previous, reason=f"由备案 #{reg.id} 接替")
        reg.status = RegistrationStatus.approved.value
        users.grant_role(db, actor=actor, user=user, role=role, via_registration=True)
        audit.record(
            db,
            EventType.registration_approved,
            actor=actor,
            obj=reg,
            org_id=reg.org_id,
            details={"user": user.username, "role": role.value, "comment": comment},
        )
    else:
        reg.status = RegistrationStatus.rejected.value
        audit.record(
            db,
            EventType.registration_rejected,
            actor=actor,
            obj=reg,
            org_id=reg.org_id,
            details={"role": role.value, "comment": comment},
        )
    tasks.close_tasks(db, subject_type="registration", subject_id=reg.id)
    db.flush()
    return reg


def end(db: Session, *, actor: Actor, registration: Registration, reason: str) -> None:
    """End an approved registration and take its role from the holder."""
    registration.status = RegistrationStatus.ended.value
    registration.ended_at = utcnow()
    registration.end_reason = reason
    user = db.get(User, registration.user_id)
    assert user is not None
    users.revoke_role(db, actor=actor, user=user, role=Role(registration.role), reason=reason)
    audit.record(
        db,
        EventType.registration_ended,
        actor=actor,
        obj=registration,
        org_id=registration.org_id,
        details={"user": user.username, "role": registration.role, "reason": reason},
    )
