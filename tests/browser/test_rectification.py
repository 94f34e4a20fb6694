"""The Bureau issues a rectification notice, the department's data administrator reports with an
attachment, and the Bureau verifies it, in a real browser, each step behind its confirmation.

The live server's database is shared by a worker's browser tests and never rolled back: this test
works on 石家庄市交通运输局 (transport), which no other browser test uses, and on a violation it enters
itself.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.ui import login, open_nav, switch_user

pytestmark = pytest.mark.browser


def test_notice_report_and_verification(page: Page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    login(page, "bureau_admin")
    open_nav(page, "违规与整改")
    with page.expect_navigation():
        page.get_by_test_id("violation-new").click()
    form = page.get_by_test_id("violation-form")
    form.get_by_label("部门（必填）").select_option(label="石家庄市交通运输局")
    form.get_by_label("违规情形（必填）").fill("未按规定时限报送本单位政务数据共享年度自查报告")
    with page.expect_navigation():
        form.get_by_role("button", name="登记").click()
    expect(page.get_by_test_id("notice")).to_contain_text("违规情形已登记")

    with page.expect_navigation():
        page.get_by_test_id("violation-issue").click()
    notice_form = page.get_by_test_id("notice-form")
    expect(notice_form.get_by_test_id("notice-violation")).to_be_checked()
    notice_form.get_by_test_id("notice-requirement").fill("请于期限内补报年度自查报告，并说明逾期原因。")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        notice_form.get_by_test_id("notice-submit").click()
    expect(page.get_by_test_id("notice")).to_contain_text("整改通知已下发")
    expect(page.get_by_test_id("notice-status")).to_have_text("待整改")
    url = page.url.split("?")[0]

    switch_user(page, "transport_admin")
    expect(page.get_by_text("请于")).not_to_have_count(0)  # the task is on the workbench
    page.goto(url)
    attachment = tmp_path / "整改说明.txt"
    attachment.write_text("已补报年度自查报告。", encoding="utf-8")
    report = page.get_by_test_id("report-form")
    report.get_by_test_id("report-text").fill("已补报年度自查报告，并建立按季度报送的工作机制。")
    report.get_by_test_id("report-file").set_input_files(str(attachment))
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        report.get_by_test_id("report-submit").click()
    expect(page.get_by_test_id("notice")).to_contain_text("整改报告已报送")
    expect(page.get_by_test_id("report-attachment")).to_have_text("整改说明.txt")

    switch_user(page, "bureau_admin")
    page.goto(url)
    verify = page.get_by_test_id("verify-form")
    verify.get_by_test_id("verify-opinion").fill("经核查，已补报，整改到位。")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        verify.get_by_test_id("verify-submit").click()
    expect(page.get_by_test_id("notice-status")).to_have_text("已核验")
    expect(page.get_by_test_id("notice-timeline").locator("li")).to_have_count(3)
