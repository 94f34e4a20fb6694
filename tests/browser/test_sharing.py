"""Sharing in a real browser: a business user of 民政局 requests 机动车登记信息 (有条件共享) through the
form on the resource page and sees it pending with its reply deadline in 我的申请; the public security
bureau's approver finds it in 待我审批 with the working days left and approves it; the business user
then holds the active grant under 共享授权.

The live server's database is shared by a worker's browser tests and never rolled back: the request
carries a unique purpose, and every assertion looks for that purpose.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from govshare.catalog.models import Resource
from govshare.db import unit_of_work
from tests.browser.ui import login, open_nav, switch_user

pytestmark = pytest.mark.browser


def _cars(live_engine: Engine) -> int:
    with unit_of_work(live_engine) as db:
        resource_id = db.scalar(select(Resource.id).where(Resource.name == "机动车登记信息"))
    assert resource_id is not None
    return resource_id


def test_a_conditional_request_is_filed_approved_and_the_grant_held(page: Page, live_engine: Engine) -> None:
    purpose = f"困难群众车辆核查 {uuid.uuid4().hex[:6]}"
    login(page, "civil_user")
    page.goto(f"/catalog/{_cars(live_engine)}")
    with page.expect_navigation():
        page.get_by_test_id("request-button").click()
    form = page.get_by_test_id("request-form")
    for item in ("plate_number", "name", "vehicle_type"):
        form.locator(f"input[name=items][value={item}]").check()
    form.locator("[name=purpose]").fill(purpose)
    form.locator("[name=basis]").fill("《社会救助暂行办法》第十一条")
    form.locator("[name=scope_of_use]").fill("社会救助科内部核查")
    form.locator("[name=duration_days]").fill("180")
    with page.expect_navigation():
        form.get_by_test_id("request-submit").click()
    expect(page.get_by_test_id("notice")).to_contain_text("共享申请已提交")
    expect(page.get_by_test_id("request-status")).to_have_text("待审批")
    expect(page.get_by_test_id("due-date")).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2}$"))

    open_nav(page, "数据共享")  # a business user lands on 我的申请
    mine = page.get_by_test_id("request-row").filter(has_text=purpose)
    expect(mine.get_by_test_id("request-status")).to_have_text("待审批")
    expect(mine.get_by_test_id("due-left")).to_contain_text("个工作日")

    switch_user(page, "police_approver")
    open_nav(page, "数据共享")  # an approver lands on 待我审批
    expect(page.get_by_role("heading", level=1)).to_have_text("待我审批")
    row = page.get_by_test_id("inbox-row").filter(has_text=purpose)
    expect(row).to_contain_text("民政局")
    expect(row.get_by_test_id("due-left")).to_have_text(re.compile(r"^(剩余 \d+ 个工作日|今日到期)$"))
    with page.expect_navigation():
        row.get_by_test_id("inbox-open").click()
    decision = page.get_by_test_id("decision-form")
    expect(decision.locator("input[name=items][value=plate_number]")).to_be_checked()
    decision.get_by_test_id("decision-approve").check()
    decision.locator("[name=reason]").fill("符合履职需要，同意共享")
    with page.expect_navigation():
        decision.get_by_test_id("decision-submit").click()
    expect(page.get_by_test_id("notice")).to_contain_text("答复已提交")
    expect(page.get_by_test_id("request-status")).to_have_text("已同意")

    switch_user(page, "civil_user")
    open_nav(page, "数据共享")
    with page.expect_navigation():
        page.get_by_test_id("sharing-tabs").get_by_role("link", name="共享授权").click()
    grant = page.get_by_test_id("grant-row").filter(has_text=purpose)
    expect(grant.get_by_test_id("grant-status")).to_have_text("有效")
    expect(grant.get_by_test_id("grant-items")).to_contain_text("号牌号码（plate_number）")
    expect(grant).to_contain_text("公安局")
