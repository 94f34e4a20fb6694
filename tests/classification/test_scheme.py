"""The Bureau's classification scheme (S13): defaults, editing (audited, Bureau only, version-checked),
the page, and each entry's level computed from its items."""

from __future__ import annotations

import json

from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.catalog import service as catalog
from govshare.catalog.models import Resource
from govshare.classification import scheme
from tests.catalog.conftest import entry
from tests.classification.conftest import graded
from tests.helpers import actor, login
from tests.ui import browser, texts

LEVEL = "/api/v1/classification/levels"


def body(level: dict, **changes) -> dict:  # type: ignore[no-untyped-def,type-arg]
    keep = ("label", "description", "max_grant_days", "version", *scheme.CONTROLS)
    return {**{k: level[k] for k in keep}, **changes}


def test_the_default_scheme_is_seeded_and_readable_by_everyone(client, city) -> None:
    levels = client.get(LEVEL, headers=login(client, "civil_user")).json()
    by = {(lv["dimension"], lv["code"]): lv for lv in levels}
    assert list(by) == [
        ("importance", "general"),
        ("importance", "important"),
        ("importance", "core"),
        ("sensitivity", "L1"),
        ("sensitivity", "L2"),
        ("sensitivity", "L3"),
        ("sensitivity", "L4"),
    ]
    assert by[("sensitivity", "L1")]["unconditional"] and not by[("sensitivity", "L1")]["masking"]
    assert not by[("sensitivity", "L3")]["unconditional"] and by[("sensitivity", "L3")]["masking"]
    assert not by[("sensitivity", "L4")]["shareable"] and by[("sensitivity", "L4")]["encrypted"]
    assert by[("importance", "core")]["restricted"] and not by[("importance", "core")]["exportable"]
    assert by[("importance", "core")]["max_grant_days"] == 366
    assert client.get(LEVEL).status_code == 401


def test_the_bureau_edits_a_level_and_the_change_is_audited(client, city, db) -> None:
    admin = login(client, "bureau_admin")
    l3 = next(lv for lv in client.get(LEVEL, headers=admin).json() if lv["code"] == "L3")
    changed = client.put(f"{LEVEL}/sensitivity/L3", json=body(l3, max_grant_days=180), headers=admin)
    assert changed.status_code == 200, changed.text
    assert changed.json()["max_grant_days"] == 180 and changed.json()["version"] == l3["version"] + 1
    event = db.scalar(
        select(AuditEvent)
        .where(AuditEvent.event_type == "classification.level_changed")
        .order_by(AuditEvent.seq.desc())
    )
    assert event is not None
    details = json.loads(event.details)
    assert details["before"] == {"max_grant_days": None} and details["after"] == {"max_grant_days": 180}
    assert scheme.load(db).level("sensitivity", "L3").controls.max_grant_days == 180

    stale = client.put(f"{LEVEL}/sensitivity/L3", json=body(l3, label="L3 敏感个人信息"), headers=admin)
    assert stale.status_code == 409  # based on the version before the change
    assert (
        client.put(
            f"{LEVEL}/sensitivity/L3", json=body(l3, max_grant_days=0, version=None), headers=admin
        ).status_code
        == 422
    )
    assert (
        client.put(f"{LEVEL}/sensitivity/L9", json=body(l3, version=None), headers=admin).status_code == 404
    )
    for user in ("civil_admin", "bureau_reviewer"):
        refused = client.put(
            f"{LEVEL}/sensitivity/L3", json=body(l3, version=None), headers=login(client, user)
        )
        assert refused.status_code == 403


def test_the_scheme_page_shows_the_controls_and_the_bureau_edits_through_it(app, city, db) -> None:
    civil = browser(app, "civil_user")
    page = civil.get("/admin/classification")
    assert page.status_code == 200 and "分类分级方案" in page.text
    assert "修改" not in texts(page.text, "level-sensitivity-L4")[0]
    assert texts(page.text, "level-sensitivity-L4")[0].count("否") >= 3
    assert civil.post("/admin/classification/sensitivity/L2", {"label": "L2"}).status_code == 403

    admin = browser(app, "bureau_admin")
    form = admin.get("/admin/classification?edit=sensitivity:L2")
    assert 'data-testid="level-form"' in form.text
    fields = [("label", "L2 较敏感个人信息"), ("description", "审批后脱敏使用。"), ("max_grant_days", "200")]
    fields += [(name, "1") for name in ("shareable", "masking", "exportable")]
    saved = admin.post("/admin/classification/sensitivity/L2", fields)
    assert saved.status_code == 303, saved.text
    level = scheme.load(db).level("sensitivity", "L2")
    assert level.label == "L2 较敏感个人信息" and level.controls.max_grant_days == 200
    assert not level.controls.unconditional and not level.controls.openable
    bad = admin.post("/admin/classification/sensitivity/L2", [("label", "L"), ("max_grant_days", "十天")])
    assert bad.status_code == 422 and "最长授权天数" in bad.text


def test_an_entrys_level_is_its_highest_items(client, city, db) -> None:
    resource = graded(db)
    assert (resource.importance, resource.sensitivity) == ("core", "L4")
    plain = catalog.create_resource(
        db, actor=actor(db, "civil_admin"), data=entry(db, name="社区活动场所清单")
    )
    assert (plain.importance, plain.sensitivity) == ("general", "L1")
    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert population is not None and (population.importance, population.sensitivity) == ("general", "L3")

    admin = login(client, "civil_admin")
    detail = client.get(f"/api/v1/resources/{resource.id}", headers=admin).json()
    assert (detail["importance"], detail["sensitivity"]) == ("core", "L4")
    listed = client.get("/api/v1/resources", params={"q": "困难群众走访记录"}, headers=admin).json()["items"]
    assert [(r["importance"], r["sensitivity"]) for r in listed] == [("core", "L4")]
    page = client.get(f"/catalog/{resource.id}", headers=admin)
    assert "核心数据" in texts(page.text, "resource-level")[0]


def test_the_compile_form_and_edit_page_carry_each_items_importance(app, city, db) -> None:
    from tests.catalog.test_views import _edit_form, _entry, _form

    admin = browser(app, "civil_admin")
    posted = _form(db)
    at = [n for n, (k, _v) in enumerate(posted) if k == "item_sensitivity"]
    for position, importance in zip(at, ["general", "important", "core"], strict=True):
        posted.insert(position + 1, ("item_importance", importance))
    assert admin.post("/catalog", posted).status_code == 303
    created = _entry(db, "困难群众走访记录")
    assert (created.importance, created.sensitivity) == ("core", "L3")
    edit = admin.get(f"/catalog/{created.id}/edit").text
    assert [v for k, v in _edit_form(edit) if k == "item_importance"] == ["general", "important", "core"]
    page = admin.get(f"/catalog/{created.id}").text
    assert texts(page, "item-importance") == ["一般数据", "重要数据", "核心数据"]
