"""The Bureau's supervision dashboard and the public report in a real browser: the charts draw, a
click on a department opens the records behind its figures, a report is published with confirmation
and read, and downloaded, by anyone without logging in.

The live server's database is shared by a worker's browser tests: this test is the only one that
publishes a report (last month's)."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect
from pypdf import PdfReader

from govshare.supervision.periods import Period
from tests.browser.ui import login, open_nav

pytestmark = pytest.mark.browser


def _click_axis_label(page: Page, chart_testid: str, label: str) -> None:
    """Click the category-axis label `label` of an ECharts bar chart (its drill-down link)."""
    box = page.get_by_test_id(chart_testid).bounding_box()
    assert box is not None
    y = page.evaluate(
        """([testid, label]) => {
            const el = document.querySelector(`[data-testid="${testid}"]`);
            return window.echarts.getInstanceByDom(el).convertToPixel({yAxisIndex: 0}, label);
        }""",
        [chart_testid, label],
    )
    page.mouse.click(box["x"] + 100, box["y"] + y)


def test_the_dashboard_draws_drills_down_and_publishes_a_public_report(
    page: Page, browser: Browser, live_server: str
) -> None:
    login(page, "bureau_admin")
    open_nav(page, "共享监督")
    expect(page.get_by_role("heading", name="共享工作监督")).to_be_visible()
    for chart in ("chart-rates", "chart-trend", "chart-use"):
        expect(page.get_by_test_id(chart).locator("canvas")).to_have_count(1)
    departments = page.get_by_test_id("indicator-row").count()
    assert departments > 10
    expect(page.get_by_test_id("indicator-total")).to_contain_text("全市合计")

    with page.expect_navigation(url=re.compile(r"/supervision/departments/\d+")):
        _click_axis_label(page, "chart-rates", "市公安局")
    expect(page.get_by_test_id("department-name")).to_contain_text("公安局")
    expect(page.get_by_test_id("catalog-row").first).to_be_visible()
    page.get_by_test_id("period-select").select_option(Period.parse(None).previous().code)
    expect(page.get_by_test_id("department-name")).to_contain_text(Period.parse(None).previous().label)

    page.goto(f"{live_server}/supervision")
    previous = Period.parse(None).previous()
    card = page.get_by_test_id("publish-card")
    card.get_by_test_id("publish-period").select_option(previous.code)
    questions: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    card.get_by_test_id("publish").click()
    assert questions and "不能修改" in questions[0]
    expect(page).to_have_url(re.compile(r"/supervision$"))  # cancelled: still here

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation(url=re.compile(r"/open/reports/\d+$")):
        card.get_by_test_id("publish").click()
    title = f"石家庄市政务数据共享情况月度公示（{previous.label}）"
    expect(page.get_by_test_id("report-title")).to_have_text(title)
    report_url = page.url

    anonymous = browser.new_context(base_url=live_server)
    public = anonymous.new_page()
    try:
        public.goto("/open/reports")
        expect(public.get_by_test_id("current-user")).to_have_count(0)
        row = public.get_by_test_id("report-row").filter(has_text=title)
        expect(row).to_have_count(1)
        with public.expect_navigation():
            row.get_by_role("link", name=title).click()
        assert public.url == report_url
        expect(public.get_by_test_id("report-row")).to_have_count(departments)
        with public.expect_download() as download:
            public.get_by_test_id("download-pdf").click()
        data = download.value.path().read_bytes()
        text = re.sub(r"[\s\x00]+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))
        assert title in text and "全市总体情况" in text
    finally:
        anonymous.close()
