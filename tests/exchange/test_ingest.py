"""Push ingest through the API: formats, encodings, modes, idempotency, checksums, quality and
quarantine, atomicity, permissions (issue 4, S14–S17)."""

from __future__ import annotations

import io
import json
import uuid
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import hashes
from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.exchange import ingest as ingest_module
from govshare.exchange import jsonstream, store
from govshare.exchange.models import Batch
from govshare.identifiers import id_number_check_char
from tests.conftest import settings_override
from tests.helpers import bearer, login, org

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


def test_numbers_the_store_cannot_hold_are_quarantined_not_failed(client, city, db) -> None:
    """金额 is NUMERIC(20, 2) in the store: a value too large, or with more than two decimals (which
    the database would round), is quarantined instead of failing the batch (a 500 on PostgreSQL)."""
    allowance = db.scalar(select(Resource).where(Resource.name == "最低生活保障对象信息"))
    assert allowance is not None
    header = "id_number,name,amount"
    rows = [
        f"{GOOD1},张伟,1234.50",
        f"{GOOD2},李娜,1e18",
        f"{idn('130105', '20010101', '118')},赵敏,12.505",
        f"{idn('130105', '19900101', '113')},王芳,Infinity",
    ]
    response = push(client, login(client, "civil_admin"), allowance.id, csv_body(*rows, header=header))
    assert response.status_code == 201, response.text
    batch = response.json()
    assert (batch["accepted"], batch["quarantined"]) == (1, 3)
    reasons = " ".join(batch["report"]["reasons"])
    assert "整数部分最多 18 位" in reasons and "小数最多 2 位" in reasons and "应为数字" in reasons


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


def publish_items(client, db, resource_id: int, change, reason: str = "调整信息项") -> list[dict]:  # type: ignore[no-untyped-def]
    """Publish a new catalog version of the resource whose items are `change(current items)`, through
    the catalog services (edit, secrecy review, submit, approve); returns the new items."""
    from govshare.catalog import service
    from govshare.catalog.schemas import ResourceUpdate, ReviewDecision, SecrecyReview
    from tests.helpers import actor

    police = actor(db, "police_admin")
    detail = client.get(f"/api/v1/resources/{resource_id}", headers=login(client, "police_admin")).json()
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
    data["items"] = change([dict(i) for i in detail["items"]])
    service.update_resource(
        db,
        actor=police,
        resource_id=resource_id,
        data=ResourceUpdate(**data, lock_version=detail["lock_version"], change_reason=reason),
    )
    service.record_secrecy(
        db,
        actor=actor(db, "police_security"),
        resource_id=resource_id,
        data=SecrecyReview(reviewer="安全员", reviewed_on="2026-11-20", conclusion="passed"),
    )
    service.submit(db, actor=police, resource_id=resource_id)
    service.review(
        db,
        actor=actor(db, "bureau_reviewer"),
        resource_id=resource_id,
        data=ReviewDecision(decision="approve"),
    )
    return data["items"]


def test_new_items_add_columns_and_keep_rows(client, city, db, population) -> None:
    push(client, login(client, "police_admin"), population.id, csv_body(line(GOOD1)))
    nation = {"name": "nation", "title": "民族", "data_type": "C", "length": 2}
    items = publish_items(client, db, population.id, lambda items: [*items, nation], "增加民族")
    response = push(
        client,
        login(client, "police_admin"),
        population.id,
        csv_body(line(GOOD2) + ",汉", header=HEADER + ",nation"),
    )
    assert response.status_code == 201 and response.json()["catalog_version"] == 2
    assert "migrations" not in response.json()["report"]  # a new column is not a migration
    table = store.table_for(db, population.id, items)
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


def test_anomalies_alert_the_provider_and_the_bureau(client, city, db, population) -> None:
    from govshare.tasks.models import Task

    admin = login(client, "police_admin")
    batch = push(client, admin, population.id, csv_body(line(GOOD1), line(BAD))).json()
    assert batch["report"]["anomalies"] == ["质量得分 50.0 低于 90"]
    alerts = db.scalars(
        select(Task).where(Task.kind == "batch_anomaly", Task.subject_id == batch["batch_id"])
    ).all()
    assert {(t.org_id, t.assignee_role) for t in alerts} == {
        (population.org_id, "data_admin"),
        (org(db, "bureau").id, "bureau_admin"),
    }
    assert all("质量得分 50.0 低于 90" in t.title for t in alerts)
    clean = push(client, admin, population.id, csv_body(line(GOOD2))).json()
    assert clean["report"]["anomalies"] == []
    with settings_override(batch_alert_score=40):
        tolerated = push(client, admin, population.id, csv_body(line(GOOD1, "改名"), line(BAD))).json()
    assert tolerated["report"]["anomalies"] == []
    kinds = db.scalars(select(Task.kind).where(Task.subject_id == tolerated["batch_id"])).all()
    assert kinds == ["batch_quality"]


