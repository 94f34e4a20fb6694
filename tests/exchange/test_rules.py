"""Provider-defined quality rules: patterns, allowed values, ranges and lengths (S15)."""

from __future__ import annotations

from sqlalchemy import select

from govshare.catalog.models import Resource
from tests.exchange.test_ingest import GOOD1, GOOD2, csv_body, idn, line
from tests.helpers import login


def test_rules_are_checked_on_save_and_applied_to_the_next_batches(client, city, db) -> None:
    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert population is not None
    admin = login(client, "police_admin")
    path = f"/api/v1/resources/{population.id}/quality-rules"
    rules = [
        {
            "item": "region_code",
            "kind": "enum",
            "values": ["130102", "130104"],
            "message": "只收长安区、桥西区",
        },
        {"item": "address", "kind": "regex", "pattern": "河北省.*"},
        {"item": "birth_date", "kind": "range", "min": "1900-01-01", "max": "2026-12-31"},
        {"item": "name", "kind": "length", "min": "2", "max": "4"},
    ]
    saved = client.put(path, json=rules, headers=admin)
    assert saved.status_code == 200, saved.text
    assert [r["kind"] for r in client.get(path, headers=admin).json()] == ["regex", "range", "length", "enum"]

    third = idn("130105", "20010101", "118")
    body = csv_body(line(GOOD1), line(GOOD2, "李"), line(third))
    batch = client.post(
        f"/api/v1/resources/{population.id}/batches",
        content=body,
        headers={**admin, "Content-Type": "text/csv"},
    ).json()
    assert (batch["accepted"], batch["quarantined"]) == (1, 2)
    reasons = batch["report"]["reasons"]
    assert "行政区划代码：只收长安区、桥西区" in reasons and any("姓名：长度 1" in r for r in reasons)

    for bad, message in (
        ([{"item": "nope", "kind": "enum", "values": ["a"]}], "没有字段名为 nope"),
        ([{"item": "address", "kind": "regex", "pattern": "("}], "正则表达式有误"),
        ([{"item": "name", "kind": "range", "min": "1"}], "不能设置取值区间"),
        ([{"item": "birth_date", "kind": "range", "min": "昨天"}], "日期"),
    ):
        refused = client.put(path, json=bad, headers=admin)
        assert refused.status_code == 422 and message in refused.json()["error"]["message"], refused.text
    assert len(client.get(path, headers=admin).json()) == 4  # a refused set changes nothing
    assert client.put(path, json=[], headers=login(client, "civil_admin")).status_code == 403
    assert client.put(path, json=[], headers=admin).json() == []
