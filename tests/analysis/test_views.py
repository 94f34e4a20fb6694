"""The analysis pages: workspace with the granted schema, a refused and an accepted query, release
by form, derived dataset with lineage, the auditors' view."""

from __future__ import annotations

from tests.analysis.helpers import granted, loaded
from tests.sharing.test_requests import PURPOSE
from tests.ui import browser, text, texts


def test_an_analyst_queries_sees_checks_releases_and_an_auditor_traces_it(app, client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["gender", "birth_date", "region_code"])
    user = browser(app, "civil_user")
    page = user.get("/analysis").text
    assert f'data-table="r{population.id}"' in page and "出生日期" in page and PURPOSE in page

    refused = user.post("/analysis", {"sql": f"DELETE FROM r{population.id}", "purpose": PURPOSE})
    assert refused.status_code == 422 and "SELECT" in text(refused.text, "analysis-error")
    assert f"DELETE FROM r{population.id}" in refused.text  # the analyst's text stays

    leaky = user.post(
        "/analysis",
        {"sql": f"SELECT gender, birth_date, region_code FROM r{population.id}", "purpose": PURPOSE},
    )
    assert leaky.status_code == 303
    shown = user.get(leaky.headers["location"]).text
    assert texts(shown, "analysis-not-releasable") and "k-匿名" in shown
    query_id = leaky.headers["location"].split("=")[-1]
    blocked = user.post(f"/analysis/queries/{query_id}/release", {"kind": "csv"})
    assert blocked.status_code == 409 and "风险评估" in text(blocked.text, "analysis-error")

    ok = user.post(
        "/analysis",
        {"sql": f"SELECT gender, COUNT(*) AS n FROM r{population.id} GROUP BY gender", "purpose": PURPOSE},
    )
    good_id = ok.headers["location"].split("=")[-1]
    assert texts(user.get(ok.headers["location"]).text, "analysis-releasable")
    csv = user.post(f"/analysis/queries/{good_id}/release", {"kind": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.content.decode("utf-8-sig").splitlines()[0] == "gender,n"
    saved = user.post(f"/analysis/queries/{good_id}/release", {"kind": "derived", "name": "性别分布"})
    assert saved.status_code == 303
    derived = user.get(saved.headers["location"]).text
    assert text(derived, "derived-name") == "性别分布" and "不能共享给其他单位" in derived
    assert f"r{population.id}" in text(derived, "derived-lineage")
    assert "性别分布" in user.get("/analysis/derived").text

    assert browser(app, "hrss_user").get(saved.headers["location"]).status_code == 404
    auditor = browser(app, "bureau_auditor")
    audit = auditor.get("/analysis/audit").text
    assert f"DELETE FROM r{population.id}" in audit and len(texts(audit, "audit-releases")) == 1
    detail = auditor.get(f"/analysis/queries/{good_id}").text
    assert "数据来源" in detail and f"r{population.id}" in detail
    assert browser(app, "civil_user").get("/analysis/audit").status_code == 403
