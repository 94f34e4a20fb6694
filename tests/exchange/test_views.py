"""Data provision pages: a resource's data page (counts, timeliness, batches, chart, how to connect),
a batch's manifest with its quarantined rows and their CSV download, the timeliness list, and who
may see them (issue 4 item 10)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.db import utcnow
from govshare.exchange.models import Batch
from govshare.exchange.views import neutralise, score_tag
from govshare.systems.models import BusinessSystem
from tests.exchange.test_ingest import BAD, GOOD1, GOOD2, HEADER, csv_body, idn, line
from tests.helpers import bearer, login
from tests.ui import browser, text, texts

POLICE = "石家庄市公安局"


@pytest.fixture
def population(db) -> Resource:  # type: ignore[no-untyped-def]
    resource = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert resource is not None
    return resource


def push(client, resource_id: int, body: bytes, *, mode: str = "upsert", user: str = "police_admin") -> dict:  # type: ignore[no-untyped-def]
    response = client.post(
        f"/api/v1/resources/{resource_id}/batches",
        content=body,
        params={"mode": mode},
        headers={**login(client, user), "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def batch_row(page: str, batch_id: str) -> str:
    """The HTML of the data page's table row of one batch."""
    at = page.index(f'data-batch="{batch_id}"')
    return page[page.rindex("<tr", 0, at) : page.index("</tr>", at) + len("</tr>")]


def test_the_data_page_shows_batches_counts_quality_and_the_chart(app, client, city, db, population) -> None:
    admin = browser(app, "police_admin")
    empty = admin.get(f"/catalog/{population.id}/data")
    assert empty.status_code == 200, empty.text
    assert text(empty.text, "timely-state") == "从未提供数据"
    assert 'data-testid="no-batches"' in empty.text and 'data-testid="chart"' not in empty.text
    assert "echarts.min.js" not in empty.text  # nothing to draw
    assert text(empty.text, "current-rows") == "0"

    batch = push(client, population.id, csv_body(line(GOOD1), line(GOOD2, "李娜", "2"), line(BAD, "王芳")))
    page = admin.get(f"/catalog/{population.id}/data")
    assert page.status_code == 200
    assert (text(page.text, "current-rows"), text(page.text, "retired-rows")) == ("2", "0")
    assert text(page.text, "timely-state") == "按时"  # 每日, updated just now
    row = batch_row(page.text, batch["batch_id"])
    counts = [text(row, key) for key in ("batch-received", "batch-accepted", "batch-quarantined")]
    assert counts == ["3", "2", "1"]
    assert text(row, "batch-mode") == "增量更新"
    assert text(row, "batch-source").startswith("人员：")
    assert 'class="tag err" data-testid="quality-score">66.67<' in row  # below 80
    assert f'title="{batch["content_sm3"]}"' in row and f">{batch['content_sm3'][:12]}…<" in row
    assert f'href="/catalog/{population.id}/data/batches/{batch["batch_id"]}"' in row

    chart = json.loads(text(page.text, "chart-data"))
    series = {s["name"]: s["data"] for s in chart["series"]}
    assert series == {"入库": [2], "隔离": [1], "质量得分": [66.67]}
    assert 'data-chart="chart-batches"' in page.text and "vendor/echarts.min.js" in page.text

    curl = text(page.text, "curl-example")
    assert f"/resources/{population.id}/batches" in curl and "text/csv" in curl
    assert text(page.text, "csv-header").startswith("id_number,name,gender")


def test_snapshots_show_retired_rows_and_the_newest_batch_first(app, client, city, db, population) -> None:
    first = push(client, population.id, csv_body(line(GOOD1), line(GOOD2, "李娜", "2")))
    sent = client.post(  # by the department's business system, with its token
        f"/api/v1/resources/{population.id}/batches",
        content=csv_body(line(GOOD1)),
        params={"mode": "snapshot"},
        headers={**bearer(city.tokens["police-hukou"]), "Content-Type": "text/csv"},
    )
    assert sent.status_code == 201, sent.text
    snapshot = sent.json()
    system = db.scalar(select(BusinessSystem).where(BusinessSystem.code == "police-hukou"))
    assert system is not None
    page = browser(app, "police_admin").get(f"/catalog/{population.id}/data").text
    assert (text(page, "current-rows"), text(page, "retired-rows")) == ("1", "1")
    order = [page.index(f'data-batch="{b["batch_id"]}"') for b in (snapshot, first)]
    assert order == sorted(order)  # newest first
    assert text(batch_row(page, snapshot["batch_id"]), "batch-mode") == "全量快照"
    assert text(batch_row(page, snapshot["batch_id"]), "batch-source") == f"业务系统：{system.name}"
    assert text(batch_row(page, snapshot["batch_id"]), "batch-retired") == "1"
    assert 'class="tag ok" data-testid="quality-score">100.00<' in batch_row(page, snapshot["batch_id"])
    series = {s["name"]: s["data"] for s in json.loads(text(page, "chart-data"))["series"]}
    assert series["入库"] == [2, 1]  # oldest on the left


