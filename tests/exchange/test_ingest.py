"""Push ingest through the API: formats, encodings, modes, idempotency, checksums, quality and
quarantine, atomicity, permissions (issue 4, S14–S17)."""

from __future__ import annotations

import json
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.exchange import ingest as ingest_module
from govshare.exchange import store
from govshare.exchange.models import Batch
from govshare.identifiers import id_number_check_char
from tests.conftest import settings_override
from tests.helpers import bearer, login

HEADER = "id_number,name,gender,birth_date,mobile,address,region_code"


def idn(region: str, birth: str, seq: str) -> str:
    body = region + birth + seq
    return body + id_number_check_char(body)


GOOD1 = idn("130102", "19850317", "771")
GOOD2 = idn("130104", "19920611", "532")
BAD = GOOD2[:17] + ("0" if GOOD2[17] != "0" else "1")


def line(number: str, name: str = "张伟", gender: str = "男", mobile: str = "13912345678") -> str:
    birth = f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
    return f"{number},{name},{gender},{birth},{mobile},河北省石家庄市长安区建设北大街1号,{number[:6]}"


def csv_body(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


@pytest.fixture
def population(db) -> Resource:  # type: ignore[no-untyped-def]
    resource = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert resource is not None
    return resource


def push(
    client, headers, resource_id: int, body: bytes, *, content_type: str = "text/csv", params=None, extra=None
):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/resources/{resource_id}/batches",
        content=body,
        params=params or {},
        headers={**headers, "Content-Type": content_type, **(extra or {})},
    )


def stored(db, resource_id: int) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    version_items = [{"name": n, "title": n, "data_type": "C", "length": None} for n in HEADER.split(",")]
    table = store.table_for(db, resource_id, version_items)
    return {r.id_number: r._mapping for r in db.execute(select(table))}


