"""The exchange store's tables follow the catalog: new items add columns, changed item types migrate
columns without losing a value (issue 4: "a new catalog version that adds or changes items migrates
the table without losing rows")."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import MetaData, Table, insert, inspect, select, text
from sqlalchemy.orm import Session

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.exchange import store
from tests.exchange.test_ingest import HEADER, idn, publish_items, push
from tests.helpers import login
from tests.ui import browser, texts

FAKE_RESOURCE = 990_001  # a table of its own: store functions need no catalog entry

ALL_TYPES = [
    {"name": "k", "data_type": "C", "length": 8, "is_key": True},
    {"name": "c_free", "data_type": "C", "length": None},
    {"name": "n", "data_type": "N", "length": 12},
    {"name": "y", "data_type": "Y", "length": 12},
    {"name": "d", "data_type": "D"},
    {"name": "ts", "data_type": "T"},
    {"name": "l", "data_type": "L"},
    {"name": "m", "data_type": "M"},
    {"name": "g", "data_type": "G"},
    {"name": "b", "data_type": "B"},
    {"name": "i", "data_type": "I"},
    {"name": "f", "data_type": "F"},
]


def reflect(db: Session, resource_id: int) -> Table:
    name, schema = store.table_for(db, resource_id, []).name, store.table_for(db, resource_id, []).schema
    return Table(name, MetaData(), schema=schema, autoload_with=db.connection())


def put_rows(db: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    system = {"_batch_id": "test", "_received_at": now, "_row_hash": "0" * 64}
    db.execute(insert(table), [{"_key": r["k"], **system, **r} for r in rows])


def test_a_table_read_back_needs_no_migration_for_any_type(db) -> None:
    table, changes = store.ensure_table(db, FAKE_RESOURCE, ALL_TYPES)
    assert changes == []
    again, changes = store.ensure_table(db, FAKE_RESOURCE, ALL_TYPES)
    assert changes == [] and [c.name for c in again.columns] == [c.name for c in table.columns]
    # B and F, and C without a length, M and G, are stored alike: no migration between them.
    swapped = [
        {**i, "data_type": {"B": "F", "F": "B", "M": "G", "G": "M"}.get(i["data_type"], i["data_type"])}
        for i in ALL_TYPES
    ]
    assert store.ensure_table(db, FAKE_RESOURCE, swapped)[1] == []
    assert not any("__old" in c.name for c in reflect(db, FAKE_RESOURCE).columns)


def test_changed_types_keep_every_value_and_convert_what_parses(db) -> None:
    table, _ = store.ensure_table(db, FAKE_RESOURCE, ALL_TYPES)
    put_rows(
        db,
        table,
        [
            {
                "k": "a",
                "n": Decimal("12"),
                "i": 7,
                "l": True,
                "ts": datetime(2026, 1, 2, 3, 4, 5),
                "c_free": "是",
                "b": 3.14159,
            },
            {"k": "b", "n": Decimal("12.5"), "i": -3, "l": False, "ts": None, "c_free": "也许", "b": 1e19},
            {"k": "c", "n": Decimal("1e20"), "i": None, "l": None, "ts": None, "c_free": None, "b": None},
        ],
    )
    changed = {
        "n": {"data_type": "I"},
        "i": {"data_type": "N", "length": 12},
        "l": {"data_type": "C", "length": 1},
    }
    changed |= {"ts": {"data_type": "C", "length": 30}, "c_free": {"data_type": "L"}}
    changed |= {"b": {"data_type": "Y", "length": 20}}
    items = [{**i, **changed.get(i["name"], {})} for i in ALL_TYPES]
    table, changes = store.ensure_table(db, FAKE_RESOURCE, items)
    report = {c.item: (c.kept_in, c.values, c.converted, c.unconverted) for c in changes}
    assert report == {
        "c_free": ("c_free__old1", 2, 1, 1),  # 也许 is neither 是 nor 否
        "n": ("n__old1", 3, 1, 2),  # 12.5 is not an integer, 1E+20 too large for BIGINT
        # 1E+19 has more integer digits than NUMERIC(20, 2) takes; 3.14159 more decimals (no rounding)
        "b": ("b__old1", 2, 0, 2),
        "ts": ("ts__old1", 1, 1, 0),
        "l": ("l__old1", 2, 2, 0),
        "i": ("i__old1", 2, 2, 0),
    }
    rows = {r.k: r for r in db.execute(select(reflect(db, FAKE_RESOURCE)))}
    assert (rows["a"].n, rows["b"].n, rows["b"].n__old1) == (12, None, Decimal("12.5"))
    assert (rows["c"].n, rows["c"].n__old1) == (None, Decimal("1e20"))
    assert (rows["a"].b, rows["a"].b__old1, rows["b"].b, rows["b"].b__old1) == (None, 3.14159, None, 1e19)
    assert (rows["a"].i, rows["b"].i) == (Decimal(7), Decimal(-3))
    assert (rows["a"].l, rows["b"].l, rows["a"].ts) == ("是", "否", "2026-01-02T03:04:05")
    assert (rows["a"].c_free, rows["b"].c_free, rows["b"].c_free__old1) == (True, None, "也许")
    assert all(getattr(rows["c"], c) is None for c in ("n", "i", "l", "ts", "c_free", "b"))
    assert store.ensure_table(db, FAKE_RESOURCE, items)[1] == []  # migrated columns read back as declared


def test_kept_columns_are_numbered_and_fit_postgresql_names(db) -> None:
    long_name = "x" * 63
    items = [
        {"name": "k", "data_type": "C", "length": 8, "is_key": True},
        {"name": long_name, "data_type": "C"},
    ]
    table, _ = store.ensure_table(db, FAKE_RESOURCE, items)
    put_rows(db, table, [{"k": "a", long_name: "2026-11-27"}])
    as_date = [items[0], {"name": long_name, "data_type": "D"}]
    (first,) = store.ensure_table(db, FAKE_RESOURCE, as_date)[1]
    (second,) = store.ensure_table(db, FAKE_RESOURCE, items)[1]
    assert (first.kept_in, second.kept_in) == ("x" * 57 + "__old1", "x" * 57 + "__old2")
    (row,) = db.execute(select(reflect(db, FAKE_RESOURCE))).mappings()
    assert row[long_name] == "2026-11-27" and row[first.kept_in] == "2026-11-27"
    assert row[second.kept_in] == date(2026, 11, 27)


def person(n: int, name: str, address: str, birth: str = "1985-03-17") -> str:
    return f"{idn('130102', '19850317', f'{n:03d}')},{name},男,{birth},13912345678,{address},130102"


def key(n: int) -> str:
    return idn("130102", "19850317", f"{n:03d}")


def retype(**changes: dict[str, Any]):  # type: ignore[no-untyped-def]
    def change(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**i, **changes.get(i["name"], {})} for i in items]

    return change


def test_a_new_version_changing_types_migrates_the_table_without_losing_rows(app, client, city, db) -> None:
    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert population is not None
    admin = login(client, "police_admin")
    csv = "\n".join(
        [
            HEADER,
            person(1, "张伟", "2020-05-06"),
            person(2, "欧阳娜娜", "20200506"),
            person(3, "李娜", "河北省石家庄市长安区建设北大街1号"),
            person(4, "赵敏", ""),
            person(5, "王芳", "2021-01-02", birth="1990-07-01"),
        ]
    )
    assert push(client, admin, population.id, csv.encode()).json()["accepted"] == 5
    rules = [{"item": "address", "kind": "unique"}]
    assert (
        client.put(f"/api/v1/resources/{population.id}/quality-rules", json=rules, headers=admin).status_code
        == 200
    )
    retired = push(client, admin, population.id, f"id_number\n{key(5)}\n".encode(), params={"mode": "delete"})
    assert retired.json()["retired"] == 1

    # Version 2: 出生日期 D → C(10), 住址 C → D, 姓名 C(50) → C(2).
    publish_items(
        client,
        db,
        population.id,
        retype(
            birth_date={"data_type": "C", "length": 10},
            address={"data_type": "D", "length": None},
            name={"length": 2},
        ),
    )
    batch = push(
        client, admin, population.id, f"{HEADER}\n{person(6, '钱多', '2022-02-02', birth='不详')}\n".encode()
    )
    assert batch.status_code == 201, batch.text
    migrations = {m["item"]: m for m in batch.json()["report"]["migrations"]}
    assert {
        k: (m["kept_in"], m["values"], m["converted"], m["unconverted"]) for k, m in migrations.items()
    } == {
        "name": ("name__old1", 5, 4, 1),  # 欧阳娜娜 is longer than 2
        "birth_date": ("birth_date__old1", 5, 5, 0),
        "address": ("address__old1", 4, 3, 1),  # the street address is no date
    }
    event = db.scalar(
        select(AuditEvent)
        .where(AuditEvent.event_type == "data.batch_ingested")
        .order_by(AuditEvent.seq.desc())
    )
    assert event is not None and len(json.loads(event.details)["migrations"]) == 3
    page = browser(app, "police_admin").get(
        f"/catalog/{population.id}/data/batches/{batch.json()['batch_id']}"
    )
    assert len(texts(page.text, "migration-row")) == 3
    assert texts(page.text, "migration-unconverted") == ["1", "1"]

    rows = {r.id_number: r for r in db.execute(select(reflect(db, population.id)))}
    assert len(rows) == 6  # every row survived, the retired one too
    assert rows[key(1)].birth_date == "1985-03-17" and rows[key(5)].birth_date == "1990-07-01"
    assert (rows[key(1)].address, rows[key(2)].address) == (date(2020, 5, 6), date(2020, 5, 6))
    assert rows[key(5)].address == date(2021, 1, 2) and rows[key(5)]._retired_at is not None
    assert rows[key(3)].address is None and rows[key(3)].address__old1 == "河北省石家庄市长安区建设北大街1号"
    assert rows[key(2)].name is None and rows[key(2)].name__old1 == "欧阳娜娜" and rows[key(1)].name == "张伟"
    assert str(rows[key(1)].birth_date__old1) == "1985-03-17"
    assert (rows[key(6)].birth_date, rows[key(6)].address) == ("不详", date(2022, 2, 2))
    # The unique rule's index moved to the new column.
    table = reflect(db, population.id)
    indexed = [
        i["column_names"] for i in inspect(db.connection()).get_indexes(table.name, schema=table.schema)
    ]
    assert ["address"] in indexed and ["address__old1"] not in indexed
    assert "migrations" not in push(client, admin, population.id, f"{HEADER}\n".encode()).json()["report"]

    # Version 3: 出生日期 back to D; the value that is no date stays in the second kept column.
    publish_items(client, db, population.id, retype(birth_date={"data_type": "D", "length": None}))
    back = push(
        client, admin, population.id, f"{HEADER}\n{person(7, '孙丽', '', birth='19991231')}\n".encode()
    )
    (migration,) = back.json()["report"]["migrations"]
    assert (migration["kept_in"], migration["values"], migration["converted"], migration["unconverted"]) == (
        "birth_date__old2",
        6,
        5,
        1,
    )
    rows = {r.id_number: r for r in db.execute(select(reflect(db, population.id)))}
    assert rows[key(1)].birth_date == date(1985, 3, 17) and rows[key(7)].birth_date == date(1999, 12, 31)
    assert rows[key(6)].birth_date is None and rows[key(6)].birth_date__old2 == "不详"
    assert str(rows[key(6)].birth_date__old1 or "") == ""  # it arrived after the first migration


def queryable(*names: str, **changes: dict[str, Any]):  # type: ignore[no-untyped-def]
    """A change of items for `publish_items`: exactly `names` are 查询项, and `changes` apply."""

    def change(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**i, "queryable": i["name"] in names, **changes.get(i["name"], {})} for i in items]

    return change


def _query_indexes(db: Session, resource_id: int) -> dict[str, list[str]]:
    table = reflect(db, resource_id)
    return {
        str(i["name"]): list(i["column_names"])
        for i in inspect(db.connection()).get_indexes(table.name, schema=table.schema)
        if str(i["name"]).startswith(f"{store.QUERY_INDEX}_")
    }


def test_query_items_are_indexed_for_the_data_apis_pages(client, city, db) -> None:
    from govshare.exchange.access import published_items
    from govshare.sharing.rows import Reading, _page

    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert population is not None
    admin = login(client, "police_admin")
    flags = {"region_code": True, "name": True}
    publish_items(
        client,
        db,
        population.id,
        lambda items: [{**i, "queryable": flags.get(i["name"], False)} for i in items],
    )
    csv = "\n".join([HEADER, person(1, "张伟", "地址一"), person(2, "李娜", "地址二")])
    assert push(client, admin, population.id, csv.encode()).status_code == 201
    indexes = _query_indexes(db, population.id)
    assert sorted(indexes.values()) == [["name", "_key"], ["region_code", "_key"]]

    # The data API's page (filter on the item, live rows, in key order) walks the index.
    db.refresh(population)
    items = published_items(db, population)
    table = store.table_for(db, population.id, items)
    grant = SimpleNamespace(row_scope=None)
    reading = Reading(population, grant, "", items, {}, ["region_code"], None, table)  # type: ignore[arg-type]
    page, values = _page(reading, [("region_code", "", ["130102"])], None, 100)
    compiled = page.params(values).compile(db.get_bind(), compile_kwargs={"literal_binds": True})
    if db.get_bind().dialect.name == "sqlite":
        plan = " ".join(str(r[-1]) for r in db.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    else:
        db.execute(text("SET LOCAL enable_seqscan = off"))  # a two-row table would be scanned anyway
        plan = " ".join(str(r[0]) for r in db.execute(text(f"EXPLAIN {compiled}")))
    assert store.index_name(table, "region_code", store.QUERY_INDEX) in plan, plan

    # No longer a 查询项: its index goes with the next batch. A retyped one is indexed anew.
    flags = {"region_code": True}
    publish_items(
        client,
        db,
        population.id,
        lambda items: [
            {
                **i,
                "queryable": flags.get(i["name"], False),
                **({"data_type": "N", "length": 6} if i["name"] == "region_code" else {}),
            }
            for i in items
        ],
    )
    assert (
        push(client, admin, population.id, f"{HEADER}\n{person(3, '王芳', '地址三')}\n".encode()).status_code
        == 201
    )
    assert list(_query_indexes(db, population.id).values()) == [["region_code", "_key"]]
