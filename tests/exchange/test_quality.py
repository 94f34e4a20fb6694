"""Column-wise checking and hashing as ingest does it (`RowChecker.columns`, `keys.digests`,
`store.BulkInsert`): the same values, reasons and hashes as one row at a time, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.exchange import store
from govshare.exchange.keys import digests, row_hash, row_key, texts
from govshare.exchange.quality import Refused, RowChecker, check_row, rules_for
from tests.exchange.test_ingest import idn

ITEMS = [
    {"name": "id_number", "title": "公民身份号码", "data_type": "C", "length": 18, "is_key": True,
     "element": "DE0001"},
    {"name": "name", "title": "姓名", "data_type": "C", "length": 4},
    {"name": "gender", "title": "性别", "data_type": "C", "length": 1},
    {"name": "birth", "title": "出生日期", "data_type": "D"},
    {"name": "amount", "title": "金额", "data_type": "Y"},
    {"name": "note", "title": "备注", "data_type": "M"},
]  # fmt: skip
GOOD = idn("130102", "19850317", "771")
OTHER = idn("130104", "19920611", "532")


def positive(value: Decimal) -> None:
    if value <= 0:
        raise Refused("应大于 0")


def test_a_chunk_checked_column_by_column_gives_each_rows_values_and_reasons_in_rule_order() -> None:
    checker = RowChecker(rules_for(ITEMS, {"amount": [positive]}))
    raws = [
        {
            "id_number": f" {GOOD.lower()} ",
            "name": "张伟",
            "gender": "1",
            "birth": "19850317",
            "amount": "12.5",
        },
        {"id_number": "", "name": "欧阳娜娜娜", "gender": "男", "birth": "1985-02-30", "amount": "-1"},
        {"id_number": OTHER, "name": None, "gender": "X", "birth": "", "amount": "1,000", "note": 7},
    ]
    columns, failed = checker.columns(raws)
    by_item = dict(zip([i["name"] for i in ITEMS], columns, strict=True))
    assert by_item["id_number"] == [GOOD, None, OTHER]  # stripped, X upper-cased
    assert by_item["name"] == ["张伟", None, None]
    assert by_item["gender"] == ["男", "男", None]
    assert by_item["birth"] == [date(1985, 3, 17), None, None]
    assert by_item["amount"] == [Decimal("12.5"), None, Decimal("1000")]
    assert by_item["note"] == [None, None, "7"]
    assert 0 not in failed
    assert [r["item"] for r in failed[1]] == ["id_number", "name", "birth", "amount"]
    assert failed[1][0]["reason"] == "业务主键不能为空"
    assert failed[1][1] == {
        "item": "name",
        "title": "姓名",
        "reason": "长度 5 超过目录规定的 4",
        "value": "欧阳娜娜娜",
    }
    assert failed[1][3]["reason"] == "应大于 0"
    assert [r["item"] for r in failed[2]] == ["gender"]
    # One row at a time (trace, the single-row API) gives the same.
    for n, raw in enumerate(raws):
        values, reasons = check_row(rules_for(ITEMS, {"amount": [positive]}), raw)
        assert list(values.values()) == [c[n] for c in columns]
        assert reasons == failed.get(n, [])


def test_digests_of_text_columns_are_the_row_key_and_row_hash() -> None:
    rows = [
        {
            "k": "甲",
            "d": date(2026, 1, 2),
            "t": datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
            "n": Decimal("1.50"),
            "x": None,
        },
        {"k": "乙", "d": None, "t": None, "n": Decimal("0"), "x": "值"},
    ]
    names = ["k", "d", "t", "n", "x"]
    columns = {n: texts([r[n] for r in rows]) for n in names}
    assert columns["t"][0] == "2026-01-02T03:04:00+00:00" and columns["x"][0] == ""
    assert digests([columns["k"]]) == [row_key(r, ["k"]) for r in rows]
    assert digests([columns["k"], columns["n"]]) == [row_key(r, ["k", "n"]) for r in rows]
    assert digests([columns[n] for n in names]) == [row_hash(r, names) for r in rows]
    assert len(set(digests([columns[n] for n in names]))) == 2


def test_bulk_insert_writes_columns_with_constants_and_reports_a_key_clash(db: Session) -> None:
    resource_id = 990_101
    table, _ = store.ensure_table(db, resource_id, ITEMS)
    now = datetime.now(UTC).replace(microsecond=0)
    constants = {"_batch_id": "b1", "_system_id": None, "_received_at": now, "_seen_batch_id": "b1"}
    insert = store.BulkInsert(db, table, ["_key", "_row_hash", "id_number", "birth", "amount"], constants)
    insert([["k1", "k2"], ["h1", "h2"], [GOOD, OTHER], [date(1985, 3, 17), None], [Decimal("1.25"), None]])
    insert([[], [], [], [], []])  # nothing to write
    rows = {r._key: r for r in db.execute(select(table))}
    assert set(rows) == {"k1", "k2"}
    assert rows["k1"].birth == date(1985, 3, 17) and rows["k2"].birth is None
    assert rows["k1"].amount == Decimal("1.25") and rows["k1"].id_number == GOOD
    assert rows["k2"]._batch_id == "b1" and rows["k2"]._retired_at is None
    assert rows["k2"]._received_at.replace(tzinfo=UTC) == now
    with pytest.raises(store.KeyClash), db.begin_nested():
        insert([["k3", "k1"], ["h3", "h1"], [None, None], [None, None], [None, None]])
    assert {r._key for r in db.execute(select(table))} == {"k1", "k2"}  # k3 rolled back with k1
