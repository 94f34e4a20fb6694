"""The catalog in a real browser: a department compiles an entry with the items editor, records its
保密审查 and submits it; the Bureau returns it with a comment on one field; the department fixes and
resubmits it; the Bureau approves it; another department finds it by a two-character term. Also a
change of a published entry, the Bureau's queue and supervision charts, and keyboard access.

The live server's database is shared by the browser tests of a worker and never rolled back: every
entry made here carries a unique suffix, and no assertion depends on how many entries exist.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import Engine

from govshare.catalog import classes, service
from govshare.catalog.schemas import Item, ResourceCreate, ReviewDecision, SecrecyReview
from govshare.catalog.vocab import DataType, SecrecyConclusion, UpdateCycle
from govshare.db import unit_of_work
from govshare.workdays import today
from tests.browser.ui import login, open_nav, switch_user
from tests.helpers import actor

pytestmark = pytest.mark.browser

LEGAL_BASIS = "《中华人民共和国道路交通安全法》第八条"
CONDITION = "仅向交通运输、城市管理部门在停车治理时共享，号牌号码须脱敏后使用。"


def _suffix() -> str:
    """Lower-case letters and digits, so a search for it matches case-insensitively on every database."""
    return uuid.uuid4().hex[:8]


def _row(page: Page, name: str) -> Locator:
    """The catalog list's row of the entry called `name`."""
    return page.get_by_test_id("catalog-row").filter(
        has=page.get_by_test_id("entry-link").filter(has_text=re.compile(f"^{re.escape(name)}$"))
    )


def _search(page: Page, term: str) -> None:
    """Type `term` into the catalog's search box and press Enter, as a person does."""
    box = page.get_by_role("search").get_by_label("关键词")
    box.fill(term)
    with page.expect_navigation():
        box.press("Enter")


def _open_entry(page: Page, name: str) -> None:
    with page.expect_navigation():
        _row(page, name).get_by_test_id("entry-link").click()
    expect(page.get_by_test_id("entry-name")).to_have_text(name)


def _press(page: Page, testid: str) -> None:
    """Press a button that posts a plain form and wait for the page the server answers with."""
    with page.expect_navigation():
        page.get_by_test_id(testid).click()


def _item_row(page: Page, index: int) -> Locator:
    return page.get_by_test_id("item-editor-row").nth(index)


def _fill_item(row: Locator, name: str, title: str, data_type: str, length: str = "") -> None:
    row.get_by_label("字段名").fill(name)
    row.get_by_label("中文名称").fill(title)
    row.get_by_label("数据类型").select_option(data_type)
    if length:
        row.get_by_label("长度").fill(length)


def _column(form: Locator, label: str) -> list[str]:
    """What the items editor's column `label` holds, row by row."""
    values: list[str] = form.get_by_label(label, exact=True).evaluate_all(
        "fields => fields.map(f => f.value)"
    )
    return values


def _record_secrecy(page: Page, reviewer: str) -> None:
    form = page.get_by_test_id("secrecy-form")
    form.get_by_label("审查人").fill(reviewer)
    expect(form.get_by_label("审查日期")).to_have_value(today().isoformat())
    form.get_by_label("通过，不涉及国家秘密").check()
    _press(page, "secrecy-save")
    expect(page.get_by_test_id("notice")).to_have_text("保密审查已登记。")
    expect(page.get_by_test_id("working-secrecy")).to_contain_text(f"通过，不涉及国家秘密（{reviewer}")


def _submit(page: Page) -> None:
    _press(page, "entry-submit")
    expect(page.get_by_test_id("notice")).to_have_text("已报送市数据资源管理局审核。")
    expect(page.locator(".entry-meta").get_by_test_id("entry-status")).to_have_text("待审核")