def test_batches_are_paginated(app, client, city, db, population) -> None:
    ids = [push(client, population.id, csv_body(line(GOOD1, name=f"张{i}")))["batch_id"] for i in range(21)]
    admin = browser(app, "police_admin")
    first = admin.get(f"/catalog/{population.id}/data").text
    second = admin.get(f"/catalog/{population.id}/data?page=2").text
    assert len(texts(first, "batch-row")) == 20 and len(texts(second, "batch-row")) == 1
    assert f'data-batch="{ids[0]}"' in second and f'data-batch="{ids[0]}"' not in first
    assert "共 21 条，第 2 / 2 页" in second


def test_the_batch_page_shows_the_manifest_and_quarantined_rows_with_reasons(
    app, client, city, db, population
) -> None:
    batch = push(client, population.id, csv_body(line(GOOD1), line(GOOD2, "李娜", "2"), line(BAD, "王芳")))
    page = browser(app, "police_admin").get(f"/catalog/{population.id}/data/batches/{batch['batch_id']}")
    assert page.status_code == 200, page.text
    assert text(page.text, "batch-id") == batch["batch_id"]
    assert text(page.text, "manifest-sm3") == batch["content_sm3"]
    assert text(page.text, "manifest-mode") == "增量更新"
    assert text(page.text, "manifest-source").startswith("人员：")
    assert (text(page.text, "count-received"), text(page.text, "count-quarantined")) == ("3 行", "1 行")
    assert texts(page.text, "reason-count") == ["1"]
    assert text(page.text, "reason-label").startswith("公民身份号码：不是有效的公民身份号码")

    assert texts(page.text, "line-no") == ["4"]
    row = text(page.text, "quarantine-row")
    assert BAD in row and "王芳" in row
    reason = text(page.text, "row-reason")
    assert reason.startswith("公民身份号码：") and "GB 11643" in reason and f"（值：{BAD}）" in reason
    csv_link = f'href="/catalog/{population.id}/data/batches/{batch["batch_id"]}/quarantine.csv"'
    assert csv_link in page.text and "下载隔离数据（CSV）" in page.text

    clean = push(client, population.id, csv_body(line(GOOD1)))
    clean_page = browser(app, "police_admin").get(
        f"/catalog/{population.id}/data/batches/{clean['batch_id']}"
    )
    assert 'data-testid="no-quarantine"' in clean_page.text and "quarantine.csv" not in clean_page.text


def test_the_quarantine_csv_can_be_fixed_and_sent_again(app, client, city, db, population) -> None:
    formula = '=HYPERLINK("http://evil";"点我")'
    bad_gender = idn("130105", "20010101", "118")
    body = csv_body(
        line(GOOD1), line(BAD, "王芳"), line(bad_gender, '"' + formula.replace('"', '""') + '"', gender="X")
    )
    batch = push(client, population.id, body)
    assert batch["quarantined"] == 2
    response = browser(app, "police_admin").get(
        f"/catalog/{population.id}/data/batches/{batch['batch_id']}/quarantine.csv"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    exported = db.scalar(select(AuditEvent).where(AuditEvent.event_type == "data.quarantine_exported"))
    assert exported is not None and exported.object_id == str(
        population.id
    )  # personal data leaving: on record
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [*HEADER.split(","), "原因"]
    by_id = {r[0]: r for r in rows[1:]}
    assert set(by_id) == {BAD, bad_gender}
    assert by_id[BAD][1] == "王芳" and "公民身份号码：不是有效的公民身份号码" in by_id[BAD][-1]
    assert f"（值：{BAD}）" in by_id[BAD][-1]
    assert by_id[bad_gender][1] == "'" + formula  # neutralised: a spreadsheet shows it, never runs it
    assert by_id[bad_gender][2] == "X" and "性别" in by_id[bad_gender][-1]

    # Fixed at the source, the rows go in as a new batch, the reasons column and all.
    fixed = [list(r) for r in rows[1:]]
    fixed[[r[0] for r in fixed].index(BAD)][0] = GOOD2
    fixed[[r[0] for r in fixed].index(bad_gender)][1:3] = ["赵敏", "女"]
    out = io.StringIO()
    csv.writer(out).writerows([rows[0], *fixed])
    again = push(client, population.id, ("\ufeff" + out.getvalue()).encode())
    assert (again["accepted"], again["quarantined"]) == (2, 0)


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=1+2", "'=1+2"),
        ("+86 139", "'+86 139"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("张伟", "张伟"),
        ("1=1", "1=1"),
        ("", ""),
    ],
)
def test_formula_cells_are_neutralised(cell: str, shown: str) -> None:
    assert neutralise(cell) == shown


@pytest.mark.parametrize(
    ("score", "tag"), [(100.0, "ok"), (95.0, "ok"), (94.99, "warn"), (80.0, "warn"), (79.9, "err")]
)
def test_quality_scores_are_tagged_below_95_and_80(score: float, tag: str) -> None:
    assert score_tag(score) == tag


