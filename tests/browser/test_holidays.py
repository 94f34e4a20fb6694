"""The Bureau loads a year's holiday schedule in a real browser: upload, confirmation, the year's grids.

The live server's database is shared by a worker's browser tests and never rolled back: this test loads
2031, a year no other test looks at (test data, not a State Council schedule).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.ui import login, open_nav

pytestmark = pytest.mark.browser

SCHEDULE_2031 = """日期,类型,名称
2031-01-01,放假,元旦
2031-05-01,放假,劳动节
2031-05-02,放假,劳动节
2031-05-03,放假,劳动节
2031-05-04,放假,劳动节
2031-05-05,放假,劳动节
2031-04-27,上班,劳动节
2031-10-01,放假,国庆节
2031-10-02,放假,国庆节
2031-10-03,放假,国庆节
"""


def test_the_bureau_uploads_confirms_and_sees_the_year(page: Page, tmp_path: Path) -> None:
    login(page, "bureau_admin")
    open_nav(page, "节假日安排")
    csv_file = tmp_path / "2031.csv"
    csv_file.write_text(SCHEDULE_2031, encoding="utf-8")
    form = page.get_by_test_id("upload-form")
    form.get_by_label("年份").fill("2031")
    form.get_by_label("依据（国务院办公厅通知文号）").fill("国办发明电〔2030〕1号（测试）")
    form.locator('input[type="file"]').set_input_files(str(csv_file))
    form.get_by_test_id("upload-submit").click()

    expect(page.get_by_test_id("preview-source")).to_have_text("国办发明电〔2030〕1号（测试）")
    expect(page.get_by_test_id("change-row")).to_have_count(4)  # 5-03…5-05 off, Sun 4-27 worked
    page.get_by_test_id("confirm-submit").click()

    expect(page.get_by_test_id("notice")).to_contain_text("节假日安排已加载")
    expect(page).to_have_url("/admin/holidays/2031?done=loaded")
    expect(page.get_by_test_id("month")).to_have_count(12)
    expect(page.get_by_test_id("day-2031-04-27")).to_have_class("day workday")
    expect(page.get_by_test_id("day-2031-05-05")).to_have_class("day holiday")
    expect(page.get_by_test_id("special-day")).to_have_count(10)
    expect(page.get_by_test_id("provisional-label")).to_have_count(0)
