"""Analysis in a real browser: a business user of 人力资源和社会保障局 holds a grant for 户籍迁移信息
(pushed here through the data API), writes a query beside the granted schema, sees the identifier
check fail in red, generalises to an aggregate whose checks pass in green, exports the CSV and
saves the result as a derived dataset whose lineage page names the source table.

The live server's database is shared by a worker's browser tests and never rolled back: the grant
carries a unique purpose; no other browser test touches 户籍迁移信息 or the 人社局 user."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from govshare.catalog.models import Resource
from govshare.db import unit_of_work
from govshare.identifiers import id_number_check_char
from tests.browser.test_provision import _token
from tests.browser.ui import login, open_nav

pytestmark = pytest.mark.browser


def _migrations(live_server: str, live_engine: Engine) -> int:
    with unit_of_work(live_engine) as db:
        resource_id = db.scalar(select(Resource.id).where(Resource.name == "户籍迁移信息"))
    assert resource_id is not None
    seed = uuid.uuid4().int % 1000
    lines = ["id_number,name,region_code,started_on,description"]
    for n in range(24):
        region = "130102" if n % 2 else "130104"
        body = f"{region}1970{n % 12 + 1:02d}{n + 1:02d}{seed:03d}"
        lines.append(f"{body + id_number_check_char(body)},迁移人{n},{region},2026-0{n % 9 + 1}-01,市内迁移")
    pushed = httpx2.post(
        f"{live_server}/api/v1/resources/{resource_id}/batches",
        content=("\n".join(lines) + "\n").encode(),
        headers={
            "Authorization": f"Bearer {_token(live_server, 'police_admin')}",
            "Content-Type": "text/csv",
        },
    )
    assert pushed.status_code == 201 and pushed.json()["accepted"] == 24, pushed.text
    return int(resource_id)


def test_an_analyst_writes_a_query_sees_the_checks_and_releases(
    page: Page, live_server: str, live_engine: Engine
) -> None:
    resource_id = _migrations(live_server, live_engine)
    purpose = f"就业困难人员迁移情况分析 {uuid.uuid4().hex[:6]}"
    granted = httpx2.post(
        f"{live_server}/api/v1/requests",
        json={
            "resource_id": resource_id,
            "items": ["id_number", "region_code", "started_on"],
            "purpose": purpose,
            "basis": "《就业促进法》第五十二条",
            "duration_days": 30,
        },
        headers={"Authorization": f"Bearer {_token(live_server, 'hrss_user')}"},
    )
    assert granted.status_code == 201 and granted.json()["grant"], granted.text
    table = f"r{resource_id}"

    login(page, "hrss_user")
    open_nav(page, "数据分析")
    schema = page.get_by_test_id("analysis-schema").locator(f'[data-table="{table}"]')
    expect(schema).to_contain_text("户籍迁移信息")
    expect(schema).to_contain_text("公民身份号码")
    page.get_by_test_id("analysis-purpose").select_option(purpose)
    page.get_by_test_id("analysis-sql").fill(f"SELECT id_number, region_code FROM {table}")
    with page.expect_navigation():
        page.get_by_test_id("analysis-run").click()
    expect(page.get_by_test_id("analysis-not-releasable")).to_be_visible()
    failed = page.locator("[data-testid=check-row][data-name=direct_identifiers][data-passed=no]")
    expect(failed).to_contain_text("id_number")
    expect(page.get_by_test_id("release-csv").get_by_role("button")).to_be_disabled()

    page.get_by_test_id("analysis-purpose").select_option(purpose)
    page.get_by_test_id("analysis-sql").fill(
        f"SELECT region_code, COUNT(*) AS n FROM {table} GROUP BY region_code"
    )
    with page.expect_navigation():
        page.get_by_test_id("analysis-run").click()
    expect(page.get_by_test_id("analysis-releasable")).to_be_visible()
    expect(page.locator("[data-testid=check-row][data-passed=no]")).to_have_count(0)
    expect(page.get_by_test_id("analysis-rows")).to_contain_text("130104")

    with page.expect_download() as download:
        page.get_by_test_id("release-csv").get_by_role("button").click()
    content = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert content[0] == "region_code,n" and sorted(content[1:]) == ["130102,12", "130104,12"]

    page.get_by_test_id("derived-name").fill("迁移人员区划分布")
    with page.expect_navigation():
        page.get_by_test_id("release-derived").get_by_role("button").click()
    expect(page.get_by_test_id("derived-name")).to_have_text("迁移人员区划分布")
    expect(page.get_by_test_id("derived-lineage")).to_contain_text(table)
    expect(page.get_by_test_id("derived-lineage")).to_contain_text("户籍迁移信息")
