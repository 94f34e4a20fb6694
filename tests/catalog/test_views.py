"""The catalog pages, driven through the HTML forms as departments and other readers use them."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog import service
from govshare.catalog.models import Resource, ResourceVersion
from govshare.catalog.schemas import Item, ResourceUpdate
from govshare.catalog.vocab import EntryStatus, VersionState
from tests.catalog.conftest import department_class, published
from tests.helpers import actor, login, org
from tests.ui import browser, text, texts

LEGAL_BASIS = "《社会救助暂行办法》第六十六条"


def _entry(db: Session, name: str) -> Resource:
    found = db.scalar(select(Resource).where(Resource.name == name))
    assert found is not None, name
    return found


def _only_version(db: Session, resource: Resource) -> ResourceVersion:
    found = db.scalar(select(ResourceVersion).where(ResourceVersion.resource_id == resource.id))
    assert found is not None
    return found


def _total(page: str) -> int:
    found = re.fullmatch(r"共 (\d+) 条目录", text(page, "result-total"))
    assert found is not None
    return int(found.group(1))


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Resource)) or 0


def _form(db: Session, **overrides: Any) -> list[tuple[str, str]]:
    """The compile form as a browser posts it: three item rows whose ids have gaps (rows were added
    and removed in the editor), only the third ticked as the business key, the first and the third
    as query items."""
    fields = {
        "category": department_class(db, "civil"),
        "name": "困难群众走访记录",
        "summary": "社区工作人员走访困难群众的记录，每月汇总。",
        "format": "database",
        "format_detail": "",
        "provision_method": "table",
        "sharing_type": "unconditional",
        "sharing_condition": "",
        "not_shared_reason": "",
        "legal_basis_kind": "",
        "legal_basis": "",
        "open_type": "closed",
        "open_condition": "",
        "update_cycle": "monthly",
        "related": "",
        **overrides,
    }
    rows = [
        ("0", "visited_on", "走访日期", "D", "", "L1", ""),
        ("2", "note", "走访情况", "M", "", "L2", ""),
        ("5", "id_number", "公民身份号码", "C", "18", "L3", "DE0001"),
    ]
    posted = list(fields.items())
    for row, name, title, data_type, length, sensitivity, element in rows:
        posted += [
            ("item_row", row),
            ("item_name", name),
            ("item_title", title),
            ("item_data_type", data_type),
            ("item_length", length),
            ("item_sensitivity", sensitivity),
            ("item_element", element),
            ("item_description", ""),
        ]
    return [*posted, ("item_is_key", "5"), ("item_queryable", "0"), ("item_queryable", "5")]


def _edit_form(page: str, **changes: str) -> list[tuple[str, str]]:
    """The fields of an edit page as loaded (hidden, text inputs, selects, textareas), then changed."""
    page = re.sub(r"<template\b.*?</template>", "", page, flags=re.DOTALL)  # browsers do not post it
    fields: list[tuple[str, str]] = []
    for tag in re.finditer(r"<(input|select|textarea)\b([^>]*)>", page):
        kind, attrs = tag.group(1), tag.group(2)
        name = re.search(r'name="([^"]+)"', attrs)
        if name is None or name.group(1) == "csrf_token":
            continue
        if kind == "input":
            if ('type="checkbox"' in attrs or 'type="radio"' in attrs) and " checked" not in attrs:
                continue
            value = re.search(r'value="([^"]*)"', attrs)
            fields.append((name.group(1), value.group(1) if value else ""))
        elif kind == "textarea":
            body = page[tag.end() : page.index("</textarea>", tag.end())]
            fields.append((name.group(1), body))
        else:
            body = page[tag.end() : page.index("</select>", tag.end())]
            chosen = re.search(r'<option value="([^"]*)" selected', body)
            fields.append((name.group(1), chosen.group(1) if chosen else ""))
    return [(k, changes.get(k, v)) for k, v in fields]


# --- search and browse ---------------------------------------------------------------------------


def test_a_two_character_term_finds_the_population_entry_with_facet_counts(app, city) -> None:
    person = browser(app, "civil_user")

    page = person.get("/catalog", params={"q": "人口"}).text

    rows = texts(page, "catalog-row")
    assert any("人口基础信息" in row and "石家庄市公安局" in row for row in rows)
    kinds = texts(page, "facet-class_kind")
    base_rows = sum(row.startswith("1") for row in rows)  # codes of 基础 sub-classes start with 1
    assert base_rows >= 1 and f"基础信息资源 {base_rows}" in kinds[0]
    sharing = text(page, "facet-sharing_type")
    shared = sum("无条件共享" in row for row in rows)
    assert f"无条件共享 {shared}" in sharing
    assert text(page, "result-total") == f"共 {len(rows)} 条目录"


def test_filters_narrow_the_results_and_facet_links_keep_the_other_filters(app, city, db) -> None:
    person = browser(app, "civil_user")
    everything = _total(person.get("/catalog").text)

    page = person.get("/catalog", params={"sharing_type": "conditional"}).text

    rows = texts(page, "catalog-row")
    assert 0 < len(rows) == _total(page) < everything and all("有条件共享" in row for row in rows)
    assert 'href="/catalog/export.xlsx?sharing_type=conditional"' in page  # exports what is shown
    police = org(db, "police").id
    link = re.search(rf'href="(/catalog\?[^"]*provider={police}[^"]*)"', page)
    assert link is not None and "sharing_type=conditional" in link.group(1)
    narrowed = person.get(link.group(1).replace("&amp;", "&")).text
    names = {row.split()[1] for row in texts(narrowed, "catalog-row")}
    assert names == {"机动车登记信息", "驾驶人信息"}
    assert "全部" in text(narrowed, "facet-provider")  # the way back to every provider


def test_a_draft_is_visible_to_its_department_only(app, city, db) -> None:
    draft = _entry(db, "临时救助对象信息")

    own = browser(app, "civil_compiler")
    listed = texts(own.get("/catalog", params={"q": "临时救助"}).text, "catalog-row")
    assert len(listed) == 1 and "草稿" in listed[0]
    assert own.get(f"/catalog/{draft.id}").status_code == 200

    other = browser(app, "police_admin")
    assert texts(other.get("/catalog", params={"q": "临时救助"}).text, "catalog-row") == []
    assert other.get(f"/catalog/{draft.id}").status_code == 404
    assert other.get(f"/catalog/{draft.id}/versions/1").status_code == 404


def test_a_reader_learns_how_to_obtain_conditional_and_not_shared_data(app, city, db) -> None:
    person = browser(app, "civil_user")
    police = org(db, "police")

    car = person.get(f"/catalog/{_entry(db, '机动车登记信息').id}").text
    exit_entry = person.get(f"/catalog/{_entry(db, '出入境证件办理信息').id}").text

    obtain = text(car, "how-to-obtain")
    assert "有条件共享" in obtain and "10 个工作日" in obtain
    assert "交通管理" in text(car, "obtain-condition")
    assert police.contact_phone and text(car, "provider-phone") == police.contact_phone
    assert "道路交通安全法" in text(car, "legal-basis")
    assert "号牌号码" in " ".join(texts(car, "item-row"))
    assert "不予共享" in text(exit_entry, "how-to-obtain")
    assert "出入境管理工作秘密" in text(exit_entry, "obtain-reason")
    assert not texts(car, "entry-edit") and not texts(car, "working")


# --- compiling -----------------------------------------------------------------------------------


def test_compiling_through_the_form_creates_a_draft(app, client, city, db) -> None:
    admin = browser(app, "civil_admin")
    form = admin.get("/catalog/new").text
    assert 'value="101"' not in form  # 人口 is compiled by the police only (M15(3))
    assert f'value="{department_class(db, "civil")}"' in form

    response = admin.post("/catalog", _form(db))

    assert response.status_code == 303
    page = admin.get(response.headers["location"]).text
    assert "已保存为草稿" in text(page, "notice") and text(page, "entry-status") == "草稿"
    created = _entry(db, "困难群众走访记录")
    version = db.get(ResourceVersion, created.working_version_id)
    assert created.status == EntryStatus.draft.value and version is not None
    assert [(i["name"], i["is_key"], i["queryable"], i["element"]) for i in version.items] == [
        ("visited_on", False, True, None),
        ("note", False, False, None),
        ("id_number", True, True, "DE0001"),
    ]
    assert ["查询项" in row for row in texts(page, "item-row")] == [True, False, True]
    api = client.get(f"/api/v1/resources/{created.id}", headers=login(client, "civil_admin")).json()
    assert api["status"] == "draft" and api["items"][2]["length"] == 18


def test_a_conditional_entry_without_legal_basis_is_refused_and_the_form_kept(app, city, db) -> None:
    admin = browser(app, "civil_admin")
    before = _count(db)

    response = admin.post(
        "/catalog",
        _form(db, sharing_type="conditional", sharing_condition="仅向承担社会救助职责的部门共享。"),
    )

    assert response.status_code == 422
    assert "共享依据" in text(response.text, "form-error")
    assert "共享依据" in text(response.text, "field-error-legal_basis")
    assert (
        'value="困难群众走访记录"' in response.text
        and "仅向承担社会救助职责的部门共享。</textarea>" in response.text
    )
    assert 'value="公民身份号码"' in response.text
    assert re.search(r'name="item_is_key" value="5"[^>]* checked', response.text)
    for row, ticked in (("0", True), ("2", False), ("5", True)):
        box = re.search(rf'<input type="checkbox" name="item_queryable" value="{row}"[^>]*>', response.text)
        assert box is not None and (" checked" in box.group(0)) is ticked, row
    assert _count(db) == before


def test_an_item_error_points_at_its_row(app, city, db) -> None:
    admin = browser(app, "civil_admin")
    posted = [(k, "Visit Date" if (k, v) == ("item_name", "visited_on") else v) for k, v in _form(db)]

    response = admin.post("/catalog", posted)

    assert response.status_code == 422
    assert "第 1 个信息项的字段名" in text(response.text, "form-error")
    assert "小写字母开头" in text(response.text, "field-error-items.0.name")
    assert 'value="Visit Date"' in response.text


def test_a_stale_edit_is_refused_with_a_reload_link(app, city, db) -> None:
    draft = _entry(db, "临时救助对象信息")
    admin = browser(app, "civil_admin")
    page = admin.get(f"/catalog/{draft.id}/edit").text
    version = db.get(ResourceVersion, draft.working_version_id)
    assert version is not None
    service.update_resource(
        db,
        actor=actor(db, "civil_compiler"),
        resource_id=draft.id,
        data=ResourceUpdate.model_validate(
            {
                **service._metadata_of(db, version).model_dump(),
                "summary": "遭遇突发困难家庭的临时救助审批和发放信息。",
                "lock_version": draft.lock_version,
            }
        ),
    )
    db.flush()

    response = admin.post(f"/catalog/{draft.id}/edit", _edit_form(page, name="临时救助对象名单"))

    assert response.status_code == 409
    assert "已被他人修改" in text(response.text, "form-error")
    assert f'href="/catalog/{draft.id}/edit"' in response.text and texts(response.text, "reload")
    assert 'value="临时救助对象名单"' in response.text
    db.refresh(draft)
    assert draft.name == "临时救助对象信息"


def test_a_secrecy_review_dated_in_the_future_is_refused(app, city, db) -> None:
    draft = _entry(db, "临时救助对象信息")
    security = browser(app, "civil_security")
    page = security.get(f"/catalog/{draft.id}").text
    assert texts(page, "secrecy-form") and not texts(page, "entry-submit")  # may record, not submit

    future = security.post(
        f"/catalog/{draft.id}/secrecy",
        {"reviewer": "周丽华（安全管理员）", "reviewed_on": "2099-01-01", "conclusion": "passed"},
    )

    assert future.status_code == 422 and "不能晚于今天" in text(future.text, "field-error-reviewed_on")
    assert 'value="周丽华（安全管理员）"' in future.text and 'value="2099-01-01"' in future.text
    assert _only_version(db, draft).secrecy_conclusion is None


def test_secrecy_review_then_submission(app, city, db) -> None:
    draft = _entry(db, "临时救助对象信息")
    security = browser(app, "civil_security")

    recorded = security.post(
        f"/catalog/{draft.id}/secrecy",
        {"reviewer": "周丽华（安全管理员）", "reviewed_on": "2026-11-20", "conclusion": "passed"},
    )
    assert recorded.status_code == 303
    assert "周丽华" in text(security.get(recorded.headers["location"]).text, "working-secrecy")

    admin = browser(app, "civil_admin")
    submitted = admin.post(f"/catalog/{draft.id}/submit", {})

    assert submitted.status_code == 303
    db.refresh(draft)
    assert draft.status == EntryStatus.submitted.value
    page = admin.get(submitted.headers["location"]).text
    assert text(page, "entry-status") == "待审核" and not texts(page, "entry-edit")
    assert "报送" in text(page, "notice")


def test_submitting_without_a_secrecy_review_is_refused(app, city, db) -> None:
    draft = _entry(db, "临时救助对象信息")

    response = browser(app, "civil_admin").post(f"/catalog/{draft.id}/submit", {})

    assert response.status_code == 422
    assert "保密审查" in text(response.text, "form-error") and "第二十条" in text(response.text, "form-error")
    assert "保密审查" in text(response.text, "field-error-secrecy")
    db.refresh(draft)
    assert draft.status == EntryStatus.draft.value


def test_a_change_under_review_leaves_the_published_version_visible(app, city, db) -> None:
    pop = _entry(db, "人口基础信息")
    admin = browser(app, "police_admin")
    assert text(admin.get(f"/catalog/{pop.id}").text, "entry-edit") == "变更目录"
    page = admin.get(f"/catalog/{pop.id}/edit").text
    changed = "全市户籍人口、常住人口和流动人口基础信息。"

    response = admin.post(
        f"/catalog/{pop.id}/edit", _edit_form(page, summary=changed, change_reason="机构改革后职责调整")
    )
    assert response.status_code == 303 and response.headers["location"].endswith("done=changed")
    db.refresh(pop)
    working = db.get(ResourceVersion, pop.working_version_id)
    assert working is not None  # the edit page came with the query items ticked, so they are kept
    assert [i["name"] for i in working.items if i["queryable"]] == ["id_number", "region_code"]
    recorded = admin.post(  # a data administrator may record the 保密审查 too
        f"/catalog/{pop.id}/secrecy",
        {"reviewer": "钱志刚（安全管理员）", "reviewed_on": "2026-11-20", "conclusion": "passed"},
    )
    assert recorded.status_code == 303
    assert admin.post(f"/catalog/{pop.id}/submit", {}).status_code == 303

    other = browser(app, "civil_user")
    page = other.get(f"/catalog/{pop.id}").text
    assert changed not in page and "全市户籍人口和登记在册的常住人口" in text(page, "entry-props")
    assert text(page, "entry-version") == "第 1 版" and texts(page, "pending-change")
    assert not texts(page, "working")
    assert other.get(f"/catalog/{pop.id}/versions/2").status_code == 404
    own = admin.get(f"/catalog/{pop.id}").text
    assert text(own, "working-state") == "待审核" and texts(own, "working-diff")
    assert changed in admin.get(f"/catalog/{pop.id}/versions/2").text


def test_changing_a_published_entry_needs_a_reason(app, city, db) -> None:
    pop = _entry(db, "人口基础信息")
    admin = browser(app, "police_admin")
    page = admin.get(f"/catalog/{pop.id}/edit").text
    assert 'name="change_reason"' in page

    response = admin.post(f"/catalog/{pop.id}/edit", _edit_form(page, summary="全市人口基础信息。"))

    assert response.status_code == 422
    assert "变更原因" in text(response.text, "field-error-change_reason")
    assert "全市人口基础信息。</textarea>" in response.text
    db.refresh(pop)
    assert pop.working_version_id is None


def test_the_diff_page_shows_changed_fields_and_items_readably(app, city, db) -> None:
    resource = published(db)
    version = db.get(ResourceVersion, resource.published_version_id)
    assert version is not None
    meta = service._metadata_of(db, version)
    items = [
        meta.items[0].model_copy(update={"length": 40, "queryable": True}),
        *meta.items[1:],
        Item(
            name="region_code",
            title="行政区划代码",
            data_type="C",
            length=6,
            queryable=True,
            element="DE0004",
        ),
    ]
    service.update_resource(
        db,
        actor=actor(db, "civil_admin"),
        resource_id=resource.id,
        data=ResourceUpdate.model_validate(
            {
                **meta.model_dump(),
                "update_cycle": "weekly",
                "items": items,
                "lock_version": resource.lock_version,
                "change_reason": "增加行政区划",
            }
        ),
    )
    db.flush()

    page = browser(app, "civil_admin").get(f"/catalog/{resource.id}/diff", params={"from": 1, "to": 2}).text

    rows = texts(page, "diff-row")
    assert "更新周期 每月 每周" in rows
    assert "信息项 走访编号：长度 20 40" in rows
    assert "信息项 走访编号：查询项 否 是" in rows
    added = next(row for row in rows if "（新增）" in row)
    assert "行政区划代码（region_code）字符型C 长度 6" in added and "数据元 DE0004" in added
    assert "查询项" in added
    assert "{" not in page.split('data-testid="diff-table"')[1]  # no raw dicts
    assert browser(app, "police_user").get(f"/catalog/{resource.id}/diff?from=1&to=2").status_code == 404


def test_retiring_asks_for_a_reason(app, city, db) -> None:
    pop = _entry(db, "人口基础信息")
    admin = browser(app, "police_admin")
    assert "data-confirm" in admin.get(f"/catalog/{pop.id}").text.split('data-testid="retire-form"')[1][:400]

    refused = admin.post(f"/catalog/{pop.id}/retire", {"reason": ""})

    assert refused.status_code == 422 and "撤销原因" in text(refused.text, "field-error-reason")
    db.refresh(pop)
    assert pop.working_version_id is None


def test_a_retirement_under_review_leaves_the_entry_published(app, city, db) -> None:
    pop = _entry(db, "人口基础信息")
    admin = browser(app, "police_admin")

    asked = admin.post(f"/catalog/{pop.id}/retire", {"reason": "机构改革后由新系统重新编目"})

    assert asked.status_code == 303
    page = admin.get(asked.headers["location"]).text
    assert "撤销目录" in text(page, "working") and text(page, "working-state") == "待审核"
    assert text(browser(app, "civil_user").get(f"/catalog/{pop.id}").text, "entry-status") == "已发布"


def test_a_returned_entry_shows_the_bureaus_comments_where_they_are_fixed(app, city, db) -> None:
    returned = _entry(db, "健康体检机构信息")
    admin = browser(app, "health_admin")

    page = admin.get(f"/catalog/{returned.id}").text
    form = admin.get(f"/catalog/{returned.id}/edit").text

    assert text(page, "working-state") == "已退回" and "备案编号" in text(page, "review-comment")
    assert "信息资源摘要" in text(page, "field-comments") and "摘要过于简略" in text(page, "field-comments")
    assert "摘要过于简略" in text(form, "comment-summary")


def test_discarding_a_draft_keeps_its_page(app, city, db) -> None:
    draft = _entry(db, "临时救助对象信息")
    admin = browser(app, "civil_admin")
    assert (
        "data-confirm" in admin.get(f"/catalog/{draft.id}").text.split('data-testid="discard-form"')[1][:300]
    )

    response = admin.post(f"/catalog/{draft.id}/discard", {})

    assert response.status_code == 303
    page = admin.get(response.headers["location"]).text
    assert text(page, "entry-status") == "已撤销" and not texts(page, "entry-edit")
    assert _only_version(db, draft).state == VersionState.discarded.value


def test_a_business_user_may_browse_but_not_compile(app, city, db) -> None:
    person = browser(app, "civil_user")
    before = _count(db)

    listing = person.get("/catalog")
    form = person.get("/catalog/new")
    posted = person.post("/catalog", _form(db))

    assert listing.status_code == 200 and not texts(listing.text, "catalog-new")
    assert texts(listing.text, "catalog-export-xlsx") and not texts(listing.text, "catalog-import")
    assert form.status_code == 403 and posted.status_code == 403
    assert _count(db) == before
    assert texts(browser(app, "civil_admin").get("/catalog").text, "catalog-new")