def _review(
    page: Page, name: str, *, approve: bool, summary_comment: str = "", changed: tuple[str, ...] = ()
) -> None:
    """bureau_reviewer opens 目录审核, finds `name` waiting, opens it, sees the `changed` fields (of a
    change to a published entry) and approves it or returns it with `summary_comment` on 摘要."""
    open_nav(page, "目录审核")
    expect(page.get_by_role("heading", level=1)).to_have_text("目录审核")
    row = page.get_by_test_id("queue-row").filter(has=page.get_by_role("link", name=name, exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("市公安局")
    # Submitted today, so it has waited no working day yet.
    expect(row.get_by_test_id("queue-age")).to_have_text(re.compile(r"^0 个工作日"))
    with page.expect_navigation():
        row.get_by_role("link", name="审核", exact=True).click()
    expect(page.get_by_test_id("review-title")).to_contain_text(name)
    if changed:
        rows = page.get_by_test_id("review-changes").get_by_test_id("change-row")
        expect(rows.locator("td:first-child")).to_have_text(list(changed))

    form = page.get_by_test_id("review-form")
    if approve:
        form.get_by_label("通过（发布）").check()
    else:
        form.get_by_label("退回修改").check()
        form.get_by_text("逐项意见", exact=False).first.click()  # opens the <details> of per-field comments
        form.get_by_label("信息资源摘要", exact=True).fill(summary_comment)
    _press(page, "review-submit")
    expect(page.get_by_role("heading", level=1)).to_have_text("目录审核")
    expect(page.get_by_test_id("notice")).to_have_text(
        "已审核通过，目录已发布。" if approve else "已退回提供部门修改。"
    )
    expect(page.get_by_test_id("queue-row").filter(has_text=name)).to_have_count(0)


def test_a_department_compiles_the_bureau_returns_and_approves_and_another_department_finds_it(
    page: Page, live_server: str
) -> None:
    suffix = _suffix()
    name = f"违法停车抓拍记录{suffix}"
    summary = "全市电子警察抓拍的违法停车记录，来源于公安交通管理综合应用平台。"

    # --- 公安局 compiles a draft --------------------------------------------------------------
    login(page, "police_admin")
    open_nav(page, "数据目录")
    expect(page.get_by_role("heading", level=1)).to_have_text("政务数据资源目录")
    with page.expect_navigation():
        page.get_by_role("link", name="新编目录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("新编目录")

    form = page.get_by_test_id("entry-form")
    category = form.get_by_label("信息资源分类")
    own_class = category.locator("optgroup[label='部门信息资源'] option", has_text="公安局")
    expect(own_class).to_have_count(1)
    category.select_option(own_class.get_attribute("value"))
    form.get_by_label("信息资源名称").fill(name)
    form.get_by_label("信息资源摘要").fill(summary)
    form.get_by_label("更新周期").select_option(label="每日")

    # The conditional fields appear only once 有条件共享 is chosen.
    basis = form.get_by_label("共享依据")
    expect(basis).to_be_hidden()
    form.get_by_label("共享类型").select_option(label="有条件共享")
    expect(basis).to_be_visible()
    form.get_by_label("共享条件").fill(CONDITION)

    # The items editor: one row is there; add three, fill them, then delete the one added by mistake.
    expect(page.get_by_test_id("item-editor-row")).to_have_count(1)
    _fill_item(_item_row(page, 0), "plate_number", "号牌号码", "C", "16")
    _item_row(page, 0).get_by_label("业务主键").check()
    page.get_by_role("button", name="添加信息项").click()
    expect(page.get_by_test_id("item-editor-row")).to_have_count(2)
    expect(_item_row(page, 1).get_by_label("字段名")).to_be_focused()
    _fill_item(_item_row(page, 1), "temp_note", "临时备注", "M")
    page.get_by_role("button", name="添加信息项").click()
    _fill_item(_item_row(page, 2), "capture_time", "抓拍时间", "T")
    page.get_by_role("button", name="添加信息项").click()
    # A 字符型 item needs a length: the editor asks for it before the form can be sent.
    _fill_item(_item_row(page, 3), "capture_place", "抓拍地点", "C")
    expect(_item_row(page, 3).get_by_label("长度")).to_have_attribute("required", "")
    _item_row(page, 3).get_by_label("长度").fill("200")
    _item_row(page, 3).get_by_label("查询项").check()  # a cloned row: its box posts its own row id
    _item_row(page, 1).get_by_role("button", name="删除").click()
    expect(page.get_by_test_id("item-editor-row")).to_have_count(3)
    assert _column(form, "中文名称") == ["号牌号码", "抓拍时间", "抓拍地点"]

    # Without 共享依据 the browser refuses to send the form and points at the field.
    page.get_by_role("button", name="保存为草稿").click()
    expect(page).to_have_url(f"{live_server}/catalog/new")
    assert basis.evaluate("field => field.validity.valueMissing")

    # A basis without its document and article is refused by the server, next to the field and in
    # the message on top, and everything typed is still there.
    basis.fill("道路交通安全法")
    _press(page, "entry-save")
    expect(page.get_by_test_id("form-error")).to_contain_text("共享依据应写明文件名称（用书名号）和具体条款")
    expect(page.get_by_test_id("field-error-legal_basis")).to_contain_text(
        "《中华人民共和国户口登记条例》第三条"
    )
    expect(basis).to_have_attribute("aria-invalid", "true")
    expect(basis).to_have_value("道路交通安全法")
    expect(form.get_by_label("信息资源名称")).to_have_value(name)
    expect(form.get_by_label("信息资源摘要")).to_have_value(summary)
    expect(form.get_by_label("共享类型")).to_have_value("conditional")
    expect(form.get_by_label("共享条件")).to_have_value(CONDITION)
    expect(form.get_by_label("更新周期")).to_have_value("daily")
    assert _column(form, "字段名") == ["plate_number", "capture_time", "capture_place"]
    assert _column(form, "数据类型") == ["C", "T", "C"]
    assert _column(form, "长度") == ["16", "", "200"]
    expect(_item_row(page, 0).get_by_label("业务主键")).to_be_checked()
    expect(_item_row(page, 2).get_by_label("业务主键")).not_to_be_checked()
    expect(_item_row(page, 2).get_by_label("查询项")).to_be_checked()
    expect(_item_row(page, 0).get_by_label("查询项")).not_to_be_checked()

    form.get_by_label("依据类型").select_option(label="法律")
    basis.fill(LEGAL_BASIS)
    _press(page, "entry-save")
    expect(page).to_have_url(re.compile(rf"{re.escape(live_server)}/catalog/\d+\?done=created$"))
    entry_url = page.url.split("?")[0]
    expect(page.get_by_test_id("notice")).to_contain_text("目录已保存为草稿")
    expect(page.get_by_test_id("entry-name")).to_have_text(name)
    expect(page.locator(".entry-meta").get_by_test_id("entry-status")).to_have_text("草稿")
    items = page.get_by_test_id("item-row")
    expect(items).to_have_count(3)
    expect(items.filter(has_text="plate_number")).to_contain_text("主键")
    expect(items.filter(has_text="capture_place")).to_contain_text("查询项")
    expect(items.filter(has_text="plate_number")).not_to_contain_text("查询项")
    expect(page.get_by_test_id("items")).not_to_contain_text("临时备注")
    expect(page.get_by_test_id("legal-basis")).to_contain_text(LEGAL_BASIS)

    # --- 保密审查, then 报送审核 ----------------------------------------------------------------
    expect(page.get_by_test_id("working-secrecy")).to_contain_text("未登记")
    _record_secrecy(page, "周丽华（安全管理员）")
    _submit(page)
    expect(page.get_by_test_id("entry-edit")).to_have_count(0)

    # --- the Bureau returns it with a comment on 摘要 -------------------------------------------
    switch_user(page, "bureau_reviewer")
    _review(page, name, approve=False, summary_comment="摘要请写明数据的时间范围和更新方式。")

    # --- 公安局 sees why, fixes the summary, records 保密审查 again and resubmits -----------------
    switch_user(page, "police_admin")
    page.goto(entry_url)
    expect(page.locator(".entry-meta").get_by_test_id("entry-status")).to_have_text("已退回")
    expect(page.get_by_test_id("field-comments")).to_contain_text("信息资源摘要")
    expect(page.get_by_test_id("field-comments")).to_contain_text("摘要请写明数据的时间范围和更新方式。")
    expect(page.get_by_test_id("comment-summary")).to_contain_text("摘要请写明数据的时间范围和更新方式。")
    with page.expect_navigation():
        page.get_by_test_id("entry-edit").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"编辑目录：{name}")
    expect(page.get_by_test_id("entry-form").get_by_test_id("comment-summary")).to_contain_text(
        "审核意见：摘要请写明数据的时间范围和更新方式。"
    )
    fixed = summary + "数据自2020年起，每日凌晨增量更新。"
    page.get_by_test_id("entry-form").get_by_label("信息资源摘要").fill(fixed)
    _press(page, "entry-save")
    expect(page.get_by_test_id("notice")).to_contain_text("修改已保存")
    expect(page.get_by_test_id("entry-props")).to_contain_text("数据自2020年起")
    # The content changed after the 保密审查, so it must be recorded again before resubmitting.
    expect(page.get_by_test_id("working-secrecy")).to_contain_text("未登记")
    _record_secrecy(page, "周丽华（安全管理员）")
    _submit(page)

    # --- the Bureau approves -------------------------------------------------------------------
    switch_user(page, "bureau_reviewer")
    _review(page, name, approve=True)

    # --- another department finds it -----------------------------------------------------------
    switch_user(page, "civil_user")
    open_nav(page, "数据目录")
    _search(page, "抓拍")
    expect(_row(page, name).get_by_test_id("entry-status")).to_have_text("已发布")
    _search(page, suffix)
    expect(page.get_by_test_id("result-total")).to_have_text("共 1 条目录")
    row = _row(page, name)
    expect(row).to_contain_text("市公安局")
    expect(row.get_by_test_id("sharing-type")).to_have_text("有条件共享")
    _open_entry(page, name)
    expect(page.get_by_test_id("sharing").get_by_test_id("sharing-type")).to_have_text("有条件共享")
    expect(page.get_by_test_id("legal-basis")).to_contain_text(LEGAL_BASIS)
    expect(page.get_by_test_id("obtain-condition")).to_contain_text(CONDITION)
    expect(page.get_by_test_id("entry-props")).to_contain_text("数据自2020年起")
    expect(page.get_by_test_id("working")).to_have_count(0)
    expect(page.get_by_test_id("entry-edit")).to_have_count(0)


@dataclass(frozen=True)
class Entry:
    id: int
    name: str
    suffix: str


def _police_entry(engine: Engine, name: str, *, publish: bool) -> int:
    """A 部门 entry of 公安局, submitted (and approved when `publish`), made through the services the
    pages call; returns its id."""
    with unit_of_work(engine) as db:
        police, reviewer = actor(db, "police_admin"), actor(db, "bureau_reviewer")
        assert police.org_id is not None
        own_class = classes.department_class(db, police.org_id)
        assert own_class is not None
        resource = service.create_resource(
            db,
            actor=police,
            data=ResourceCreate(
                category=own_class.code,
                name=name,
                summary="城市道路占道施工的许可、期限和施工单位信息。",
                update_cycle=UpdateCycle.weekly,
                items=[
                    Item(name="permit_no", title="许可证号", data_type=DataType.C, length=32, is_key=True),
                    Item(name="road_name", title="道路名称", data_type=DataType.C, length=100),
                ],
            ),
        )
        service.record_secrecy(
            db,
            actor=police,
            resource_id=resource.id,
            data=SecrecyReview(
                reviewer="周丽华（安全管理员）", reviewed_on=today(), conclusion=SecrecyConclusion.passed
            ),
        )
        service.submit(db, actor=police, resource_id=resource.id)
        if publish:
            service.review(
                db, actor=reviewer, resource_id=resource.id, data=ReviewDecision(decision="approve")
            )
        return resource.id


@pytest.fixture
def published(live_engine: Engine) -> Entry:
    suffix = _suffix()
    name = f"占道施工许可信息{suffix}"
    return Entry(_police_entry(live_engine, name, publish=True), name, suffix)


@pytest.fixture
def submitted(live_engine: Engine) -> Entry:
    suffix = _suffix()
    name = f"道路挖掘许可信息{suffix}"
    return Entry(_police_entry(live_engine, name, publish=False), name, suffix)


def test_a_published_entry_changes_through_review_while_others_keep_seeing_the_published_version(
    page: Page, published: Entry
) -> None:
    new_name = f"占道挖掘施工许可信息{published.suffix}"
    login(page, "police_admin")
    page.goto(f"/catalog/{published.id}")
    expect(page.locator(".entry-meta").get_by_test_id("entry-status")).to_have_text("已发布")
    with page.expect_navigation():
        page.get_by_role("link", name="变更目录").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"变更目录：{published.name}")

    form = page.get_by_test_id("entry-form")
    form.get_by_label("信息资源名称").fill(new_name)
    form.get_by_label("更新周期").select_option(label="每日")
    form.get_by_label("变更原因").fill("机构改革后占道挖掘审批职责划入本局，名称和更新周期随之调整。")
    _press(page, "entry-save")
    expect(page.get_by_test_id("notice")).to_contain_text("已形成变更版本")
    expect(page.get_by_test_id("working")).to_contain_text("第 2 版 · 目录变更")
    expect(page.get_by_test_id("working")).to_contain_text("机构改革后占道挖掘审批职责划入本局")
    # Until approval the page shows the published version 1, with the change beside it.
    expect(page.get_by_test_id("entry-name")).to_have_text(published.name)
    expect(page.get_by_test_id("entry-version")).to_have_text("第 1 版")
    _record_secrecy(page, "周丽华（安全管理员）")
    _press(page, "entry-submit")
    expect(page.get_by_test_id("notice")).to_have_text("已报送市数据资源管理局审核。")
    expect(page.get_by_test_id("working-state")).to_have_text("待审核")
    expect(page.locator(".entry-meta").get_by_test_id("entry-status")).to_have_text("已发布")

    # Another department still finds and sees the published version only.
    switch_user(page, "civil_user")
    open_nav(page, "数据目录")
    _search(page, published.suffix)
    expect(page.get_by_test_id("entry-link")).to_have_text([published.name])
    _open_entry(page, published.name)
    expect(page.get_by_test_id("entry-version")).to_have_text("第 1 版")
    expect(page.get_by_test_id("working")).to_have_count(0)
    expect(page.get_by_test_id("entry-props")).to_contain_text("每周")

    switch_user(page, "bureau_reviewer")
    _review(page, new_name, approve=True, changed=("信息资源名称", "更新周期"))

    # Now everyone sees version 2, and the history tells what changed.
    switch_user(page, "civil_user")
    open_nav(page, "数据目录")
    _search(page, published.suffix)
    expect(page.get_by_test_id("entry-link")).to_have_text([new_name])
    _open_entry(page, new_name)
    expect(page.get_by_test_id("entry-version")).to_have_text("第 2 版")
    versions = page.get_by_test_id("versions")
    expect(versions.get_by_test_id("version-row")).to_have_count(2)
    diff = versions.get_by_test_id("diff-form")
    expect(diff.get_by_label("从")).to_have_value("1")
    expect(diff.get_by_label("到")).to_have_value("2")
    with page.expect_navigation():
        diff.get_by_role("button", name="比较").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("版本比较：第 1 版 → 第 2 版")
    rows = page.get_by_test_id("diff-row")
    name_row = rows.filter(has_text="信息资源名称")
    expect(name_row.locator("td.before")).to_have_text(published.name)
    expect(name_row.locator("td.after")).to_have_text(new_name)
    cycle_row = rows.filter(has_text="更新周期")
    expect(cycle_row.locator("td.before")).to_have_text("每周")
    expect(cycle_row.locator("td.after")).to_have_text("每日")
    expect(rows.filter(has_text="信息资源摘要")).to_have_count(0)


def test_the_catalog_search_is_labelled_and_its_facets_are_links_a_keyboard_reaches(
    page: Page, live_server: str
) -> None:
    login(page, "civil_user")
    open_nav(page, "数据目录")

    search = page.get_by_role("search")
    box = search.get_by_role("searchbox", name="关键词")
    expect(box).to_be_visible()
    box.focus()
    page.keyboard.type("人口")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/catalog?q=%E4%BA%BA%E5%8F%A3")
    expect(box).to_have_value("人口")
    expect(page.get_by_test_id("entry-link").filter(has_text=re.compile("^人口基础信息$"))).to_have_count(1)

    facets = page.get_by_role("complementary", name="筛选")
    sharing = facets.get_by_test_id("facet-sharing_type")
    options = sharing.get_by_role("link")
    expect(options.first).to_be_visible()
    assert all(
        href and href.startswith("/catalog?")
        for href in options.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    )
    unconditional = sharing.get_by_role("link", name=re.compile("^无条件共享"))
    # Tab from the search box until the facet link has the focus, then follow it with Enter.
    unconditional_href = unconditional.get_attribute("href")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == unconditional_href:
            break
    expect(unconditional).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]sharing_type=unconditional(&|$)"))
    expect(page).to_have_url(re.compile(r"[?&]q=%E4%BA%BA%E5%8F%A3(&|$)"))
    chosen = page.get_by_test_id("facet-sharing_type").locator("a[aria-current=true]")
    expect(chosen).to_contain_text("无条件共享")
    expect(page.get_by_test_id("facet-sharing_type").get_by_role("link", name="全部")).to_be_visible()
    expect(page.get_by_test_id("sharing-type")).not_to_have_count(0)
    for tag in page.get_by_test_id("catalog-row").get_by_test_id("sharing-type").all_inner_texts():
        assert tag == "无条件共享"


