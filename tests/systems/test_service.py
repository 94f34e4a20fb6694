"""Business systems: hashed, expiring, rotatable tokens bound to source addresses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.db import utcnow
from govshare.errors import Forbidden, NotFound, Unauthorized
from govshare.systems import service
from govshare.systems.models import BusinessSystem, SystemToken
from govshare.systems.schemas import SystemCreate, SystemUpdate
from govshare.users import offboarding
from tests.helpers import actor, org, user_id


def _new(db, username: str = "police_admin", cidrs=("10.1.0.0/16",)):  # type: ignore[no-untyped-def]
    police = org(db, "police")
    return service.create_system(
        db,
        actor=actor(db, username),
        data=SystemCreate(org_id=police.id, code="police-test", name="测试系统", allowed_cidrs=list(cidrs)),
    )


def _last_event(db) -> AuditEvent:  # type: ignore[no-untyped-def]
    return db.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()


def test_token_is_shown_once_and_stored_hashed(db, city) -> None:
    _system, token, row = _new(db)
    assert token.startswith("gss_") and len(token) > 40
    assert token not in {t.token_hash for t in db.scalars(select(SystemToken))}
    assert row.prefix == token[:10]
    assert token not in _last_event(db).details


def test_call_from_allowed_address_is_accepted_and_audited(db, city) -> None:
    system, token, _ = _new(db)
    caller = service.authenticate(db, token=token, ip="10.1.2.3")
    assert caller.kind == "system" and caller.system_id == system.id and caller.org_id == system.org_id
    assert _last_event(db).event_type == "system.token_used"


def test_call_from_another_address_is_refused_and_logged(db, city) -> None:
    _system, token, _ = _new(db)
    with pytest.raises(Forbidden) as raised:
        service.authenticate(db, token=token, ip="192.0.2.7")
    assert raised.value.keep_changes and "192.0.2.7" in raised.value.message
    event = _last_event(db)
    assert event.event_type == "system.address_refused" and event.outcome == "denied"


def test_ipv4_mapped_ipv6_and_garbage_addresses(db, city) -> None:
    assert service.address_allowed("::ffff:10.1.0.9", ["10.1.0.0/16"])
    assert not service.address_allowed("testclient", ["10.1.0.0/16"])
    assert not service.address_allowed(None, ["0.0.0.0/0"])


def test_expired_and_revoked_tokens_are_refused(db, city) -> None:
    system, token, row = _new(db)
    row.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(Unauthorized):
        service.authenticate(db, token=token, ip="10.1.0.1")
    assert '"reason":"expired"' in _last_event(db).details
    new_token, _ = service.issue_token(
        db, actor=actor(db, "police_admin"), system=system, revoke_existing=True
    )
    assert row.revoked_at is not None and row.revoke_reason == "rotated"
    assert service.authenticate(db, token=new_token, ip="10.1.0.1").system_id == system.id
    with pytest.raises(Unauthorized):
        service.authenticate(db, token="gss_" + "A" * 43, ip="10.1.0.1")


def test_disabled_system_cannot_call(db, city) -> None:
    system, token, _ = _new(db)
    service.update_system(
        db,
        actor=actor(db, "police_admin"),
        system_id=system.id,
        data=SystemUpdate(version=system.version, is_active=False),
    )
    with pytest.raises(Unauthorized):
        service.authenticate(db, token=token, ip="10.1.0.1")


def test_cidrs_are_validated() -> None:
    with pytest.raises(ValidationError, match="不是有效的 IP 地址段"):
        SystemCreate(org_id=1, code="x1", name="测试", allowed_cidrs=["10.0.0.300/8"])
    with pytest.raises(ValidationError, match="至少填写一个"):
        SystemCreate(org_id=1, code="x1", name="测试", allowed_cidrs=[])
    assert SystemCreate(org_id=1, code="x1", name="测试", allowed_cidrs=["10.1.2.3/16"]).allowed_cidrs == [
        "10.1.0.0/16"
    ]


def test_departments_manage_only_their_own_systems(db, city) -> None:
    police_system = db.scalar(select(BusinessSystem).where(BusinessSystem.code == "police-hukou"))
    with pytest.raises(NotFound):
        service.get_system(db, actor=actor(db, "civil_admin"), system_id=police_system.id)
    with pytest.raises(Forbidden):
        _new(db, username="civil_admin")
    with pytest.raises(NotFound):  # business users do not even see their department's systems
        service.issue_token(db, actor=actor(db, "police_user"), system=police_system)
    with pytest.raises(Forbidden):  # the security officer sees them but may not issue tokens
        service.issue_token(db, actor=actor(db, "police_security"), system=police_system)


def test_offboarding_hands_systems_to_the_successor(db, city) -> None:
    police_system = db.scalar(select(BusinessSystem).where(BusinessSystem.code == "police-hukou"))
    leaver = police_system.contact_user_id
    record = offboarding.offboard(
        db,
        actor=actor(db, "bureau_admin"),
        user_id=leaver,
        successor_id=user_id(db, "police_compiler"),
        reason="调离",
    )
    db.refresh(police_system)
    assert police_system.contact_user_id == user_id(db, "police_compiler")
    assert '"code": "police-hukou"' in record.report
