"""Register business systems, issue and rotate their tokens, and authenticate their calls."""

from __future__ import annotations

import ipaddress
import secrets
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from govshare import generation
from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, get_visible, register_view_action, require, visible
from govshare.crypto import sm3_hex
from govshare.db import Writes, later, read_memo, utcnow
from govshare.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams, paginate
from govshare.settings import get_settings
from govshare.systems.models import BusinessSystem, SystemToken
from govshare.systems.schemas import SystemCreate, SystemUpdate
from govshare.users import offboarding
from govshare.users.models import User

register_view_action(BusinessSystem, Action.system_view)

TOKEN_PREFIX = "gss_"


def get_system(db: Session, *, actor: Actor, system_id: int) -> BusinessSystem:
    return get_visible(db, BusinessSystem, system_id, actor=actor, label="业务系统")


def list_systems(
    db: Session, *, actor: Actor, params: PageParams, org_id: int | None = None
) -> tuple[list[BusinessSystem], int]:
    # The list page counts each system's active tokens: load them all in one more query, not one each.
    stmt = visible(actor, Action.system_view, select(BusinessSystem), BusinessSystem).options(
        selectinload(BusinessSystem.tokens),
        selectinload(BusinessSystem.org),
        selectinload(BusinessSystem.contact),
    )
    if org_id is not None:
        stmt = stmt.where(BusinessSystem.org_id == org_id)
    return paginate(db, stmt.order_by(BusinessSystem.org_id, BusinessSystem.id), params)


def _check_contact(db: Session, *, contact_user_id: int | None, org_id: int) -> None:
    if contact_user_id is None:
        return
    contact = db.get(User, contact_user_id)
    if contact is None or contact.org_id != org_id or not contact.is_active:
        raise Invalid(
            "系统负责人须为本单位在岗人员。",
            "The contact must be an active person of the same organisation.",
            details={"field": "contact_user_id"},
        )


def create_system(
    db: Session, *, actor: Actor, data: SystemCreate
) -> tuple[BusinessSystem, str, SystemToken]:
    """Register a system and issue its first token; returns (system, plaintext token, token row)."""
    org = db.get(Organisation, data.org_id)
    if org is None:
        raise NotFound("找不到所属单位。", "Organisation not found.", details={"field": "org_id"})
    require(actor, Action.system_manage, org)
    if not org.is_active:
        raise Invalid("该单位已停用，不能登记业务系统。", "The organisation is deactivated.")
    if db.scalar(select(BusinessSystem.id).where(BusinessSystem.code == data.code)) is not None:
        raise Conflict(
            f"系统编码“{data.code}”已被使用。", "System code already in use.", details={"field": "code"}
        )
    _check_contact(db, contact_user_id=data.contact_user_id, org_id=org.id)
    system = BusinessSystem(
        org_id=org.id,
        code=data.code,
        name=data.name,
        description=data.description,
        contact_user_id=data.contact_user_id,
    )
    system.allowed_cidrs = data.allowed_cidrs
    db.add(system)
    db.flush()
    audit.record(
        db,
        EventType.system_created,
        actor=actor,
        obj=system,
        org_id=org.id,
        details={"code": system.code, "name": system.name, "allowed_cidrs": system.allowed_cidrs},
    )
    token, row = issue_token(db, actor=actor, system=system, days=data.token_days)
    return system, token, row


def update_system(db: Session, *, actor: Actor, system_id: int, data: SystemUpdate) -> BusinessSystem:
    system = get_system(db, actor=actor, system_id=system_id)
    require(actor, Action.system_manage, system)
    if data.version != system.version:
        raise Conflict(
            "该业务系统已被他人修改，请刷新后重新编辑。",
            "The system was changed by someone else.",
            details={"current_version": system.version},
        )
    changes: dict[str, Any] = {
        key: value
        for key, value in data.model_dump(exclude_unset=True, exclude={"version"}).items()
        if value != getattr(system, key) and (value is not None or key in ("description", "contact_user_id"))
    }
    if not changes:
        return system
    if "contact_user_id" in changes:
        _check_contact(db, contact_user_id=changes["contact_user_id"], org_id=system.org_id)
    before = {k: getattr(system, k) for k in changes}
    for key, value in changes.items():
        setattr(system, key, value)
    db.flush()
    if "contact_user_id" in changes:
        db.expire(system, ["contact"])  # a relationship does not follow its changed foreign key
    event = EventType.system_disabled if changes.get("is_active") is False else EventType.system_updated
    audit.record(
        db, event, actor=actor, obj=system, org_id=system.org_id, details={"before": before, "after": changes}
    )
    return system


