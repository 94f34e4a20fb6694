"""The open-data portal in a real browser: an anonymous visitor opens /open, searches, opens a
resource, sees its masked preview, downloads the CSV (masked) and files an application for a
conditionally open resource; the Bureau's reviewer logs in and approves it.

The live server's database is shared by a worker's browser tests and never rolled back; this test
uses the market regulator's 企业登记信息 and 特种设备登记信息, which no other browser test touches.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import httpx2
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from govshare.catalog.models import Resource
from govshare.db import unit_of_work
from govshare.demo.city import DEMO_PASSWORD
from govshare.demo.data import rows_for
from govshare.identifiers import credit_code_check_char
from govshare.workdays import today
from tests.browser.ui import login, open_nav

pytestmark = pytest.mark.browser


def _push(live_server: str, live_engine: Engine, name: str, n: int) -> tuple[int, list[dict[str, str]]]:
    with unit_of_work(live_engine) as db:
        resource_id = db.scalar(select(Resource.id).where(Resource.name == name))
    assert resource_id is not None
    rows = list(rows_for(name, n, population=50))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    token = httpx2.post(
        f"{live_server}/api/v1/auth/login", json={"username": "market_admin", "password": DEMO_PASSWORD}
    ).json()["access_token"]
    pushed = httpx2.post(
        f"{live_server}/api/v1/resources/{resource_id}/batches",
        content=out.getvalue().encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    assert pushed.status_code == 201, pushed.text
    return resource_id, rows


def test_anonymous_visitor_browses_downloads_masked_and_applies_then_the_bureau_approves(
    page: Page, live_server: str, live_engine: Engine
) -> None:
    _enterprises, rows = _push(live_server, live_engine, "企业登记信息", 6)
    equipment, _ = _push(live_server, live_engine, "特种设备登记信息", 3)
    people = {r["legal_representative"] for r in rows}

    page.goto("/open")
    expect(page.locator("nav.sidebar")).to_have_count(0)  # no login, no navigation
    expect(page.get_by_test_id("open-counts")).to_contain_text("个开放资源")
    expect(page.get_by_role("link", name="查看政务数据共享开放情况公示报告 →")).to_have_attribute(
        "href", "/open/reports"
    )
    page.get_by_test_id("open-search").get_by_label("搜索开放数据").fill("企业登记")
    with page.expect_navigation():
        page.get_by_test_id("open-search").get_by_role("button", name="搜索").click()
    expect(page.get_by_test_id("open-row")).to_have_count(1)
    with page.expect_navigation():
        page.get_by_role("link", name="企业登记信息").click()
    expect(page.get_by_test_id("open-title")).to_have_text("企业登记信息")
    expect(page.get_by_test_id("open-provider")).to_have_text("石家庄市市场监督管理局")
    preview = page.get_by_test_id("open-preview")
    expect(preview.locator("tbody tr")).to_have_count(5)
    shown = preview.inner_text()
    assert not any(name in shown for name in people)  # 法定代表人 pseudonymised
    assert any(r["credit_code"] in shown for r in rows)  # 统一社会信用代码 opened as it is
    with page.expect_download() as download_info:
        page.get_by_test_id("download-csv").click()
    content = open(download_info.value.path(), encoding="utf-8-sig").read()  # noqa: PTH123, SIM115
    downloaded = list(csv.DictReader(io.StringIO(content)))
    assert len(downloaded) == 6 and not any(name in content for name in people)
    assert {r["credit_code"] for r in downloaded} == {r["credit_code"] for r in rows}

    # A conditionally open resource takes an application (M8).
    page.goto(f"/open/resources/{equipment}")
    expect(page.get_by_test_id("open-type")).to_have_text("有条件开放")
    form = page.get_by_test_id("apply-form")
    form.get_by_role("radio", name="企业").check()
    form.get_by_label("申请人姓名").fill("赵工程师")
    form.get_by_label("单位名称（企业、其他单位填写）").fill("石家庄特检科技有限公司")
    code17 = "91130100MA0BRW7X1"
    form.get_by_label("统一社会信用代码（企业必填）").fill(code17 + credit_code_check_char(code17))
    form.get_by_label("联系电话").fill("13800001111")
    form.get_by_role("textbox", name="用途").fill("编制辖区特种设备定期检验计划。")
    form.get_by_label("使用期限至").fill((today() + timedelta(days=60)).isoformat())
    with page.expect_navigation():
        page.get_by_test_id("apply-submit").click()
    number = page.get_by_test_id("application-number").inner_text().strip()
    assert re.fullmatch(r"KF\d{14}", number)
    expect(page.get_by_test_id("application-code")).not_to_be_empty()

    # The Bureau's reviewer approves it from the 开放申请 inbox.
    login(page, "bureau_reviewer")
    open_nav(page, "开放申请")
    with page.expect_navigation():
        page.get_by_role("link", name=number).click()
    expect(page.get_by_test_id("application-status")).to_have_text("待审批")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_test_id("approve-submit").click()
    expect(page.get_by_test_id("notice")).to_have_text("已批准该申请。")
    expect(page.get_by_test_id("application-status")).to_have_text("已批准")
