"""Organisations: credit-code checks (strict and warn-only), uniqueness, concurrent edits."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.errors import Conflict, Forbidden, Invalid
from govshare.identifiers import credit_code_check_char
from govshare.orgs import service
from govshare.orgs.models import OrgKind
from govshare.orgs.schemas import OrgCreate, OrgUpdate
from tests.conftest import settings_override
from tests.helpers import actor, org

BODY = "11130100000199998"
VALID = BODY + credit_code_check_char(BODY)
WRONG = BODY + ("0" if VALID[-1] != "0" else "1")


def _data(code: str = "statistics", credit: str = VALID, kind: OrgKind = OrgKind.department) -> OrgCreate:
    return OrgCreate(code=code, name="石家庄市统计局", short_name="市统计局", kind=kind, credit_code=credit)


def test_bureau_admin_registers_a_department(db, city) -> None:
    created = service.create_org(db, actor=actor(db, "bureau_admin"), data=_data())
    assert created.credit_code_checked and created.kind == "department"
    with pytest.raises(Forbidden):
        service.create_org(db, actor=actor(db, "civil_admin"), data=_data(code="other"))


def test_wrong_check_character_is_refused_in_strict_mode(db, city) -> None:
    with pytest.raises(Invalid, match="校验位不正确"):
        service.create_org(db, actor=actor(db, "bureau_admin"), data=_data(credit=WRONG))
    with pytest.raises(Invalid, match="18位"):
        service.create_org(db, actor=actor(db, "bureau_admin"), data=_data(credit="ZZZZZZZZZZZZZZZZZZ"))


def test_warn_mode_accepts_pilot_codes_flags_and_audits_them(db, city) -> None:
    with settings_override(credit_code_mode="warn"):
        created = service.create_org(db, actor=actor(db, "bureau_admin"), data=_data(credit=WRONG))
    assert created.credit_code_checked is False
    warning = db.scalars(select(AuditEvent).where(AuditEvent.event_type == "org.credit_code_warning")).one()
    assert warning.object_id == str(created.id) and warning.outcome == "warning"


def test_duplicates_and_a_second_bureau_conflict(db, city) -> None:
    police = org(db, "police")
    with pytest.raises(Conflict, match="统一社会信用代码"):
        service.create_org(db, actor=actor(db, "bureau_admin"), data=_data(credit=police.credit_code))
    with pytest.raises(Conflict, match="只能有一个"):
        service.create_org(db, actor=actor(db, "bureau_admin"), data=_data(kind=OrgKind.bureau))


def test_concurrent_edit_conflicts(db, city) -> None:
    police = org(db, "police")
    version = police.version
    admin = actor(db, "bureau_admin")
    service.update_org(db, actor=admin, org_id=police.id, data=OrgUpdate(version=version, short_name="公安"))
    with pytest.raises(Conflict, match="已被他人修改"):
        service.update_org(
            db, actor=admin, org_id=police.id, data=OrgUpdate(version=version, short_name="市局")
        )
    with pytest.raises(Invalid):
        service.update_org(
            db,
            actor=admin,
            org_id=org(db, "bureau").id,
            data=OrgUpdate(version=org(db, "bureau").version, is_active=False),
        )


def test_deactivated_department_loses_its_permissions(db, city) -> None:
    civil = org(db, "civil")
    service.update_org(
        db,
        actor=actor(db, "bureau_admin"),
        org_id=civil.id,
        data=OrgUpdate(version=civil.version, is_active=False),
    )
    assert actor(db, "civil_admin").roles == frozenset()