def people(count: int, start: int = 0) -> list[str]:
    """`count` valid rows with distinct keys (sequence numbers from `start`)."""
    return [line(idn("130102", "19900101", f"{n:03d}")) for n in range(start, start + count)]


def test_a_batch_changing_the_row_count_beyond_the_ratio_is_an_anomaly(client, city, db, population) -> None:
    from govshare.tasks.models import Task

    admin = login(client, "police_admin")
    with settings_override(batch_row_change_ratio=0.5, batch_row_change_min_rows=10):
        first = push(client, admin, population.id, csv_body(*people(9))).json()
        assert first["report"]["anomalies"] == []  # from nothing: a new resource fills as it likes
        small = push(client, admin, population.id, csv_body(*people(9, 9))).json()
        assert small["inserted"] == 9 and small["report"]["anomalies"] == []  # 9 live rows: below 10
        # 18 live rows: 9 new ones are not more than half of them, 10 are.
        within = push(client, admin, population.id, csv_body(*people(9, 18))).json()
        assert within["report"]["anomalies"] == []
        grown = push(client, admin, population.id, csv_body(*people(28, 27))).json()
        assert grown["report"]["anomalies"] == ["新增 28 行，超过原有 27 行的 50%"]
        alerts = db.scalars(
            select(Task).where(Task.kind == "batch_anomaly", Task.subject_id == grown["batch_id"])
        ).all()
        assert len(alerts) == 2 and all("新增 28 行" in t.title for t in alerts)

        # Shrinking: 55 live rows; a delete of 27 is within half, a snapshot keeping 13 of 28 is not.
        ids = ",".join(HEADER.split(",")[:1])
        keys = [row.split(",")[0] for row in people(55)]
        deleted = push(
            client, admin, population.id, csv_body(*keys[:27], header=ids), params={"mode": "delete"}
        ).json()
        assert deleted["retired"] == 27 and deleted["report"]["anomalies"] == []
        snapshot = push(
            client,
            admin,
            population.id,
            csv_body(*people(13, 42)),
            params={"mode": "snapshot", "allow_mass_retire": "true"},
        ).json()
        assert snapshot["retired"] == 15
        assert snapshot["report"]["anomalies"] == ["失效 15 行，超过原有 28 行的 50%"]
    with settings_override(batch_row_change_ratio=0.25, batch_row_change_min_rows=10):
        # 13 live rows; deleting 4 of them retires more than a quarter.
        shrunk = push(
            client, admin, population.id, csv_body(*keys[42:46], header=ids), params={"mode": "delete"}
        ).json()
        assert shrunk["report"]["anomalies"] == ["失效 4 行，超过原有 13 行的 25%"]


def test_json_array_reader_across_reads() -> None:
    records = [
        {
            "id_number": f"{n:018d}",
            "name": "欧阳" * (n % 5) + "娜",
            "score": n * 1234.5678,
            "big": 10**20 + n,
            "flags": [True, False, None],
            "escaped": 'quote " backslash \\ 中文 \u0001 end',
        }
        for n in range(200)
    ]
    for body in (json.dumps(records), json.dumps(records, ensure_ascii=False, indent=2)):
        for read_chars in (1, 2, 3, 5, 7, 64, 1000):
            # Numbers with a fraction come as Decimal: amounts are never rounded through floats.
            assert list(jsonstream.json_array(io.StringIO(body), read_chars)) == json.loads(
                body, parse_float=Decimal
            )
    numbers = '[1, 22 ,333,-4.5e3,\ntrue, null, "\\u4e2d", {}, []]'
    for read_chars in (1, 2, 4):
        assert list(jsonstream.json_array(io.StringIO(numbers), read_chars)) == [
            1,
            22,
            333,
            -4500.0,
            True,
            None,
            "中",
            {},
            [],
        ]
    assert list(jsonstream.json_array(io.StringIO("  [ ]  "), 1)) == []


