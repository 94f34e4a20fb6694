"""People and roles: create, edit, assign roles, passwords, unlock."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import (
    BUREAU_ROLES,
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
from govshare.errors import Conflict, Invalid, NotFound
from govshare.orgs.models import Organisation, OrgKind
from govshare.pagination import PageParams, paginate
from govshare.users.models import User, UserRole
from govshare.users.passwords import check_policy, hash_password, verify_password
from govshare.users.schemas import UserCreate, UserUpdate

register_view_action(User, Action.user_view)


def get_user(db: Session, *, actor: Actor, user_id: int) -> User:
    return get_visible(db, User, user_id, actor=actor, label="人员")


def list_users(
    db: Session,
    *,
    actor: Actor,
    params: PageParams,
    org_id: int | None = None,
    q: str | None = None,
    role: Role | None = None,
    active: bool | None = None,
) -> tuple[list[User], int]:
    stmt = visible(actor, Action.user_view, select(User), User)
    if org_id is not None:
        stmt = stmt.where(User.org_id == org_id)
    if q:
        stmt = stmt.where(or_(User.username.contains(q), User.display_name.contains(q)))
    if role is not None:
        stmt = stmt.where(User.roles.any(UserRole.role == role.value))
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    return paginate(db, stmt.order_by(User.org_id, User.id), params)


class PersonChoice(NamedTuple):
    """A person as a select list offers them."""

    id: int
    display_name: str
    username: str


def choices(db: Session, *, actor: Actor, org_id: int) -> list[PersonChoice]:
    """The active people of organisation `org_id` that `actor` may view, by id.

    For select lists (a system's contact, a successor, a registration): one query and no page cap.
    """
    stmt = visible(actor, Action.user_view, select(User.id, User.display_name, User.username), User)
    stmt = stmt.where(User.org_id == org_id, User.is_active.is_(True))
    return [PersonChoice(*row) for row in db.execute(stmt.order_by(User.id))]


def _check_role_fits(db: Session, *, role: Role, org: Organisation) -> None:
    if role in BUREAU_ROLES and org.kind != OrgKind.bureau:
        raise Invalid(
            f"「{role.label}」只能授予市数据资源管理局人员。",
            f"Role {role.value} is for Bureau staff only.",
            details={"field": "roles"},
        )


def create_user(
    db: Session,
    *,
    actor: Actor,
    data: UserCreate,
    is_demo: bool = False,
    enforce_policy: bool = True,
    password_hash: str | None = None,
) -> User:
    """Create a person in `data.org_id` with the given roles.

    Raises Invalid (password policy, a Bureau role outside the Bureau, a registered role, which
    only an approved registration gives), Conflict (username taken), NotFound (organisation).
    `password_hash` (demo loader only) stores a ready hash instead of hashing `data.password`.
    """
    org = db.get(Organisation, data.org_id)
    if org is None:
        raise NotFound("找不到所属单位。", "Organisation not found.", details={"field": "org_id"})
    require(actor, Action.user_manage, org)
    for role in data.roles:  # refuse before anything is written
        if role in REGISTERED_ROLES and actor.kind != "operator":
            raise Invalid(
                f"「{role.label}」须经人员备案审批后授予。",
                f"Role {role.value} is given by an approved registration.",
                details={"field": "roles"},
            )
        _check_role_fits(db, role=role, org=org)
    if enforce_policy:
        check_policy(data.password, username=data.username)
    if db.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise Conflict(
            f"用户名“{data.username}”已被使用，请换一个。",
            "Username already taken.",
            details={"field": "username"},
        )
    user = User(
        username=data.username,
        display_name=data.display_name,
        org_id=org.id,
        phone=data.phone,
        password_hash=password_hash or hash_password(data.password),
        is_demo=is_demo,
        must_change_password=enforce_policy and actor.user_id is not None,
    )
    db.add(user)
    db.flush()
    audit.record(
        db,
        EventType.user_created,
        actor=actor,
        obj=user,
        org_id=org.id,
        details={"username": user.username, "display_name": user.display_name},
    )
    for role in data.roles:
        grant_role(db, actor=actor, user=user, role=role)
    return user


def update_user(db: Session, *, actor: Actor, user_id: int, data: UserUpdate) -> User:
    user = get_user(db, actor=actor, user_id=user_id)
    require(actor, Action.user_manage, user)
    if data.version != user.version:
        raise Conflict(
            "该人员信息已被他人修改，请刷新后重新编辑。",
            "The person was changed by someone else.",
            details={"current_version": user.version},
        )
    changes = {
        key: value
        for key, value in data.model_dump(exclude_unset=True, exclude={"version"}).items()
        if value != getattr(user, key)
    }
    if not changes:
        return user
    before = {k: getattr(user, k) for k in changes}
    for key, value in changes.items():
        setattr(user, key, value)
    db.flush()
    audit.record(
        db,
        EventType.user_updated,
        actor=actor,
        obj=user,
        org_id=user.org_id,
        details={"before": before, "after": changes},
    )
    return user


def grant_role(db: Session, *, actor: Actor, user: User, role: Role, via_registration: bool = False) -> None:
    """Give `role` to `user`; registered roles only through an approved registration."""
    require(actor, Action.role_assign, user)
    if role in REGISTERED_ROLES and not via_registration and actor.kind != "operator":
        raise Invalid(
            f"「{role.label}」须经人员备案并由市数据资源管理局审批后授予。",
            f"Role {role.value} is given only by an approved registration.",
            details={"field": "role"},
        )
    if role in BUREAU_ROLES and Role.bureau_admin not in actor.roles and actor.kind != "operator":
        raise Invalid(
            "只有市数据资源管理局管理员可以授予管理局角色。", "Only a Bureau admin grants Bureau roles."
        )
    org = db.get(Organisation, user.org_id)
    assert org is not None
    _check_role_fits(db, role=role, org=org)
    if not user.is_active:
        raise Invalid("该人员已停用，不能授予角色。", "The person is deactivated.")
    if role.value in user.role_names:
        return
    user.roles.append(UserRole(role=role.value, granted_by=actor.name))
    db.flush()
    audit.record(
        db,
        EventType.role_granted,
        actor=actor,
        obj=user,
        org_id=user.org_id,
        details={"role": role.value, "via_registration": via_registration},
    )


def revoke_role(db: Session, *, actor: Actor, user: User, role: Role, reason: str = "") -> bool:
    """Take `role` from `user`; returns whether the person held it."""
    require(actor, Action.role_assign, user)
    held = next((r for r in user.roles if r.role == role.value), None)
    if held is None:
        return False
    user.roles.remove(held)
    db.flush()
    audit.record(
        db,
        EventType.role_revoked,
        actor=actor,
        obj=user,
        org_id=user.org_id,
        details={"role": role.value, "reason": reason},
    )
    return True


def set_roles(db: Session, *, actor: Actor, user_id: int, roles: list[Role]) -> User:
    """Make the person's non-registered roles exactly `roles` (registered roles stay as they are)."""
    user = get_user(db, actor=actor, user_id=user_id)
    require(actor, Action.role_assign, user)
    wanted = {r for r in roles if r not in REGISTERED_ROLES}
    if any(r in REGISTERED_ROLES and r.value not in user.role_names for r in roles):
        raise Invalid(
            "数据资源管理员和安全管理员须经人员备案审批后授予。",
            "Registered roles are given only by an approved registration.",
            details={"field": "roles"},
        )
    for role in [Role(r) for r in user.role_names]:
        if role not in REGISTERED_ROLES and role not in wanted:
            revoke_role(db, actor=actor, user=user, role=role, reason="角色调整")
    for role in sorted(wanted):
        grant_role(db, actor=actor, user=user, role=role)
    return user


def change_own_password(db: Session, *, actor: Actor, current: str, new: str) -> None:
    """A person changes their own password; other sessions stay (the caller may end them)."""
    if actor.user_id is None:
        raise Invalid("只有人员账号可以修改密码。", "Only people have passwords.")
    user = db.get(User, actor.user_id)
    assert user is not None
    if not verify_password(user.password_hash, current):
        raise Invalid(
            "当前密码不正确。", "The current password is wrong.", details={"field": "current_password"}
        )
    check_policy(new, username=user.username)
    if verify_password(user.password_hash, new):
        raise Invalid(
            "新密码不能与当前密码相同。",
            "The new password equals the current one.",
            details={"field": "new_password"},
        )
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    audit.record(db, EventType.password_changed, actor=actor, obj=user, org_id=user.org_id)


def reset_password(db: Session, *, actor: Actor, user_id: int, new: str) -> User:
    """An administrator sets a temporary password; the person must change it at next login."""
    user = get_user(db, actor=actor, user_id=user_id)
    require(actor, Action.user_manage, user)
    check_policy(new, username=user.username)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = actor.kind != "operator"
    user.failed_logins = 0
    user.locked_until = None
    audit.record(db, EventType.password_reset, actor=actor, obj=user, org_id=user.org_id)
    return user


def unlock_user(db: Session, *, actor: Actor, user_id: int) -> User:
    user = get_user(db, actor=actor, user_id=user_id)
    require(actor, Action.user_manage, user)
    user.failed_logins = 0
    user.locked_until = None
    audit.record(db, EventType.user_unlocked, actor=actor, obj=user, org_id=user.org_id)
    return user


def find_by_username(db: Session, username: str) -> User | None:
    return db.scalar(select(User).where(User.username == username))
