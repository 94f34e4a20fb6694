"""The Bureau's masking profiles in the database and the row masker deliveries use (S23): the
acceptance check on the demo city's people and vehicles, joins through pseudonyms, Bureau-only
audited edits."""

from __future__ import annotations

import json
import re
from itertools import islice
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource, ResourceVersion
from govshare.demo.data import rows_for
from govshare.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.identifiers import id_number_valid
from govshare.masking import service
from govshare.masking.models import MaskingProfile
from govshare.masking.profiles import BUILTIN_PROFILES, builtin
from govshare.masking.schemas import ProfileIn
from tests.conftest import settings_override
from tests.helpers import actor

MOBILE = re.compile(r"1[3-9]\d{9}")
ID_LIKE = re.compile(r"\d{17}[\dXx]")
L4_ITEM = {"name": "criminal_record", "title": "违法犯罪记录", "data_type": "C", "sensitivity": "L4"}


def published_items(db: Session, name: str) -> list[dict[str, Any]]:
    resource = db.scalar(select(Resource).where(Resource.name == name))
    assert resource is not None and resource.published_version_id is not None, name
    version = db.get(ResourceVersion, resource.published_version_id)
    assert version is not None
    return list(version.items)


def unmasked_identifiers(value: object) -> list[str]:
    """Valid 18-digit ID numbers and mobiles anywhere in a delivered value."""
    text = str(value)
    found = [m for m in ID_LIKE.findall(text) if id_number_valid(m)]
    return found + MOBILE.findall(text)


def details(event: AuditEvent) -> dict[str, Any]:
    value = json.loads(event.details) if isinstance(event.details, str) else event.details
    assert isinstance(value, dict)
    return value


def last_event(db: Session) -> AuditEvent:
    event = db.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event is not None
    return event


def profile_in(code: str = "standard", **changes: Any) -> ProfileIn:
    base = builtin(code)
    assert base is not None
    data = {
        "name": base.name,
        "description": base.description,
        "levels": {level: dict(row) for level, row in base.levels.items()},
        "elements": dict(base.elements),
    }
    return ProfileIn.model_validate(data | changes)


@pytest.mark.parametrize("entry", ["人口基础信息", "机动车登记信息"])
def test_default_masking_delivers_no_id_number_or_mobile_and_drops_l4(db: Session, city, entry: str) -> None:
    items = [*published_items(db, entry), L4_ITEM]
    masker = service.row_masker(db, items, None)
    assert masker.profile_code == "standard" and masker.dropped == {"criminal_record"}
    rows = list(islice(rows_for(entry, 500), 500))
    assert any(unmasked_identifiers(v) for row in rows for v in row.values())  # the check can fail
    for row in rows:
        delivered = masker({**row, "criminal_record": "（不应交付）"})
        assert "criminal_record" not in delivered
        assert set(delivered) == {i["name"] for i in items} - {"criminal_record"}
        for value in delivered.values():
            assert not unmasked_identifiers(value), (entry, delivered)
    assert masker.rules["id_number"] == "公民身份号码（保留前 6 位和后 4 位）"


def test_the_row_masker_is_importable_from_the_package(db: Session, city) -> None:
    from govshare.masking import RowMasker, row_masker

    assert row_masker is service.row_masker
    assert isinstance(row_masker(db, [L4_ITEM]), RowMasker)


def test_pseudonyms_join_across_resources_and_change_with_the_master_key(db: Session, city) -> None:
    people_masker = service.row_masker(db, published_items(db, "人口基础信息"), "linkage")
    vehicle_masker = service.row_masker(db, published_items(db, "机动车登记信息"), "linkage")
    people = [people_masker(r) for r in rows_for("人口基础信息", 300)]
    vehicles = [vehicle_masker(r) for r in rows_for("机动车登记信息", 300, population=300)]
    known = {p["id_number"]: p for p in people}
    joined = [v for v in vehicles if v["id_number"] in known]
    assert joined, "owners drawn from the register join on their pseudonymised ID numbers"
    assert all(len(v["id_number"]) == 32 and not unmasked_identifiers(v["id_number"]) for v in vehicles)
    owner = next(r for r in rows_for("机动车登记信息", 1))
    with settings_override(master_key="cd" * 32):
        other_key = service.row_masker(db, published_items(db, "机动车登记信息"), "linkage")
        assert other_key(owner)["id_number"] != vehicle_masker(owner)["id_number"]


