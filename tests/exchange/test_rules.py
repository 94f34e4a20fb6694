"""Provider-defined quality rules: patterns, allowed values, ranges and lengths (S15)."""

from __future__ import annotations

import re

from sqlalchemy import select

from govshare.catalog.models import Resource
from tests.exchange.test_ingest import GOOD1, GOOD2, csv_body, idn, line, stored
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


M1, M2, M3, M4, M5, M6 = (f"1391234000{n}" for n in range(1, 7))


def person(n: int) -> str:
    return idn("130102", "19900101", f"{n:03d}")


def send(client, admin, resource_id: int, *rows: str, params=None):  # type: ignore[no-untyped-def]
    response = client.post(
        f"/api/v1/resources/{resource_id}/batches",
        content=csv_body(*rows),
        params=params or {},
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def quarantined(client, admin, resource_id: int, batch: dict) -> dict[int, dict]:  # type: ignore[no-untyped-def]
    path = f"/api/v1/resources/{resource_id}/batches/{batch['batch_id']}/quarantine"
    return {r["line_no"]: r["reasons"][0] for r in client.get(path, headers=admin).json()["items"]}


def mobiles(db, resource_id: int) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    return {
        number: row["mobile"] for number, row in stored(db, resource_id).items() if row["_retired_at"] is None
    }


def test_a_unique_item_quarantines_values_another_live_row_holds(client, city, db) -> None:
    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert population is not None
    admin = login(client, "police_admin")
    path = f"/api/v1/resources/{population.id}/quality-rules"
    on_key = client.put(path, json=[{"item": "id_number", "kind": "unique"}], headers=admin)
    assert on_key.status_code == 422 and "是业务主键" in on_key.json()["error"]["message"]
    saved = client.put(path, json=[{"item": "mobile", "kind": "unique"}], headers=admin)
    assert saved.status_code == 200 and saved.json()[0]["kind"] == "unique"
    a, b, c, d, e, f, g, h = (person(n) for n in range(8))

    # In one batch: the second holder of a value is refused; empty values are not compared.
    first = send(
        client,
        admin,
        population.id,
        line(a, mobile=M1),
        line(b, mobile=M2),
        line(c, mobile=M1),
        line(d, mobile=""),
        line(e, mobile=""),
    )
    assert (first["accepted"], first["quarantined"]) == (4, 1)
    assert first["report"]["reasons"] == {"手机号码：与本批次其他行重复": 1}
    reason = quarantined(client, admin, population.id, first)[4]
    assert (reason["item"], reason["reason"], reason["value"]) == ("mobile", "与第 2 行重复", M1)

    # Against stored rows: a row keeps its own value; a row this chunk rewrites gives its old value up.
    second = send(
        client, admin, population.id, line(a, "改名", mobile=M1), line(g, mobile=M2), line(b, mobile=M4)
    )
    assert (second["accepted"], second["updated"], second["inserted"]) == (3, 2, 1)
    taken = send(client, admin, population.id, line(f, mobile=M1))
    assert taken["quarantined"] == 1
    assert quarantined(client, admin, population.id, taken)[2]["reason"] == "与已有数据重复"
    held = mobiles(db, population.id)
    assert (held[a], held[b], held[g], held[d]) == (M1, M4, M2, None) and f not in held and c not in held

    # A row refused here keeps its stored value, which then still counts for the rows after it.
    third = send(client, admin, population.id, line(b, mobile=M2), line(h, mobile=M4))
    assert (third["accepted"], third["quarantined"]) == (0, 2)
    assert {r["reason"] for r in quarantined(client, admin, population.id, third).values()} == {
        "与已有数据重复"
    }
    assert mobiles(db, population.id)[b] == M4

    # Retired rows do not hold their values.
    retire = client.post(
        f"/api/v1/resources/{population.id}/batches",
        content=csv_body(a, header="id_number"),
        params={"mode": "delete"},
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert retire.json()["retired"] == 1
    reused = send(client, admin, population.id, line(h, mobile=M1))
    assert reused["accepted"] == 1 and mobiles(db, population.id)[h] == M1

    # The provider's own message leads the reason.
    client.put(
        path, json=[{"item": "mobile", "kind": "unique", "message": "手机号码已被他人登记"}], headers=admin
    )
    refused = send(client, admin, population.id, line(person(9), mobile=M2))
    assert refused["report"]["reasons"] == {"手机号码：手机号码已被他人登记": 1}
    assert (
        quarantined(client, admin, population.id, refused)[2]["reason"]
        == "手机号码已被他人登记（与已有数据重复）"
    )


def test_unique_values_are_checked_across_chunks_with_one_query_per_chunk(
    client, city, db, engine, monkeypatch
) -> None:
    from sqlalchemy import event, inspect

    from govshare.exchange import ingest as ingest_module
    from govshare.exchange import store

    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert population is not None
    admin = login(client, "police_admin")
    client.put(
        f"/api/v1/resources/{population.id}/quality-rules",
        json=[{"item": "mobile", "kind": "unique"}],
        headers=admin,
    )
    monkeypatch.setattr(ingest_module, "CHUNK", 50)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    rows = [line(person(n), mobile=f"139{n:08d}") for n in range(200)]
    rows[120] = line(person(120), mobile="13900000007")  # the value of row 7, two chunks earlier
    event.listen(engine, "before_cursor_execute", seen)
    try:
        batch = send(client, admin, population.id, *rows)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert (batch["accepted"], batch["quarantined"]) == (199, 1)
    assert batch["report"]["reasons"] == {"手机号码：与本批次之前的行重复": 1}
    assert sum(1 for s in statements if re.search(r"mobile IN \(", s)) == 4  # one per chunk of 50
    table = store.table_for(db, population.id, [])
    indexes = inspect(db.connection()).get_indexes(table.name, schema=table.schema)
    assert any(i["column_names"] == ["mobile"] for i in indexes)
