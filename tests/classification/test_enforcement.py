"""Every enforcement point of the level controls (S13), refused and allowed: filing a request,
approving it, renewing and resuming a grant, delivering rows, asking for and approving an export,
and opening an entry to the public."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from govshare.catalog import service as catalog
from govshare.catalog.schemas import Item
from govshare.masking import service as masking
from govshare.masking.profiles import KINDS, LEVELS
from govshare.masking.schemas import ProfileIn
from govshare.sharing.models import DataUse, ShareRequest
from tests.catalog.conftest import entry
from tests.classification.conftest import graded, set_level
from tests.helpers import actor, login
from tests.sharing.test_rows import PURPOSE, loaded, rows

BASIS = "《社会救助暂行办法》第十一条"


def ask(client, headers, resource_id: int, items: list[str], days: int = 90, purpose: str = PURPOSE):  # type: ignore[no-untyped-def]
    body = {
        "resource_id": resource_id,
        "items": items,
        "purpose": purpose,
        "basis": BASIS,
        "duration_days": days,
    }
    return client.post("/api/v1/requests", json=body, headers=headers)


def refused(response, control: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code in (403, 422), response.text
    error = response.json()["error"]
    assert error["details"]["control"] == control, error
    assert "分类分级" in error["message"]


def test_filing_follows_the_levels_of_the_items_asked_for(client, city, db) -> None:
    resource = graded(db)  # a 部门 resource shared unconditionally
    police = login(client, "police_user")
    plain = ask(client, police, resource.id, ["visit_no"])
    assert plain.status_code == 201 and plain.json()["status"] == "granted"  # L1: at once

    personal = ask(client, police, resource.id, ["visit_no", "person_name"], purpose="走访对象身份核查")
    assert personal.status_code == 201, personal.text
    assert (
        personal.json()["status"] == "pending" and personal.json().get("grant") is None
    )  # L2: the provider decides
    request = db.get(ShareRequest, personal.json()["id"])
    assert request is not None and request.route == "conditional"

    refused(ask(client, police, resource.id, ["visit_no", "diagnosis"]), "shareable")  # L4: never
    refused(
        ask(client, police, resource.id, ["dispatch"], days=400), "max_grant_days"
    )  # 核心: at most 366 days
    core = ask(client, police, resource.id, ["dispatch"], days=300, purpose="应急调度")
    assert core.status_code == 201 and core.json()["status"] == "pending"


def test_base_resources_stay_unconditional_and_the_bureau_can_close_a_level(client, city, db) -> None:
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted = ask(client, civil, population.id, ["name", "region_code"])
    assert granted.json()["status"] == "granted"  # 基础信息资源 (M15): L2 still at once, masked
    assert rows(client, population, civil).status_code == 200

    set_level(client, "sensitivity", "L2", shareable=False)
    refusal = rows(client, population, civil)
    assert refusal.status_code == 403
    assert refusal.json()["error"]["details"]["reason"] == "level_controls"
    assert "不予共享" in refusal.json()["error"]["message"]
    use = db.scalar(select(DataUse).where(DataUse.reason == "level_controls"))
    assert use is not None and use.outcome == "refused"
    refused(ask(client, login(client, "hrss_user"), population.id, ["name"]), "shareable")


def _bare_profile(db) -> None:  # type: ignore[no-untyped-def]
    levels = {level: dict.fromkeys(KINDS, "as_is") for level in LEVELS}
    masking.save_profile(
        db,
        actor=actor(db, "bureau_admin"),
        code="plain",
        data=ProfileIn(name="原样交付", levels=levels, elements={}),
    )


def test_approval_needs_a_masking_profile_that_masks_the_levels_that_require_it(client, city, db) -> None:
    resource = graded(db)
    _bare_profile(db)
    filed = ask(client, login(client, "police_user"), resource.id, ["visit_no", "person_name"]).json()
    approver = login(client, "civil_approver")
    url = f"/api/v1/requests/{filed['id']}/decision"
    bare = client.post(
        url, json={"decision": "partial", "reason": "同意", "masking_profile": "plain"}, headers=approver
    )
    refused(bare, "masking")
    masked = client.post(url, json={"decision": "approve", "reason": "同意，按标准脱敏"}, headers=approver)
    assert masked.status_code == 200, masked.text
    assert masked.json()["grant"]["items"] == ["visit_no", "person_name"]


def test_renewing_and_resuming_respect_the_levels(client, city, db) -> None:
    resource = graded(db)
    filed = ask(client, login(client, "police_user"), resource.id, ["dispatch"], days=300).json()
    decided = client.post(
        f"/api/v1/requests/{filed['id']}/decision",
        json={"decision": "approve", "reason": "同意"},
        headers=login(client, "civil_approver"),
    )
    grant = decided.json()["grant"]
    admin = login(client, "civil_admin")
    url = f"/api/v1/grants/{grant['id']}"
    refused(
        client.post(f"{url}/renew", json={"reason": "延长", "days": 200}, headers=admin), "max_grant_days"
    )
    assert client.post(f"{url}/renew", json={"reason": "延长", "days": 30}, headers=admin).status_code == 200
    assert client.post(f"{url}/suspend", json={"reason": "核查"}, headers=admin).status_code == 200
    set_level(client, "importance", "core", shareable=False)
    refused(client.post(f"{url}/resume", json={"reason": "恢复"}, headers=admin), "shareable")
    set_level(client, "importance", "core", shareable=True)
    assert client.post(f"{url}/resume", json={"reason": "恢复"}, headers=admin).status_code == 200


def test_a_level_that_may_not_be_exported_refuses_the_request_and_the_approval(client, city, db) -> None:
    population = loaded(client, db)
    civil, bureau = login(client, "civil_user"), login(client, "bureau_admin")
    ask(client, civil, population.id, ["name", "region_code"])
    body = {"resource_id": population.id, "purpose": PURPOSE, "reason": "年度复核需离线比对"}
    pending = client.post("/api/v1/exports", json=body, headers=civil)
    assert pending.status_code == 201, pending.text

    set_level(client, "sensitivity", "L2", exportable=False)
    refused(client.post("/api/v1/exports", json=body, headers=civil), "exportable")
    only_l1 = client.post("/api/v1/exports", json={**body, "fields": ["region_code"]}, headers=civil)
    assert only_l1.status_code == 201, only_l1.text
    decision = {"approve": True, "reason": "同意"}
    refused(
        client.post(f"/api/v1/exports/{pending.json()['id']}/decision", json=decision, headers=bureau),
        "exportable",
    )
    approved = client.post(f"/api/v1/exports/{only_l1.json()['id']}/decision", json=decision, headers=bureau)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"


@pytest.mark.parametrize(("sensitivity", "allowed"), [("L1", True), ("L2", False)])
def test_only_levels_that_may_be_opened_are_opened(db, city, sensitivity, allowed) -> None:
    items = [
        Item(name="site_no", title="场所编号", data_type="C", length=20, is_key=True, sensitivity=sensitivity)
    ]
    data = entry(db, name="社区活动场所清单", open_type="open", items=items)
    if allowed:
        assert catalog.create_resource(db, actor=actor(db, "civil_admin"), data=data).open_type == "open"
    else:
        with pytest.raises(Exception, match="opened to the public") as caught:
            catalog.create_resource(db, actor=actor(db, "civil_admin"), data=data)
        assert "不得向社会开放" in caught.value.message  # type: ignore[attr-defined]
        closed = entry(db, name="社区活动场所清单", open_type="closed", items=items)
        assert catalog.create_resource(db, actor=actor(db, "civil_admin"), data=closed).open_type == "closed"