def test_the_bureau_sees_the_review_queue_with_ages_and_the_supervision_chart(
    page: Page, submitted: Entry
) -> None:
    login(page, "bureau_reviewer")
    open_nav(page, "目录审核")
    expect(page.get_by_role("heading", level=1)).to_have_text("目录审核")
    rows = page.get_by_test_id("queue-row")
    row = rows.filter(has=page.get_by_role("link", name=submitted.name, exact=True))
    expect(row).to_contain_text("市公安局")
    expect(row).to_contain_text("新编目录")
    expect(row.get_by_test_id("queue-age")).to_have_text(re.compile(r"^0 个工作日"))
    # Every waiting entry shows its age, oldest first.
    ages = [int(text.split()[0]) for text in rows.get_by_test_id("queue-age").all_inner_texts()]
    assert ages and ages == sorted(ages, reverse=True), ages

    open_nav(page, "目录监督")
    expect(page.get_by_role("heading", level=1)).to_have_text("目录监督")
    police = page.get_by_test_id("supervision-row").filter(has_text="石家庄市公安局")
    expect(police).to_have_count(1)
    pending = police.get_by_role("link", name=re.compile(r"^\d+$")).nth(2)
    expect(pending).to_have_attribute("href", re.compile(r"status=submitted"))
    assert int(pending.inner_text()) >= 1  # at least the entry submitted for this test

    # The vendored ECharts drew the chart onto a canvas, with a bar per department.
    chart = page.get_by_test_id("chart")
    canvas = chart.locator("canvas")
    expect(canvas).to_have_count(1)
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200, box
    departments = chart.evaluate("el => window.echarts.getInstanceByDom(el).getOption().yAxis[0].data")
    assert "公安局" in departments, departments
    painted = canvas.evaluate(
        """c => {
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) painted++; }
            return painted;
        }"""
    )
    assert painted > 1000, painted
