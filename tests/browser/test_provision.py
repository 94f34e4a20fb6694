"""Data provision in a real browser: a department's data page after a pushed batch (chart, lineage,
quarantine with its reasons), and registering and running a front-end database sync through the
form, the page refreshing itself until the run has finished.

The live server's database is shared by a worker's browser tests and never rolled back; these
tests use 人口基础信息 of the public security bureau, which no other browser test touches, and
assert on what they added themselves.
"""

from __future__ import annotations

import sqlite3
import uuid

import httpx2
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from govshare.catalog.models import Resource
from govshare.db import unit_of_work
from govshare.demo.city import DEMO_PASSWORD
from govshare.identifiers import id_number_check_char
from govshare.settings import get_settings
from tests.browser.ui import login

pytestmark = pytest.mark.browser


def _idn(seed: int) -> str:
    body = f"1301021980{(seed % 12) + 1:02d}{(seed % 28) + 1:02d}{seed % 1000:03d}"
    return body + id_number_check_char(body)


def _population(live_engine: Engine) -> int:
    with unit_of_work(live_engine) as db:
        resource_id = db.scalar(select(Resource.id).where(Resource.name == "人口基础信息"))
    assert resource_id is not None
    return resource_id


def _token(live_server: str, username: str) -> str:
    answer = httpx2.post(
        f"{live_server}/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_the_data_page_shows_the_batch_its_chart_lineage_and_quarantine(
    page: Page, live_server: str, live_engine: Engine
) -> None:
    resource_id = _population(live_engine)
    seed = uuid.uuid4().int % 100_000
    # Ten good rows and one bad one: a score of 90.9 is no anomaly, so no task for the Bureau
    # (test_shell counts the Bureau's tasks on this shared server).
    good = [_idn(seed + n) for n in range(10)]
    bad = good[0][:17] + ("0" if good[0][17] != "0" else "1")
    body = "id_number,name\n" + "".join(f"{n},浏览器{i}\n" for i, n in enumerate([*good, bad]))
    pushed = httpx2.post(
        f"{live_server}/api/v1/resources/{resource_id}/batches",
        content=body.encode(),
        headers={
            "Authorization": f"Bearer {_token(live_server, 'police_admin')}",
            "Content-Type": "text/csv",
        },
    )
    assert pushed.status_code == 201, pushed.text
    batch_id = pushed.json()["batch_id"]

    login(page, "police_admin")
    page.goto(f"/catalog/{resource_id}/data")
    expect(page.get_by_test_id("data-title")).to_contain_text("人口基础信息")
    expect(page.get_by_test_id("chart").locator("canvas")).to_have_count(1)  # ECharts drew it
    expect(page.get_by_test_id("lineage-row").first).to_be_visible()
    row = page.locator(f"[data-batch='{batch_id}']")
    expect(row.get_by_test_id("batch-quarantined")).to_have_text("1")
    with page.expect_navigation():
        row.get_by_test_id("batch-quarantined").get_by_role("link").click()
    expect(page.get_by_text("不是有效的公民身份号码").first).to_be_visible()


def test_a_department_registers_and_runs_a_front_end_sync_in_the_browser(
    page: Page, live_server: str, live_engine: Engine
) -> None:
    resource_id = _population(live_engine)
    folder = get_settings().frontdb_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"browser-{uuid.uuid4().hex[:8]}.db"
    seed = uuid.uuid4().int % 100_000
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE rk (sfzh TEXT, xm TEXT, gxsj TEXT)")
        conn.executemany(
            "INSERT INTO rk VALUES (?, ?, ?)",
            [(_idn(seed + 500 + n), f"同步{n}", f"2026-11-01 08:00:{n:02d}") for n in range(5)],
        )

    login(page, "police_admin")
    page.goto(f"/catalog/{resource_id}/data")
    with page.expect_navigation():
        page.get_by_test_id("sync-link").click()
    form = page.get_by_test_id("sync-form")
    form.get_by_label("连接地址").fill(f"sqlite:///{path}")
    form.get_by_label("所属业务系统").select_option(label="人口信息管理系统（police-hukou）")
    form.get_by_label("表名").fill("rk")
    form.get_by_test_id("sync-mapping").fill("id_number = sfzh\nname = xm\n")
    form.get_by_test_id("sync-watermark-input").fill("gxsj")
    with page.expect_navigation():
        form.get_by_test_id("sync-save").click()
    expect(page.get_by_test_id("flash")).to_contain_text("连接检查通过")
    expect(page.get_by_test_id("sync-url")).to_contain_text(path.name)

    with page.expect_navigation():
        page.get_by_test_id("sync-now").click()
    # The run finishes after the answer; the page refreshes itself while it is queued or running.
    first = page.get_by_test_id("sync-run").first
    expect(first.get_by_test_id("sync-run-status")).to_have_text("成功")
    expect(first.get_by_test_id("sync-run-rows")).to_have_text("5")
    expect(page.get_by_test_id("sync-watermark")).to_have_text("2026-11-01 08:00:04")