def test_who_may_see_a_departments_data(app, client, city, db, population) -> None:
    batch = push(client, population.id, csv_body(line(GOOD1), line(BAD, "王芳")))
    paths = [
        f"/catalog/{population.id}/data",
        f"/catalog/{population.id}/data/batches/{batch['batch_id']}",
        f"/catalog/{population.id}/data/batches/{batch['batch_id']}/quarantine.csv",
    ]
    for username in ("civil_admin", "civil_security", "police_user", "police_compiler"):
        person = browser(app, username)
        for path in paths:
            assert person.get(path).status_code == 403, (username, path)
    for username in ("police_security", "bureau_reviewer", "bureau_admin", "bureau_auditor"):
        person = browser(app, username)
        for path in paths:
            assert person.get(path).status_code == 200, (username, path)
    anonymous = client.get(paths[0], follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_unknown_batches_and_other_resources_are_not_found(app, client, city, db, population) -> None:
    batch = push(client, population.id, csv_body(line(GOOD1)))
    vehicles = db.scalar(select(Resource).where(Resource.name == "机动车登记信息"))
    assert vehicles is not None
    admin = browser(app, "police_admin")
    assert admin.get(f"/catalog/{population.id}/data/batches/no-such-batch").status_code == 404
    wrong = admin.get(f"/catalog/{vehicles.id}/data/batches/{batch['batch_id']}")
    assert wrong.status_code == 404 and "找不到该数据批次" in wrong.text
    assert (
        admin.get(f"/catalog/{vehicles.id}/data/batches/{batch['batch_id']}/quarantine.csv").status_code
        == 404
    )
    prices = db.scalar(select(Resource).where(Resource.name == "重点商品价格监测信息"))  # a file resource
    assert prices is not None and prices.provision_method == "file"
    refused = browser(app, "market_admin").get(f"/catalog/{prices.id}/data")
    assert refused.status_code == 404 and "不是库表类资源" in refused.text
    assert admin.get("/catalog/999999/data").status_code == 404


def test_the_catalog_entry_links_to_its_data_page(app, client, city, db, population) -> None:
    link = f'href="/catalog/{population.id}/data"'
    assert link in browser(app, "police_admin").get(f"/catalog/{population.id}").text
    assert link in browser(app, "bureau_reviewer").get(f"/catalog/{population.id}").text
    assert link not in browser(app, "civil_admin").get(f"/catalog/{population.id}").text
    assert link not in browser(app, "police_user").get(f"/catalog/{population.id}").text
    prices = db.scalar(select(Resource).where(Resource.name == "重点商品价格监测信息"))  # a file resource
    assert prices is not None and prices.provision_method == "file"
    entry = browser(app, "market_admin").get(f"/catalog/{prices.id}")
    assert entry.status_code == 200 and 'data-testid="entry-data"' not in entry.text


def _timeliness_rows(page: str) -> dict[str, str]:
    """Resource name → its state, in the page's order."""
    return dict(zip(texts(page, "timeliness-name"), texts(page, "timely-state"), strict=True))


def test_timeliness_lists_late_resources_first_and_links_to_their_data(
    app, client, city, db, population
) -> None:
    admin = browser(app, "police_admin")
    before = admin.get("/provision/timeliness")
    assert before.status_code == 200, before.text
    rows = _timeliness_rows(before.text)
    assert rows["人口基础信息"] == "从未提供数据"
    assert f'href="/catalog/{population.id}/data"' in before.text
    assert set(texts(before.text, "timeliness-provider")) == {POLICE}  # a department sees its own
    assert 'name="provider"' not in before.text

    batch = push(client, population.id, csv_body(line(GOOD1)))
    after = _timeliness_rows(admin.get("/provision/timeliness").text)
    assert after["人口基础信息"] == "按时"
    states = list(after.values())
    assert states.index("按时") > max(i for i, s in enumerate(states) if s != "按时")  # late first
    late_only = _timeliness_rows(admin.get("/provision/timeliness?late_only=1").text)
    assert "人口基础信息" not in late_only and late_only and all(s != "按时" for s in late_only.values())

    db.execute(
        update(Batch).where(Batch.id == batch["batch_id"]).values(finished_at=utcnow() - timedelta(days=3))
    )
    bureau = browser(app, "bureau_reviewer")
    city_wide = bureau.get("/provision/timeliness?late_only=1").text
    assert _timeliness_rows(city_wide)["人口基础信息"] == "逾期 2 天"
    assert 'name="provider"' in city_wide and len(set(texts(city_wide, "timeliness-provider"))) > 1
    police_only = bureau.get("/provision/timeliness", params={"provider": POLICE}).text
    assert set(texts(police_only, "timeliness-provider")) == {POLICE}
    assert browser(app, "civil_user").get("/provision/timeliness").status_code == 403
