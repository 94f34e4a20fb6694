"""The supervision pages: the dashboard (whole city or one's own department), the drill-down to the
records behind each figure, and publishing a report from the dashboard."""

from __future__ import annotations

import json
import re

from govshare.supervision.periods import Period
from tests.helpers import login, org
from tests.sharing.test_requests import ask, resource
from tests.sharing.test_rows import granted, loaded, rows
from tests.ui import browser, text, texts


def chart(page: str, chart_id: str) -> dict:  # type: ignore[type-arg]
    found = re.search(rf'<script type="application/json" id="{chart_id}">(.*?)</script>', page, re.S)
    assert found is not None, chart_id
    return dict(json.loads(found.group(1)))


def test_the_bureau_sees_every_department_with_charts_and_drills_down(app, client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population)
    assert rows(client, population, login(client, "civil_user"), limit=2).status_code == 200
    ask(client, login(client, "civil_user"), resource(db, "机动车登记信息"))
    bureau = browser(app, "bureau_reviewer")
    page = bureau.get("/supervision")
    assert page.status_code == 200
    departments = texts(page.text, "indicator-row")
    assert len(departments) > 10 and text(page.text, "indicator-total").startswith("全市合计")
    rates = chart(page.text, "chart-rates")
    assert [s["name"] for s in rates["series"]] == ["挂接率", "按时更新率", "按时答复率"]
    assert len(rates["yAxis"]["data"]) == len(departments)
    links = json.loads(re.search(r'id="chart-rates-links">(.*?)</script>', page.text).group(1))  # type: ignore[union-attr]
    police = org(db, "police")
    assert (
        links[police.short_name] == f"/supervision/departments/{police.id}?period={Period.parse(None).code}"
    )
    use = chart(page.text, "chart-use")
    assert police.short_name in use["yAxis"]["data"]
    trend = chart(page.text, "chart-trend")
    assert len(trend["xAxis"]["data"]) == 12

    cells = texts(page.text, "rectification-cell")  # violations and notices (M24) beside the figures
    assert len(cells) == len(departments) and all(c.startswith("待处理违规") for c in cells)
    assert any("已上报" in c for c in cells) and any("整改中" in c or "已上报" in c for c in cells)

    drill = bureau.get(f"/supervision/departments/{police.id}")
    assert drill.status_code == 200
    catalog = {row.split("库表")[0][10:]: row.split("库表")[-1] for row in texts(drill.text, "catalog-row")}
    assert catalog["人口基础信息"] == "是是" and catalog["户籍迁移信息"] == "是否"  # published; attached
    assert texts(drill.text, "batch-row") and texts(drill.text, "use-row")
    assert "民政局" in texts(drill.text, "use-row")[0]


def test_a_department_sees_only_itself(app, city, db) -> None:
    police_admin = browser(app, "police_admin")
    page = police_admin.get("/supervision")
    assert page.status_code == 200
    assert len(texts(page.text, "indicator-row")) == 1 and "publish-card" not in page.text
    assert len(texts(page.text, "rectification-cell")) == 1
    assert police_admin.get(f"/supervision/departments/{org(db, 'police').id}").status_code == 200
    assert police_admin.get(f"/supervision/departments/{org(db, 'civil').id}").status_code == 404
    assert browser(app, "civil_user").get("/supervision").status_code == 403


def test_a_bad_period_is_explained_and_the_page_still_works(app, city) -> None:
    page = browser(app, "bureau_admin").get("/supervision?period=2026-99")
    assert page.status_code == 400 and "统计期应写成" in text(page.text, "error")
    assert texts(page.text, "indicator-row")


def test_the_bureau_admin_publishes_a_finished_period_from_the_dashboard(app, city) -> None:
    admin = browser(app, "bureau_admin")
    page = admin.get("/supervision")
    offered = re.findall(r'<option value="([^"]+)">', page.text.split('data-testid="publish-period"')[1])
    previous = Period.parse(None).previous().code
    assert previous in offered and Period.parse(None).code not in offered
    published = admin.post("/supervision/reports", {"period": previous})
    assert published.status_code == 303 and published.headers["location"].startswith("/open/reports/")
    again = admin.get("/supervision")
    assert previous not in re.findall(
        r'<option value="([^"]+)">', again.text.split('data-testid="publish-period"')[1]
    )
    report = admin.get(published.headers["location"])
    assert report.status_code == 200 and "月度公示" in text(report.text, "report-title")
    refused = browser(app, "bureau_reviewer").post("/supervision/reports", {"period": previous})
    assert refused.status_code == 403
