"""Sensitive-data discovery on ingest (S13): values reveal more than the catalog says."""

from __future__ import annotations

from sqlalchemy import select

from govshare.catalog.models import Resource
from govshare.exchange.discovery import discover, luhn
from govshare.identifiers import credit_code_check_char, id_number_check_char
from govshare.tasks.models import Task
from tests.helpers import login

ID = "13010219850317771" + id_number_check_char("13010219850317771")
CARD = "6222020200112233445"  # not Luhn-valid; fixed below


def _luhn_complete(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn(body + d))


def test_detectors_recognise_values_not_column_names() -> None:
    card = _luhn_complete("622202020011223344")
    credit = "91130100MA0CY7R21" + credit_code_check_char("91130100MA0CY7R21")
    items = [
        {"name": "a", "title": "备注一", "data_type": "C", "sensitivity": "L1"},
        {"name": "b", "title": "备注二", "data_type": "C", "sensitivity": "L1"},
        {"name": "c", "title": "备注三", "data_type": "M", "sensitivity": "L1"},
        {"name": "d", "title": "编号", "data_type": "C", "sensitivity": "L1"},
        {"name": "e", "title": "电话", "data_type": "C", "sensitivity": "L3"},
        {"name": "f", "title": "数量", "data_type": "I", "sensitivity": "L1"},
    ]
    rows = [
        {
            "a": ID,
            "b": card,
            "c": "河北省石家庄市长安区建设北大街1号",
            "d": credit,
            "e": "13912345678",
            "f": 5,
        }
    ] * 3
    flags = {f["item"]: f for f in discover(items, rows)}
    assert flags["a"]["detected"] == "公民身份号码" and flags["a"]["suggested_level"] == "L3"
    assert flags["b"]["detected"] == "银行卡号"
    assert flags["c"]["detected"] == "住址"
    assert "d" not in flags  # credit codes identify organisations: no higher level needed
    assert "e" not in flags  # already L3
    assert not luhn(CARD) and luhn(card)
    assert discover(items, [{"a": "普通文本"}] * 3) == []


def test_a_batch_flags_an_item_whose_values_are_more_sensitive_than_its_level(client, city, db) -> None:
    homes = db.scalar(select(Resource).where(Resource.name == "养老服务机构信息"))
    assert homes is not None
    credit = "52130100MJ0000001"
    body = "credit_code,org_name,phone\n" + "".join(
        f"{credit[:-2]}{i:02d}"
        + credit_code_check_char(f"{credit[:-2]}{i:02d}")[-1:]
        + f",养老院{i},1391234567{i}\n"
        for i in range(5)
    )
    response = client.post(
        f"/api/v1/resources/{homes.id}/batches",
        content=body.encode(),
        headers={**login(client, "civil_admin"), "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    flags = response.json()["report"]["sensitivity"]
    assert flags == [
        {
            "item": "phone",
            "title": "联系电话",
            "detected": "手机号码",
            "catalog_level": "L1",
            "suggested_level": "L3",
            "share": 1.0,
        }
    ]
    tasks = db.scalars(
        select(Task).where(Task.kind == "sensitivity_flag", Task.subject_id == str(homes.id))
    ).all()
    assert len(tasks) == 2 and {t.assignee_role for t in tasks} == {"data_admin", "bureau_admin"}
    again = client.post(
        f"/api/v1/resources/{homes.id}/batches",
        content=body.encode(),
        headers={**login(client, "civil_admin"), "Content-Type": "text/csv"},
    )
    assert again.status_code == 201
    assert (
        len(
            db.scalars(
                select(Task).where(Task.kind == "sensitivity_flag", Task.subject_id == str(homes.id))
            ).all()
        )
        == 2
    )  # once while open
