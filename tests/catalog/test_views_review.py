"""The Bureau's catalog pages: review queue and decisions, supervision, classes, elements, conflicts."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from govshare.catalog import service
from govshare.catalog.models import DataElement, ElementConflict, Resource
from govshare.catalog.schemas import Item
from tests.catalog.conftest import entry, submit
from tests.helpers import actor, org
from tests.ui import browser, hidden, text, texts


def _submitted(db, **overrides) -> Resource:  # type: ignore[no-untyped-def]
    resource = service.create_resource(db, actor=actor(db, "civil_admin"), data=entry(db, **overrides))
    submit(db, resource.id)
    return resource


def test_the_queue_lists_submissions_with_their_age_for_reviewers_only(app, city, db) -> None:
    reviewer = browser(app, "bureau_reviewer")
    page = reviewer.get("/catalog/review")
    assert page.status_code == 200
    rows = texts(page.text, "queue-row")
    pending = next(r for r in rows if "流动人口居住登记信息" in r)
    assert "石家庄市公安局" in pending and "新编目录" in pending and "个工作日" in pending
    assert browser(app, "civil_admin").get("/catalog/review").status_code == 403
    assert browser(app, "bureau_admin").get("/catalog/review").status_code == 403


def test_return_with_field_comments_reaches_the_department(app, city, db) -> None:
    resource = _submitted(db)
    reviewer = browser(app, "bureau_reviewer")
    page = reviewer.get(f"/catalog/{resource.id}/review")
    assert "审核新编目录" in text(page.text, "review-title")

    response = reviewer.post(
        f"/catalog/{resource.id}/review",
        {
            "decision": "return",
            "comment": "",
            "fc:summary": "请写明来源系统。",
            "fc:items.note": "请说明字段含义。",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/catalog/review?done=returned"
    db.refresh(resource)
    version = service.shown_version(db, resource)
    assert resource.status == "returned"
    assert version.field_comments == {"summary": "请写明来源系统。", "items.note": "请说明字段含义。"}
    detail = browser(app, "civil_admin").get(f"/catalog/{resource.id}").text
    assert "请写明来源系统。" in detail


def test_a_return_without_any_comment_is_refused_and_changes_nothing(app, city, db) -> None:
    resource = _submitted(db)
    response = browser(app, "bureau_reviewer").post(f"/catalog/{resource.id}/review", {"decision": "return"})
    assert response.status_code == 422 and "修改意见" in text(response.text, "form-error")
    db.refresh(resource)
    assert resource.status == "submitted"


def test_approval_publishes_and_a_second_decision_finds_nothing_to_review(app, city, db) -> None:
    resource = _submitted(db)
    reviewer = browser(app, "bureau_reviewer")
    assert reviewer.post(f"/catalog/{resource.id}/review", {"decision": "approve"}).status_code == 303
    db.refresh(resource)
    assert (resource.status, resource.version_number) == ("published", 1)
    again = reviewer.post(f"/catalog/{resource.id}/review", {"decision": "approve"})
    assert again.status_code == 409
    assert "没有待审核的版本" in text(
        reviewer.get(f"/catalog/{resource.id}/review").text, "nothing-to-review"
    )


def test_an_open_conflict_blocks_approval_until_the_bureau_transfers_the_element(app, city, db) -> None:
    claim = [
        Item(
            name="id_number",
            title="公民身份号码",
            data_type="C",
            length=18,
            is_key=True,
            element="DE0001",
            authoritative=True,
        )
    ]
    resource = _submitted(db, items=claim)
    reviewer = browser(app, "bureau_reviewer")
    page = reviewer.get(f"/catalog/{resource.id}/review")
    assert "待处理" in text(page.text, "review-conflicts")

    refused = reviewer.post(f"/catalog/{resource.id}/review", {"decision": "approve"})
    assert refused.status_code == 409 and "一数一源冲突" in text(refused.text, "form-error")

    conflict = db.scalar(select(ElementConflict).where(ElementConflict.resource_id == resource.id))
    assert conflict is not None
    listed = texts(reviewer.get("/catalog/conflicts", params={"status": "open"}).text, "conflict-row")
    assert any("公民身份号码" in row and "石家庄市民政局" in row for row in listed)
    bad = reviewer.post(f"/catalog/conflicts/{conflict.id}", {"resolution": "transfer", "comment": ""})
    assert bad.status_code == 422
    done = reviewer.post(
        f"/catalog/conflicts/{conflict.id}", {"resolution": "transfer", "comment": "职责调整"}
    )
    assert done.status_code == 303
    assert text(reviewer.get(done.headers["location"]).text, "current-owner") == "石家庄市民政局"

    assert reviewer.post(f"/catalog/{resource.id}/review", {"decision": "approve"}).status_code == 303
    element = db.scalar(select(DataElement).where(DataElement.code == "DE0001"))
    assert element is not None and element.source_org_id == org(db, "civil").id
    assert browser(app, "civil_admin").get(f"/catalog/conflicts/{conflict.id}").status_code == 403


def test_supervision_shows_departments_and_a_chart(app, city, db) -> None:
    page = browser(app, "bureau_admin").get("/catalog/supervision")
    assert page.status_code == 200
    assert "石家庄市桥西区人民政府" in text(page.text, "no-catalog")
    rows = {r.split()[0]: r for r in texts(page.text, "supervision-row")}
    assert "1 条退回未修改" in rows["石家庄市卫生健康委员会"]
    chart = json.loads(
        re.search(r'id="chart-catalog-departments"[^>]*>(.*?)</script>', page.text, re.S).group(1)
    )
    names = chart["yAxis"]["data"]
    published = dict(zip(names, chart["series"][0]["data"], strict=True))
    assert published["公安局"] == 5 and published["桥西区人民政府"] == 0
    assert browser(app, "police_admin").get("/catalog/supervision").status_code == 403


def test_the_bureau_admin_adds_and_edits_sub_classes(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    assert admin.post("/catalog/classes", {"parent": "2", "name": "文化旅游"}).status_code == 303
    page = admin.get("/catalog/classes").text
    assert any("211" in row and "文化旅游" in row for row in texts(page, "class-row"))
    duplicate = admin.post("/catalog/classes", {"parent": "2", "name": "文化旅游"})
    assert duplicate.status_code == 409 and "已有名为" in text(duplicate.text, "form-error")
    no_lead = admin.post("/catalog/classes", {"parent": "3", "name": "某局"})
    assert no_lead.status_code == 422 and "必须指定所属部门" in text(no_lead.text, "form-error")

    from govshare.catalog.classes import by_code

    cls = by_code(db, "211")
    assert cls is not None
    edit = {
        "version": str(cls.version),
        "name": "文化和旅游",
        "lead_org_id": str(org(db, "edu").id),
        "description": "",
        "active": "on",
    }
    assert admin.post(f"/catalog/classes/{cls.id}", edit).status_code == 303
    db.refresh(cls)
    assert (cls.name, cls.lead_org_id) == ("文化和旅游", org(db, "edu").id)
    assert admin.post(f"/catalog/classes/{cls.id}", edit).status_code == 409  # the old version
    assert (
        browser(app, "civil_admin").post("/catalog/classes", {"parent": "2", "name": "文旅"}).status_code
        == 403
    )


def test_elements_are_registered_and_their_source_changed_with_a_current_version(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    created = admin.post(
        "/catalog/elements",
        {
            "code": "de0100",
            "name": "营业执照号",
            "definition": "旧版营业执照注册号",
            "data_type": "C",
            "length": "15",
            "standard": "",
            "source_org_id": str(org(db, "market").id),
        },
    )
    assert created.status_code == 303
    page = admin.get("/catalog/elements", params={"q": "营业执照"}).text
    assert "石家庄市市场监督管理局" in text(page, "element-source")
    element = db.scalar(select(DataElement).where(DataElement.code == "DE0100"))
    assert element is not None
    stale = element.version
    moved = admin.post(
        f"/catalog/elements/{element.id}/source",
        {"version": str(stale), "source_org_id": str(org(db, "civil").id)},
    )
    assert moved.status_code == 303
    again = admin.post(f"/catalog/elements/{element.id}/source", {"version": str(stale), "source_org_id": ""})
    assert again.status_code == 409
    bad = admin.post("/catalog/elements", {"code": "1X", "name": "x", "definition": "", "data_type": "C"})
    assert bad.status_code == 422 and "数据元编码" in text(bad.text, "form-error")
    assert (
        browser(app, "bureau_reviewer")
        .post("/catalog/elements", {"code": "DE0101", "name": "某某", "definition": "定义", "data_type": "C"})
        .status_code
        == 403
    )
    assert hidden(page, "version")