def test_builtin_profiles_are_seeded_and_unknown_ones_refuse_delivery(db: Session, city) -> None:
    rows = {p.code: p for p in service.list_profiles(db, actor=actor(db, "police_user"))}
    assert list(rows) == ["linkage", "open", "standard", "strict"]
    for b in BUILTIN_PROFILES:
        assert rows[b.code].builtin and rows[b.code].name == b.name and rows[b.code].levels == b.levels
    with pytest.raises(NotFound, match="数据不能交付"):
        service.row_masker(db, [L4_ITEM], "no-such-profile")
    with pytest.raises(Invalid, match="敏感级别"):
        service.row_masker(db, [{**L4_ITEM, "sensitivity": "L5"}], None)


def test_only_the_bureau_edits_and_every_change_is_audited_with_before_and_after(db: Session, city) -> None:
    bureau = actor(db, "bureau_admin")
    for username in ("police_admin", "bureau_reviewer", "bureau_auditor", "police_user"):
        with pytest.raises(Forbidden):
            service.save_profile(db, actor=actor(db, username), code="standard", data=profile_in())

    remark = [{"name": "remark", "title": "备注", "data_type": "C", "sensitivity": "L2"}]
    assert service.row_masker(db, remark)({"remark": "石家庄"}) == {"remark": "石家庄"}  # compiled, cached
    old = service.get_profile(db, actor=bureau, code="standard")
    version = old.version
    changed = profile_in()
    changed.levels["L2"]["other"] = "keep(1,0)"
    changed.version = version
    profile, created = service.save_profile(db, actor=bureau, code="standard", data=changed)
    assert not created and profile.version == version + 1 and profile.builtin
    event = last_event(db)
    assert event.event_type == "masking.profile_updated" and event.object_id == str(profile.id)
    assert details(event)["before"]["levels"]["L2"]["other"] == "as_is"
    assert details(event)["after"]["levels"]["L2"]["other"] == "keep(1,0)"
    # The change applies to the next delivery (a masker compiled before it is not reused).
    assert service.row_masker(db, remark)({"remark": "石家庄"}) == {"remark": "石**"}

    # An edit based on the old version is refused; saving the same content again records nothing.
    with pytest.raises(Conflict, match="已被他人修改"):
        service.save_profile(db, actor=bureau, code="standard", data=profile_in(version=version))
    seq = event.seq
    same = changed.model_copy(update={"version": None})
    service.save_profile(db, actor=bureau, code="standard", data=same)
    assert last_event(db).seq == seq

    created_profile, created = service.save_profile(
        db, actor=bureau, code="health-research", data=profile_in("strict", name="卫生科研")
    )
    assert created and not created_profile.builtin
    assert last_event(db).event_type == "masking.profile_created"
    assert details(last_event(db))["after"]["name"] == "卫生科研"


def test_wrong_profiles_are_refused_with_chinese_messages(db: Session, city) -> None:
    bureau = actor(db, "bureau_admin")
    bad = profile_in()
    bad.levels["L3"]["mobile"] = "phone_mask"
    with pytest.raises(Invalid, match="L3 级“电话号码”：不认识的脱敏规则“phone_mask”"):
        service.save_profile(db, actor=bureau, code="standard", data=bad)
    with pytest.raises(Invalid, match="方案编码"):
        service.save_profile(db, actor=bureau, code="Bad Code", data=profile_in(name="新方案"))
    with pytest.raises(Conflict, match="已被方案 strict 使用"):
        service.save_profile(db, actor=bureau, code="mine", data=profile_in(name="严格脱敏"))
    assert db.scalar(select(MaskingProfile).where(MaskingProfile.code == "mine")) is None