def test_good_rows_are_stored_and_bad_ones_quarantined_with_reasons(client, city, db, population) -> None:
    admin = login(client, "police_admin")
    response = push(
        client, admin, population.id, csv_body(line(GOOD1), line(GOOD2, "李娜", "2"), line(BAD, "王芳"))
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    assert (batch["accepted"], batch["quarantined"], batch["inserted"], batch["status"]) == (
        2,
        1,
        2,
        "applied",
    )
    assert batch["quality_score"] == pytest.approx(66.67)

    rows = stored(db, population.id)
    assert set(rows) == {GOOD1, GOOD2}
    assert rows[GOOD2]["gender"] == "女"  # GB/T 2261.1 code 2 normalised
    assert rows[GOOD1]["_batch_id"] == batch["batch_id"] and len(rows[GOOD1]["_row_hash"]) == 64
    assert str(rows[GOOD1]["birth_date"]) == "1985-03-17"

    quarantine = client.get(
        f"/api/v1/resources/{population.id}/batches/{batch['batch_id']}/quarantine", headers=admin
    ).json()
    assert quarantine["total"] == 1
    row = quarantine["items"][0]
    assert row["line_no"] == 4 and row["data"]["id_number"] == BAD
    assert "GB 11643" in row["reasons"][0]["reason"] and row["reasons"][0]["item"] == "id_number"
    event = db.scalar(
        select(AuditEvent)
        .where(AuditEvent.event_type == "data.batch_ingested")
        .order_by(AuditEvent.seq.desc())
    )
    assert event is not None and json.loads(event.details)["batch_id"] == batch["batch_id"]


def test_every_rule_names_the_item_and_the_problem(client, city, db, population) -> None:
    rows = [
        line(GOOD1, gender="X"),
        line(GOOD2, mobile="1234"),
        f"{idn('130105', '20010101', '118')},赵敏,女,2001-13-45,13912345678,地址,130105",
        ",无号,男,2001-01-01,13912345678,地址,130105",
        f"{idn('130105', '19900101', '113')},名字太长" + "长" * 60 + ",男,1990-01-01,13912345678,地址,130105",
        "only,three,columns",
    ]
    batch = push(client, login(client, "police_admin"), population.id, csv_body(*rows)).json()
    assert (batch["accepted"], batch["quarantined"]) == (0, 6)
    reasons = batch["report"]["reasons"]
    assert any("性别" in r for r in reasons) and any("手机号码" in r for r in reasons)
    assert any("出生日期" in r and "YYYY-MM-DD" in r for r in reasons)
    assert any("业务主键不能为空" in r for r in reasons) and any("超过目录规定的 50" in r for r in reasons)
    assert any("表头有 7 列" in r for r in reasons)


def test_duplicate_keys_in_a_batch_are_quarantined_across_chunks(
    client, city, db, population, monkeypatch
) -> None:
    monkeypatch.setattr(ingest_module, "CHUNK", 2)
    body = csv_body(line(GOOD1), line(GOOD1, "重复一"), line(GOOD2), line(GOOD1, "重复二"))
    batch = push(client, login(client, "police_admin"), population.id, body).json()
    assert (batch["accepted"], batch["quarantined"]) == (2, 2)
    assert stored(db, population.id)[GOOD1]["name"] == "张伟"


def test_a_retry_with_the_same_key_returns_the_first_batch(client, city, db, population) -> None:
    admin = login(client, "police_admin")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = push(client, admin, population.id, csv_body(line(GOOD1)), extra=key)
    again = push(client, admin, population.id, csv_body(line(GOOD1)), extra=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["batch_id"] == first.json()["batch_id"]
    assert db.scalar(
        select(Batch).where(Batch.resource_id == population.id).order_by(Batch.received_at.desc())
    )
    other = push(client, admin, population.id, csv_body(line(GOOD2)), extra=key)
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["error"]["message"]


def test_gbk_exports_are_read_declared_or_detected(client, city, db, population) -> None:
    admin = login(client, "police_admin")
    body = csv_body(line(GOOD1, "赵敏")).decode().encode("gb18030")
    declared = push(client, admin, population.id, body, params={"encoding": "gb18030"})
    assert declared.status_code == 201 and declared.json()["accepted"] == 1
    detected = push(client, admin, population.id, csv_body(line(GOOD2, "钱多多")).decode().encode("gbk"))
    assert detected.status_code == 201 and detected.json()["accepted"] == 1
    assert stored(db, population.id)[GOOD2]["name"] == "钱多多"


def test_a_wrong_declared_encoding_is_refused_and_changes_nothing(client, city, db, population) -> None:
    admin = login(client, "police_admin")
    body = csv_body(*[line(GOOD1, "赵敏")] * 1).decode().encode("gb18030")
    response = push(client, admin, population.id, body, params={"encoding": "utf-8"})
    assert response.status_code == 422 and "gb18030" in response.json()["error"]["message"]
    assert not store.exists(db, population.id)  # the whole batch rolled back, even the new table
    assert db.scalar(select(Batch).where(Batch.resource_id == population.id)) is None


@pytest.mark.parametrize(
    ("header", "message"),
    [(HEADER + ",shoe_size", "shoe_size"), ("name,gender", "缺少业务主键"), ("id_number,name,name", "重复")],
)
def test_wrong_columns_are_refused(client, city, db, population, header, message) -> None:
    response = push(client, login(client, "police_admin"), population.id, csv_body(header=header))
    assert response.status_code == 422 and message in response.json()["error"]["message"]


def test_json_arrays_and_ndjson(client, city, db, population) -> None:
    admin = login(client, "police_admin")
    records = [
        {"id_number": GOOD1, "name": "张伟", "birth_date": "19850317"},
        {"id_number": BAD, "name": "错号"},
    ]
    array = push(client, admin, population.id, json.dumps(records).encode(), content_type="application/json")
    assert (array.status_code, array.json()["accepted"], array.json()["quarantined"]) == (201, 1, 1)
    ndjson = "\n".join(
        json.dumps(r) for r in [{"id_number": GOOD2, "name": "李娜"}, "not an object"]
    ).encode()
    response = push(client, admin, population.id, ndjson, content_type="application/x-ndjson")
    assert (response.json()["accepted"], response.json()["quarantined"]) == (1, 1)
    assert str(stored(db, population.id)[GOOD1]["birth_date"]) == "1985-03-17"
    broken = push(client, admin, population.id, b"[{", content_type="application/json")
    assert broken.status_code == 422
    assert push(client, admin, population.id, b"x", content_type="text/plain").status_code == 422


def test_snapshot_retires_absent_rows_without_losing_them(client, city, db, population) -> None:
    admin = login(client, "police_admin")
    third = idn("130105", "20010101", "118")
    push(client, admin, population.id, csv_body(line(GOOD1), line(GOOD2), line(third)))
    mass = push(client, admin, population.id, csv_body(line(GOOD1)), params={"mode": "snapshot"})
    assert mass.status_code == 422 and "allow_mass_retire" in mass.json()["error"]["message"]
    assert all(r["_retired_at"] is None for r in stored(db, population.id).values())  # nothing changed

    snapshot = push(
        client,
        admin,
        population.id,
        csv_body(line(GOOD1), line(GOOD2, "李娜改名")),
        params={"mode": "snapshot"},
    )
    body = snapshot.json()
    assert (body["retired"], body["updated"], body["unchanged"]) == (1, 1, 1)
    rows = stored(db, population.id)
    assert rows[third]["_retired_at"] is not None and rows[third]["name"] == "张伟"  # kept, marked
    assert rows[GOOD2]["name"] == "李娜改名" and rows[GOOD1]["_retired_at"] is None

    deleted = push(
        client, admin, population.id, csv_body(GOOD1, header="id_number"), params={"mode": "delete"}
    )
    assert deleted.json()["retired"] == 1
    assert stored(db, population.id)[GOOD1]["_retired_batch_id"] == deleted.json()["batch_id"]
    forced = push(
        client,
        admin,
        population.id,
        csv_body(line(third)),
        params={"mode": "snapshot", "allow_mass_retire": "true"},
    )
    assert forced.status_code == 201 and forced.json()["retired"] == 1


def test_a_checksum_protects_against_truncation(client, city, db, population) -> None:
    admin = login(client, "police_admin")
    body = csv_body(line(GOOD1), line(GOOD2))
    digest = hashes.Hash(hashes.SM3())
    digest.update(body)
    good = digest.finalize().hex()
    truncated = push(client, admin, population.id, body[:-20], extra={"X-Content-SM3": good})
    assert truncated.status_code == 422 and "X-Content-SM3" in truncated.json()["error"]["message"]
    assert push(client, admin, population.id, body, extra={"X-Content-SM3": good.upper()}).status_code == 201


def test_who_may_push(client, city, db, population) -> None:
    body = csv_body(line(GOOD1))
    assert push(client, login(client, "civil_admin"), population.id, body).status_code == 403
    assert push(client, login(client, "police_user"), population.id, body).status_code == 403
    police_system = bearer(city.tokens["police-hukou"])
    pushed = push(client, police_system, population.id, body)
    assert pushed.status_code == 201 and pushed.json()["system_id"] is not None
    assert push(client, bearer(city.tokens["civil-assist"]), population.id, body).status_code == 403
    batches = client.get(f"/api/v1/resources/{population.id}/batches", headers=police_system).json()
    assert batches["items"][0]["batch_id"] == pushed.json()["batch_id"]
    assert (
        client.get(
            f"/api/v1/resources/{population.id}/batches", headers=login(client, "civil_admin")
        ).status_code
        == 403
    )


def test_only_published_table_resources_take_batches(client, city, db) -> None:
    admin = login(client, "police_admin")
    pending = db.scalar(select(Resource).where(Resource.name == "流动人口居住登记信息"))
    assert push(client, admin, pending.id, b"id_number\n").status_code == 422
    api = db.scalar(select(Resource).where(Resource.name == "道路运输经营许可信息"))
    assert push(client, login(client, "transport_admin"), api.id, b"licence_no\n").status_code == 422


def test_a_batch_larger_than_the_limit_is_refused(client, city, db, population) -> None:
    with settings_override(max_batch_bytes=1024 * 1024):
        big = csv_body(*[line(GOOD1)] * 12000)
        assert len(big) > 1024 * 1024
        response = push(client, login(client, "police_admin"), population.id, big)
    assert response.status_code == 413


def test_new_items_add_columns_and_keep_rows(client, city, db, population) -> None:
    from govshare.catalog import service
    from govshare.catalog.schemas import ResourceUpdate, ReviewDecision, SecrecyReview
    from tests.helpers import actor

    push(client, login(client, "police_admin"), population.id, csv_body(line(GOOD1)))
    police = actor(db, "police_admin")
    detail = client.get(f"/api/v1/resources/{population.id}", headers=login(client, "police_admin")).json()
    fields = (
        "category",
        "name",
        "summary",
        "format",
        "provision_method",
        "sharing_type",
        "open_type",
        "update_cycle",
        "items",
    )
    data = {k: detail[k] for k in fields}
    data["items"] = [*detail["items"], {"name": "nation", "title": "民族", "data_type": "C", "length": 2}]
    service.update_resource(
        db,
        actor=police,
        resource_id=population.id,
        data=ResourceUpdate(**data, lock_version=detail["lock_version"], change_reason="增加民族"),
    )
    service.record_secrecy(
        db,
        actor=actor(db, "police_security"),
        resource_id=population.id,
        data=SecrecyReview(reviewer="安全员", reviewed_on="2026-11-20", conclusion="passed"),
    )
    service.submit(db, actor=police, resource_id=population.id)
    service.review(
        db,
        actor=actor(db, "bureau_reviewer"),
        resource_id=population.id,
        data=ReviewDecision(decision="approve"),
    )
    response = push(
        client,
        login(client, "police_admin"),
        population.id,
        csv_body(line(GOOD2) + ",汉", header=HEADER + ",nation"),
    )
    assert response.status_code == 201 and response.json()["catalog_version"] == 2
    table = store.table_for(
        db,
        population.id,
        [*detail["items"], {"name": "nation", "title": "民族", "data_type": "C", "length": 2}],
    )
    rows = {r.id_number: r for r in db.execute(select(table))}
    assert rows[GOOD1].nation is None and rows[GOOD2].nation == "汉"


def test_timeliness_lists_late_and_never_provided_resources(client, city, db, population) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    admin = login(client, "police_admin")
    before = {r["name"]: r for r in client.get("/api/v1/provision/timeliness", headers=admin).json()}
    assert before["人口基础信息"]["late"] and before["人口基础信息"]["last_update"] is None
    assert {r["provider"] for r in before.values()} == {"石家庄市公安局"}  # a department sees its own

    batch = push(client, admin, population.id, csv_body(line(GOOD1))).json()
    fresh = {r["name"]: r for r in client.get("/api/v1/provision/timeliness", headers=admin).json()}
    assert not fresh["人口基础信息"]["late"]  # daily, updated just now

    from govshare.db import utcnow

    three_days_ago = utcnow() - timedelta(days=3)
    db.execute(update(Batch).where(Batch.id == batch["batch_id"]).values(finished_at=three_days_ago))
    late = client.get(
        "/api/v1/provision/timeliness", params={"late_only": True}, headers=login(client, "bureau_reviewer")
    ).json()
    row = next(r for r in late if r["name"] == "人口基础信息")
    assert row["days_late"] == 2 and row["provider"] == "石家庄市公安局"
    assert any(r["provider"] != "石家庄市公安局" for r in late)  # the Bureau sees every department
    assert client.get("/api/v1/provision/timeliness", headers=login(client, "civil_user")).status_code == 403


def test_anomalies_alert_the_bureau(client, city, db, population) -> None:
    from govshare.exchange.ingest import anomalies
    from govshare.tasks.models import Task

    assert anomalies(95.0, 0, 10, 10) == []
    assert anomalies(80.0, 0, 8, 10) == ["质量得分 80.0 低于 90"]
    assert anomalies(100.0, 100, 101, 101) == ["新增 101 行，超过原有 100 行"]
    assert anomalies(100.0, 99, 500, 500) == []  # small resources grow as they like

    admin = login(client, "police_admin")
    batch = push(client, admin, population.id, csv_body(line(GOOD1), line(BAD))).json()
    assert batch["report"]["anomalies"] == ["质量得分 50.0 低于 90"]
    task = db.scalar(select(Task).where(Task.kind == "batch_anomaly", Task.subject_id == batch["batch_id"]))
    assert task is not None and task.assignee_role == "bureau_admin"
    clean = push(client, admin, population.id, csv_body(line(GOOD2))).json()
    assert clean["report"]["anomalies"] == []