class LazyArray:
    """A text stream of a JSON array of `count` Chinese records, made as it is read: the body never
    exists whole, so what a reader holds is what it kept. Records where each element ends."""

    def __init__(self, count: int, *, record_ends: bool = False) -> None:
        self.count, self.made, self.served = count, 0, 0
        self.pending = "["
        self.ends: list[int] | None = [] if record_ends else None
        self.length = 1

    def _element(self, n: int) -> str:
        return json.dumps(
            {"n": n, "姓名": "张伟" * 20, "住址": "河北省石家庄市长安区建设北大街"}, ensure_ascii=False
        )

    def read(self, size: int = -1) -> str:
        while len(self.pending) < size and self.made <= self.count:
            if self.made == self.count:
                piece = "]"
            else:
                element = self._element(self.made)
                piece = ("," if self.made else "") + element
                if self.ends is not None:
                    self.ends.append(self.length + len(piece))
            self.made += 1
            self.pending += piece
            self.length += len(piece)
        out, self.pending = self.pending[:size], self.pending[size:]
        self.served += len(out)
        return out


def test_json_array_reader_reads_ahead_one_read_at_most() -> None:
    stream = LazyArray(20_000, record_ends=True)
    read_chars = 4096
    for n, element in enumerate(jsonstream.json_array(stream, read_chars)):
        assert element["n"] == n
        assert stream.ends is not None
        # At most one read (and a few characters) past the element: json.load would read everything.
        assert stream.served - stream.ends[n] <= read_chars + 64
    assert n == 19_999 and stream.served == stream.length


def test_json_array_reader_memory_does_not_grow_with_the_elements() -> None:
    import tracemalloc

    stream = LazyArray(30_000)
    tracemalloc.start()
    try:
        count = sum(1 for _ in jsonstream.json_array(stream))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 30_000 and stream.served > 2_500_000  # characters; json.loads of it peaks near 20 MB
    assert peak < 1_500_000, peak


def test_a_large_json_array_is_streamed_into_the_store(client, city, db, population) -> None:
    records = [
        {"id_number": idn("130102", "19900101", f"{n:03d}"), "name": "欧阳娜娜", "address": "河北省" * 30}
        for n in range(1000)
    ]
    body = json.dumps(records, ensure_ascii=False).encode()
    assert len(body) > 3 * jsonstream.JSON_READ_CHARS
    response = push(
        client, login(client, "police_admin"), population.id, body, content_type="application/json"
    )
    assert response.status_code == 201, response.text
    assert (response.json()["accepted"], response.json()["quarantined"]) == (1000, 0)
    rows = stored(db, population.id)
    assert len(rows) == 1000 and rows[records[777]["id_number"]]["address"] == "河北省" * 30


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "收到的内容是空的"),
        ('{"id_number": "1"}', "应为对象数组"),
        ('[{"id_number": "1"}, {"id_number": "2"}', "缺少结尾的 ]"),
        ('[{"id_number": "1"}, {"name": "张', "缺少结尾的 ]"),
        ('[{"id_number": "1"},', "缺少结尾的 ]"),
        ('[{"id_number": "1"} {"id_number": "2"}]', "第 1 个元素之后应为逗号或 ]"),
        ('[{"id_number": "1"}, oops, {"id_number": "2"}]', "第 2 个元素无法解析"),
        ('[{"id_number": "1"}] []', "] 之后还有内容"),
    ],
)
def test_a_broken_json_array_is_refused(client, city, db, population, body, message) -> None:
    response = push(
        client, login(client, "police_admin"), population.id, body.encode(), content_type="application/json"
    )
    assert response.status_code == 422 and message in response.json()["error"]["message"], response.text


def test_a_truncated_json_array_applies_nothing(client, city, db, population, monkeypatch) -> None:
    monkeypatch.setattr(ingest_module, "CHUNK", 10)  # chunks are applied before the end is read
    records = [{"id_number": idn("130102", "19900101", f"{n:03d}"), "name": "张伟"} for n in range(100)]
    body = json.dumps(records).encode()
    admin = login(client, "police_admin")
    for cut in (body[:-1], body[: len(body) // 2]):
        response = push(client, admin, population.id, cut, content_type="application/json")
        assert response.status_code == 422 and "缺少结尾的 ]" in response.json()["error"]["message"]
    assert not store.exists(db, population.id)
    assert db.scalar(select(Batch).where(Batch.resource_id == population.id)) is None
    complete = push(client, admin, population.id, body, content_type="application/json")
    assert complete.status_code == 201 and complete.json()["accepted"] == 100
