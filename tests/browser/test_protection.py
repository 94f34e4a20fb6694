"""The Bureau records an incident and suspends a business system from its page in a real browser:
the confirmation really guards the button, and lifting the measure restores the system.

The live server's database is shared by a worker's browser tests and never rolled back: this test
suspends `qiaoxi-service` (桥西区), a system no other browser test uses, and lifts the suspension.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.ui import login, open_nav

pytestmark = pytest.mark.browser


def test_the_bureau_contains_an_incident_with_confirmation_and_lifts_it(page: Page) -> None:
    login(page, "bureau_admin")
    open_nav(page, "安全事件")
    with page.expect_navigation():
        page.get_by_test_id("new-incident").click()
    form = page.get_by_test_id("incident-form")
    form.get_by_label("事件名称").fill("桥西区政务服务系统疑似令牌泄露")
    form.get_by_label("事件级别").select_option("larger")
    form.get_by_label("事件描述").fill("夜间出现来自非常用地址的调用")
    with page.expect_navigation():
        form.get_by_role("button", name="登记").click()
    expect(page.get_by_test_id("notice")).to_contain_text("安全事件已登记")

    suspend = page.get_by_test_id("contain-system")
    suspend.get_by_label("系统编码").fill("qiaoxi-service")
    suspend.get_by_label("理由").fill("调查期间暂停")
    questions: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    suspend.get_by_role("button", name="暂停系统").click()
    expect(page.get_by_test_id("containment-row")).to_have_count(0)  # cancelled: nothing happened
    assert questions and "暂停该业务系统" in questions[0]

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        suspend.get_by_role("button", name="暂停系统").click()
    row = page.get_by_test_id("containment-row")
    expect(row).to_have_attribute("data-status", "active")
    expect(row).to_contain_text("qiaoxi-service")

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        row.get_by_test_id("lift").click()
    expect(page.get_by_test_id("notice")).to_contain_text("已恢复原状态")
    expect(page.get_by_test_id("containment-row")).to_have_attribute("data-status", "lifted")
    expect(page.get_by_test_id("timeline-row")).to_have_count(3)