def issue_token(
    db: Session,
    *,
    actor: Actor,
    system: BusinessSystem,
    days: int | None = None,
    revoke_existing: bool = False,
) -> tuple[str, SystemToken]:
    """Issue a new token (shown once). With `revoke_existing`, the system's other tokens stop now."""
    require(actor, Action.system_manage, system)
    if not system.is_active:
        raise Invalid("该业务系统已停用，请先启用再签发令牌。", "The system is disabled.")
    if revoke_existing:
        for old in system.tokens:
            if old.revoked_at is None:
                _revoke(db, actor=actor, token=old, reason="rotated")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = SystemToken(
        system_id=system.id,
        token_hash=sm3_hex(token.encode()),
        prefix=token[:10],
        created_by=actor.name,
        expires_at=utcnow() + timedelta(days=days or get_settings().system_token_days),
    )
    db.add(row)
    db.flush()
    db.refresh(system, ["tokens"])
    audit.record(
        db,
        EventType.system_token_issued,
        actor=actor,
        obj=system,
        org_id=system.org_id,
        details={"token_id": row.id, "prefix": row.prefix, "expires_at": row.expires_at.isoformat()},
    )
    return token, row


def revoke_token(db: Session, *, actor: Actor, system_id: int, token_id: int) -> SystemToken:
    system = get_system(db, actor=actor, system_id=system_id)
    require(actor, Action.system_manage, system)
    token = db.get(SystemToken, token_id)
    if token is None or token.system_id != system.id:
        raise NotFound("找不到该令牌。", "Token not found.")
    if token.revoked_at is not None:
        raise Conflict("该令牌已吊销。", "The token is already revoked.")
    _revoke(db, actor=actor, token=token, reason="revoked")
    return token


def _revoke(db: Session, *, actor: Actor, token: SystemToken, reason: str) -> None:
    token.revoked_at = utcnow()
    token.revoke_reason = reason
    audit.record(
        db,
        EventType.system_token_revoked,
        actor=actor,
        obj=token.system,
        org_id=token.system.org_id,
        details={"token_id": token.id, "prefix": token.prefix, "reason": reason},
    )


def address_allowed(ip: str | None, cidrs: list[str]) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(c) for c in cidrs)


_TOKENS = SystemToken.__table__
_NOTE_USE = (
    update(_TOKENS)  # type: ignore[arg-type]
    .where(_TOKENS.c.id == bindparam("token_id"))
    .values(last_used_at=bindparam("at"), last_used_ip=bindparam("ip"))
)

# Tokens as last read, by their SM3: valid while the tables they come from stay as they were.
_CREDENTIALS: generation.Cache[tuple[SystemToken, BusinessSystem]] = generation.Cache()

# A token's last use (时间 and 地址, shown to its department) is written at most once a minute per
# token and address by each process, not on every call: a system calling many times a second would
# otherwise rewrite the same row each time. Every call is still audited as a use of the token.
NOTE_USE_EVERY_S = 60.0
# Past this many (token, address) pairs, those noted over NOTE_USE_EVERY_S ago are forgotten: they
# no longer hold a note back, and a process serving for months would otherwise keep every pair.
USE_NOTES_KEPT = 4096
_use_noted: dict[tuple[int, str | None], float] = {}
generation.on_clear(_use_noted.clear)


def _credential(db: Session, digest: str) -> tuple[SystemToken, BusinessSystem] | None:
    now_generation = generation.current(db)
    kept = _CREDENTIALS.get(now_generation, digest)
    if kept is not None:
        return kept
    row = db.scalar(
        select(SystemToken)
        .options(joinedload(SystemToken.system))  # one query: every call of a system comes here
        .where(SystemToken.token_hash == digest)
    )
    if row is None:
        return None
    kept = (generation.detached(row), generation.detached(row.system))
    _CREDENTIALS.put(now_generation, digest, kept)
    return kept


