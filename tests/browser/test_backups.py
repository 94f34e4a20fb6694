"""The Bureau sets the backup policy and asks for a backup now in a real browser; the request is
guarded by a confirmation. (The live server's jobs do not run in tests: the request stays queued.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.ui import login, open_nav

pytestmark = pytest.mark.browser


def test_the_bureau_sets_the_policy_and_requests_a_backup(page: Page) -> None:
    login(page, "bureau_admin")
    open_nav(page, "备份与恢复")
    form = page.get_by_test_id("policy-form")
    form.get_by_label("备份间隔（小时）").fill("0")
    with page.expect_navigation():
        form.get_by_role("button", name="保存策略").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("备份间隔应在 1 小时到 31 天之间")
    form = page.get_by_test_id("policy-form")
    form.get_by_label("备份间隔（小时）").fill("6")
    form.get_by_label("备份范围").select_option("database")
    with page.expect_navigation():
        form.get_by_role("button", name="保存策略").click()
    expect(page.get_by_test_id("notice")).to_contain_text("备份策略已保存")
    expect(page.get_by_test_id("policy-form").get_by_label("备份间隔（小时）")).to_have_value("6")

    questions: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_test_id("request-form").get_by_role("button", name="立即备份").click()
    expect(page.get_by_test_id("requested")).to_have_count(0)  # cancelled: nothing was asked
    assert questions and "确定立即备份吗" in questions[0]
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_test_id("request-form").get_by_role("button", name="立即备份").click()
    expect(page.get_by_test_id("notice")).to_contain_text("已提交立即备份")
    expect(page.get_by_test_id("requested")).to_be_visible()
