"""Checking a large batch in a helper process (`exchange.reading`): the same chunks as in-process,
errors raised as they would be, a dead or abandoned helper never leaves a batch half-read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from govshare.errors import Invalid
from govshare.exchange import ingest as ingest_module
from govshare.exchange import reading, store
from govshare.exchange.body import BatchRequest, Mode, from_file
from govshare.exchange.models import Batch, QuarantinedRow
from govshare.exchange.quality import ProviderRule
from tests.conftest import settings_override
from tests.exchange.test_ingest import csv_body, idn, line, push
from tests.helpers import login

ITEMS = [
    {"name": "id_number", "title": "公民身份号码", "data_type": "C", "length": 18, "is_key": True,
     "element": "DE0001"},
    {"name": "name", "title": "姓名", "data_type": "C", "length": 20},
    {"name": "birth", "title": "出生日期", "data_type": "D"},
]  # fmt: skip


def numbers(n: int) -> list[str]:
    return [
        idn("130102", f"{1950 + i // 1000}{1 + i % 12:02d}{1 + i % 28:02d}", f"{i % 1000:03d}")
        for i in range(n)
    ]


def write(path: Path, rows: list[str], header: str = "id_number,name,birth") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def chunks(path: Path, plan: reading.Plan, *, helper: bool) -> list[reading.Checked]:
    with path.open("rb") as file:
        req = BatchRequest(resource_id=0, body=from_file(file), content_type="text/csv", mode=plan.mode)
        found = reading.checked_chunks(req, plan, helper_min_bytes=1 if helper else 0)
        assert found.gi_code.co_name == ("_in_helper" if helper else "_in_process")  # type: ignore[attr-defined]
        try:
            return list(found)
        finally:
            found.close()


def plan(**overrides: Any) -> reading.Plan:
    base: dict[str, Any] = {
        "content_type": "text/csv",
        "encoding": None,
        "mode": Mode.upsert,
        "items": ITEMS,
        "keys": ["id_number"],
        "provider_rules": [ProviderRule("name", "regex", {"pattern": "[^0-9]+"}, "姓名不能含数字")],
        "chunk": 7,
    }
    return reading.Plan(**{**base, **overrides})


def test_the_helper_sends_exactly_the_chunks_checked_in_process(tmp_path) -> None:
    ids = numbers(30)
    rows = [f"{n},张{i},{n[6:14]}" for i, n in enumerate(ids)]
    rows[3] = f"{ids[3][:17]}{'0' if ids[3][17] != '0' else '1'},王芳,19800101"  # check digit
    rows[11] = f"{ids[11]},李4,19800230"  # provider rule and a bad date
    rows[20] = f"{ids[20]},赵敏"  # a column short
    path = write(tmp_path / "body.csv", rows)
    for mode in (Mode.upsert, Mode.delete):
        here, there = chunks(path, plan(mode=mode), helper=False), chunks(path, plan(mode=mode), helper=True)
        assert [len(c.records) for c in there] == [7, 7, 7, 7, 2]
        for a, b in zip(here, there, strict=True):
            assert (a.records, a.columns, a.failed, a.clean, a.row_keys, a.contents) == (
                b.records, b.columns, b.failed, b.clean, b.row_keys, b.contents,
            )  # fmt: skip
    failed = chunks(path, plan(), helper=True)[1].failed
    assert [r["reason"] for r in failed[4]] == [
        "姓名不能含数字",
        "不是有效的日期（格式应为 YYYY-MM-DD 或 YYYYMMDD）",
    ]


def test_a_body_the_helper_cannot_read_is_refused_as_in_process(tmp_path) -> None:
    wrong_header = write(tmp_path / "header.csv", [f"{numbers(1)[0]},张三"], header="id,name")
    with pytest.raises(Invalid) as error:
        chunks(wrong_header, plan(), helper=True)
    assert "目录中不存在的字段：id" in error.value.message
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(write(tmp_path / "x.csv", [f"{n},张三,19800101" for n in numbers(40)]).read_bytes()
                    + "钱多多".encode("gb18030"))  # fmt: skip
    with pytest.raises(Invalid) as error:
        chunks(gbk, plan(encoding="utf-8"), helper=True)
    assert "无法按 utf-8 解码" in error.value.message


def test_a_helper_that_dies_or_is_abandoned_is_stopped_and_fails_the_batch(tmp_path) -> None:
    path = write(tmp_path / "body.csv", [f"{n},张三,19800101" for n in numbers(5000)])
    with path.open("rb") as file:
        req = BatchRequest(resource_id=0, body=from_file(file), content_type="text/csv")
        found = reading.checked_chunks(req, plan(chunk=10), helper_min_bytes=1)
        first = next(found)
        assert len(first.records) == 10
        helper = found.gi_frame.f_locals["helper"]  # type: ignore[attr-defined]
        helper.kill()
        with pytest.raises(RuntimeError, match="stopped without finishing"):
            for _ in found:
                pass
        again = reading.checked_chunks(req, plan(chunk=10), helper_min_bytes=1)
        next(again)
        helper = again.gi_frame.f_locals["helper"]  # type: ignore[attr-defined]
        again.close()  # the batch failed while writing: the helper goes with it
        assert helper.poll() is not None
    missing = tmp_path / "gone.csv"
    with pytest.raises(RuntimeError, match="FileNotFoundError"):
        list(reading._in_helper(str(missing), 10, plan()))


def test_a_large_push_is_checked_by_the_helper_with_the_same_outcome(
    client, city, db, population, monkeypatch
) -> None:
    monkeypatch.setattr(ingest_module, "CHUNK", 500)
    helpers: list[int] = []
    real = reading._in_helper

    def counted(path: str, size: int, plan: reading.Plan):  # type: ignore[no-untyped-def]
        helpers.append(size)
        return real(path, size, plan)

    monkeypatch.setattr(reading, "_in_helper", counted)
    unique = numbers(12_000)
    rows = [line(n) for n in unique]
    rows[700] = line(unique[700][:17] + ("0" if unique[700][17] != "0" else "1"))  # a broken check digit
    rows.insert(5_000, line(unique[10], "重复"))  # an earlier chunk's key
    body = csv_body(*rows)
    assert len(body) > 1024 * 1024
    with settings_override(ingest_helper_min_mb=1):
        response = push(client, login(client, "police_admin"), population.id, body)
    assert response.status_code == 201, response.text
    assert helpers == [len(body)]
    batch = response.json()
    assert (batch["accepted"], batch["quarantined"]) == (len(unique) - 1, 2)
    reasons = batch["report"]["reasons"]
    assert reasons["与本批次之前的行业务主键重复"] == 1 and any("公民身份号码" in r for r in reasons)
    table = store.table_for(db, population.id, [])
    assert db.scalar(select(func.count()).select_from(table)) == len(unique) - 1
    assert db.scalar(select(func.count()).select_from(QuarantinedRow)) == 2
    # The same body again, in-process: every row is unchanged.
    with settings_override(ingest_helper_min_mb=0):
        again = push(client, login(client, "police_admin"), population.id, body).json()
    assert (again["accepted"], again["quarantined"], again["unchanged"]) == (
        len(unique) - 1,
        2,
        len(unique) - 1,
    )
    assert db.scalar(select(func.count()).select_from(Batch)) == 2 and len(helpers) == 1