def authenticate(db: Session, *, token: str, ip: str | None) -> Actor:
    """Resolve a system bearer token into an actor, enforcing expiry, state and source address.

    Raises Unauthorized for unknown, expired or revoked tokens and Forbidden for a call from an
    address outside the allowed CIDRs; refusals of known tokens are audited (kept on rollback).
    """
    found = _credential(db, sm3_hex(token.encode()))
    if found is None:
        raise Unauthorized("令牌无效，请检查业务系统配置的访问令牌。", "Invalid token.")
    row, system = found
    actor = Actor(
        kind="system", name=f"system:{system.code}", system_id=system.id, org_id=system.org_id, ip=ip
    )
    now = utcnow()
    state = row.state(now)
    if state != "active" or not system.is_active:
        reason = state if state != "active" else "system_disabled"
        later(
            db,
            lambda w: audit.record(
                w,
                EventType.token_rejected,
                actor=actor,
                obj=system,
                outcome="denied",
                details={"token_id": row.id, "reason": reason},
            ),
        )
        raise Unauthorized(
            "令牌已过期、已吊销或系统已停用，请联系本单位数据资源管理员重新签发。",
            f"Token {reason}.",
            keep_changes=True,
        )
    if not address_allowed(ip, system.allowed_cidrs):
        later(
            db,
            lambda w: audit.record(
                w,
                EventType.system_address_refused,
                actor=actor,
                obj=system,
                outcome="denied",
                details={"token_id": row.id, "ip": ip, "allowed": system.allowed_cidrs},
            ),
        )
        raise Forbidden(
            f"来源地址 {ip} 不在该业务系统允许的接入地址范围内，调用已被拒绝并记录。",
            f"Calls from {ip} are not allowed for this system.",
            keep_changes=True,
        )
    token_id = row.id
    clock = time.monotonic()
    note = clock - _use_noted.get((token_id, ip), -NOTE_USE_EVERY_S) >= NOTE_USE_EVERY_S
    use = _TokenUse(token_id)
    memo = read_memo(db)
    if memo is not None:  # the call's own event may yet carry the use: `carry_token_use`
        memo[_TOKEN_USE] = use

    def used(w: Writes) -> None:
        if note:
            # A Core statement on the table: the ORM's bulk update would also search the session.
            w.execute(_NOTE_USE, {"token_id": token_id, "at": now, "ip": ip})
            _use_noted[(token_id, ip)] = clock
            if len(_use_noted) > USE_NOTES_KEPT:
                _forget_old_notes(clock)
        if not use.carried:
            audit.record(
                w, EventType.system_token_used, actor=actor, obj=system, details={"token_id": token_id}
            )

    later(db, used, fusable=not note)  # noting the token's last use is an UPDATE
    return actor


class _TokenUse:
    __slots__ = ("carried", "token_id")

    def __init__(self, token_id: int) -> None:
        self.token_id = token_id
        self.carried = False


_TOKEN_USE = "token_use"


def carry_token_use(db: Session, details: dict[str, Any]) -> dict[str, Any]:
    """`details` for the call's own audit event (a data delivery or refusal), with the id of the
    token the call authenticated with (`token_id`): the event then records the token's use, which
    is not audited again as `system.token_used`, so that a data call adds one event to the chain,
    not two. Unchanged when the caller came without a token, and outside the read phase of a
    reads-first unit (where the use was written as it happened)."""
    memo = read_memo(db)
    use = memo.get(_TOKEN_USE) if memo is not None else None
    if use is not None:
        use.carried = True
        details["token_id"] = use.token_id
    return details


def _forget_old_notes(clock: float) -> None:
    # In place: `generation.on_clear` holds this dict's `clear`. A list of the items first, as
    # other threads may add pairs meanwhile.
    for key, noted in list(_use_noted.items()):
        if clock - noted >= NOTE_USE_EVERY_S:
            _use_noted.pop(key, None)


def _offboarding_hook(db: Session, actor: Actor, leaver: User, successor: User) -> dict[str, Any]:
    """Systems the leaver was responsible for pass to the successor."""
    systems = list(db.scalars(select(BusinessSystem).where(BusinessSystem.contact_user_id == leaver.id)))
    if systems:
        db.execute(
            update(BusinessSystem)
            .where(BusinessSystem.contact_user_id == leaver.id)
            .values(contact_user_id=successor.id, version=BusinessSystem.version + 1)
        )
        for system in systems:
            db.expire(system, ["contact"])  # see update_system
            audit.record(
                db,
                EventType.system_updated,
                actor=actor,
                obj=system,
                org_id=system.org_id,
                details={"contact_user_id": {"before": leaver.id, "after": successor.id}},
            )
    return {"systems_handed_over": [{"id": s.id, "code": s.code, "name": s.name} for s in systems]}


offboarding.register_hook("business_systems", _offboarding_hook)
