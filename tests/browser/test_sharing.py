"""Sharing in a real browser: a business user of 民政局 requests 机动车登记信息 (有条件共享) through the
form on the resource page and sees it pending with its reply deadline in 我的申请; the public security
bureau's approver finds it in 待我审批 with the working days left and approves it; the business user
then holds the active grant under 共享授权, opens it and queries the data: the rows the provider
pushed arrive masked (no valid ID number in the table), each with its 报告异议 link.

The live server's database is shared by a worker's browser tests and never rolled back: the request
carries a unique purpose, and every assertion looks for that purpose.
"""

from __future__ import annotations

import re
import uuid

import httpx2
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from govshare.catalog.models import Resource
from govshare.db import unit_of_work
from govshare.identifiers import id_number_check_char, id_number_valid
from tests.browser.test_provision import _token
from tests.browser.ui import login, open_nav, switch_user

pytestmark = pytest.mark.browser


def _cars(live_engine: Engine) -> int:
    with unit_of_work(live_engine) as db:
        resource_id = db.scalar(select(Resource.id).where(Resource.name == "机动车登记信息"))
    assert resource_id is not None
    return resource_id


def _push_cars(live_server: str, resource_id: int) -> list[str]:
    """Three vehicles of 公安局, pushed through the data API; returns their owners' ID numbers."""
    seed = uuid.uuid4().int % 1000
    owners = []
    lines = ["plate_number,name,id_number,mobile,vehicle_type,first_registered_on,region_code"]
    for n in range(3):
        body = f"1301021980{n + 1:02d}15{(seed + n) % 1000:03d}"
        owners.append(body + id_number_check_char(body))
        lines.append(
            f"冀A{seed:03d}{n:02d},车主{n},{owners[-1]},1391234{seed:03d}{n},小型汽车,2020-05-0{n + 1},130102"
        )
    pushed = httpx2.post(
        f"{live_server}/api/v1/resources/{resource_id}/batches",
        content=("\n".join(lines) + "\n").encode(),
        headers={
            "Authorization": f"Bearer {_token(live_server, 'police_admin')}",
            "Content-Type": "text/csv",
        },
    )
    assert pushed.status_code == 201 and pushed.json()["accepted"] == 3, pushed.text
    return owners


def test_a_conditional_request_is_filed_approved_and_the_grant_held(
    page: Page, live_server: str, live_engine: Engine
) -> None:
    purpose = f"困难群众车辆核查 {uuid.uuid4().hex[:6]}"
    owners = _push_cars(live_server, _cars(live_engine))
    login(page, "civil_user")
    page.goto(f"/catalog/{_cars(live_engine)}")
    with page.expect_navigation():
        page.get_by_test_id("request-button").click()
    form = page.get_by_test_id("request-form")
    for item in ("plate_number", "name", "id_number", "vehicle_type"):
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

    # The query step: the held grant's data, masked.
    with page.expect_navigation():
        grant.get_by_test_id("grant-open").click()
    with page.expect_navigation():
        page.get_by_test_id("grant-query").click()
    expect(page.get_by_test_id("data-heading")).to_contain_text("机动车登记信息")
    table = page.get_by_test_id("data-rows")
    expect(table.get_by_test_id("data-column").first).to_have_text("号牌号码")
    expect(table.get_by_test_id("data-row").first).to_be_visible()
    assert table.get_by_test_id("data-row").count() >= len(owners)
    cells = table.locator("td").all_inner_texts()
    assert not any(id_number_valid(cell.strip()) for cell in cells)
    assert not set(owners) & {cell.strip() for cell in cells}
    expect(table.get_by_test_id("data-report").first).to_have_text("报告异议")
