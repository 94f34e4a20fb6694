"""Login, logout, and turning a credential into an `Actor`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Actor, Role
from govshare.crypto import constant_time_equal, hmac_sm3, sm3_hex
from govshare.db import later, utcnow
from govshare.errors import Locked, Unauthorized
from govshare.orgs.models import Organisation
from govshare.settings import get_settings
from govshare.systems import service as systems
from govshare.users.models import LoginSession, User
from govshare.users.passwords import hash_password, needs_rehash, verify_password
from govshare.users.service import find_by_username

USER_TOKEN_PREFIX = "gsu_"
SEEN_INTERVAL = timedelta(minutes=1)


@dataclass
class LoginResult:
    token: str
    session: LoginSession
    user: User
    actor: Actor


def actor_for(db: Session, user: User, *, session_id: int | None = None, ip: str | None = None) -> Actor:
    org = db.get(Organisation, user.org_id)
    active_org = org is not None and org.is_active
    return Actor(
        kind="user",
        name=user.username,
        user_id=user.id,
        org_id=user.org_id,
        roles=frozenset(Role(r) for r in user.role_names) if active_org else frozenset(),
        session_id=session_id,
        ip=ip,
        password_temporary=user.must_change_password,
    )


def login(db: Session, *, username: str, password: str, ip: str | None, kind: str = "api") -> LoginResult:
    """Check the password and open a session.

    Raises Unauthorized (unknown user, wrong password, deactivated) or Locked; both keep the
    failure count and the audit event. The `kind` is "api" (bearer token) or "ui" (cookie).
    """
    settings = get_settings()
    now = utcnow()
    user = find_by_username(db, username)
    anonymous = Actor(kind="anonymous", name=username[:64] or "-", ip=ip)
    if user is None:
        verify_password(None, password)  # same cost as a real check
        audit.record(
            db,
            EventType.login_failed,
            actor=anonymous,
            outcome="failure",
            details={"username": username[:64], "reason": "unknown_user"},
        )
        raise Unauthorized("用户名或密码错误。", "Wrong username or password.", keep_changes=True)
    who = Actor(kind="user", name=user.username, user_id=user.id, org_id=user.org_id, ip=ip)
    if user.locked_until is not None and user.locked_until > now:
        audit.record(
            db, EventType.login_failed, actor=who, obj=user, outcome="failure", details={"reason": "locked"}
        )
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise Locked(
            f"账号因多次登录失败已被锁定，请在约 {minutes} 分钟后重试，或联系管理员解锁。",
            "The account is locked after repeated failed logins.",
            keep_changes=True,
        )
    if not verify_password(user.password_hash, password) or not user.is_active:
        reason = "wrong_password" if user.is_active else "inactive"
        if user.is_active:
            user.failed_logins += 1
        audit.record(
            db,
            EventType.login_failed,
            actor=who,
            obj=user,
            outcome="failure",
            details={"reason": reason, "failures": user.failed_logins},
        )
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
            audit.record(
                db,
                EventType.account_locked,
                actor=who,
                obj=user,
                outcome="failure",
                details={"until": user.locked_until.isoformat()},
            )
        raise Unauthorized(
            f"用户名或密码错误。连续失败 {settings.login_max_failures} 次将锁定 "
            f"{settings.login_lockout_minutes} 分钟。",
            "Wrong username or password.",
            keep_changes=True,
        )
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    token = USER_TOKEN_PREFIX + secrets.token_urlsafe(32)
    session = LoginSession(
        user_id=user.id,
        token_hash=sm3_hex(token.encode()),
        kind=kind,
        source_ip=ip,
        expires_at=now + timedelta(hours=settings.session_hours),
        last_seen_at=now,
    )
    db.add(session)
    db.flush()
    actor = actor_for(db, user, session_id=session.id, ip=ip)
    audit.record(db, EventType.login, actor=actor, obj=user, details={"kind": kind, "session_id": session.id})
    return LoginResult(token=token, session=session, user=user, actor=actor)


def logout(db: Session, *, actor: Actor) -> None:
    if actor.session_id is None:
        return
    session = db.get(LoginSession, actor.session_id)
    if session is not None and session.revoked_at is None:
        session.revoked_at = utcnow()
        session.revoke_reason = "logout"
        audit.record(db, EventType.logout, actor=actor, object_type="login_sessions", object_id=session.id)


def resolve_token(db: Session, *, token: str, ip: str | None, kind: str | None = None) -> Actor:
    """The actor behind a bearer token or session cookie value; raises Unauthorized when not valid.

    Use of an expired or revoked session is audited (S10: use of revoked credentials).
    """
    if token.startswith(systems.TOKEN_PREFIX):
        if kind == "ui":
            raise Unauthorized()
        return systems.authenticate(db, token=token, ip=ip)
    if not token.startswith(USER_TOKEN_PREFIX) or len(token) > 128:
        raise Unauthorized("令牌无效，请重新登录。", "Invalid token.")
    session = db.scalar(select(LoginSession).where(LoginSession.token_hash == sm3_hex(token.encode())))
    if session is None or (kind is not None and session.kind != kind):
        raise Unauthorized("令牌无效，请重新登录。", "Invalid token.")
    user = db.get(User, session.user_id)
    assert user is not None
    now = utcnow()
    if session.revoked_at is not None or session.expires_at <= now or not user.is_active:
        reason = (
            "revoked" if session.revoked_at is not None else ("expired" if user.is_active else "inactive")
        )
        later(
            db,
            lambda w: audit.record(
                w,
                EventType.token_rejected,
                actor=Actor(kind="user", name=user.username, user_id=user.id, org_id=user.org_id, ip=ip),
                obj=user,
                outcome="denied",
                details={"session_id": session.id, "reason": reason},
            ),
        )
        raise Unauthorized("登录已失效，请重新登录。", f"Session {reason}.", keep_changes=True)
    if session.last_seen_at is None or now - session.last_seen_at > SEEN_INTERVAL:
        session_id = session.id
        later(
            db,
            lambda w: w.execute(
                update(LoginSession).where(LoginSession.id == session_id).values(last_seen_at=now)
            ),
        )
    return actor_for(db, user, session_id=session.id, ip=ip)


def csrf_token(session_token: str) -> str:
    """The CSRF token bound to one cookie session."""
    return hmac_sm3(get_settings().secret("secret_key").encode(), b"csrf:" + session_token.encode())[:40]


def csrf_valid(session_token: str, presented: str | None) -> bool:
    return bool(presented) and constant_time_equal(csrf_token(session_token), presented or "")
