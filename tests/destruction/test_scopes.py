"""Each scope of destruction end to end: the data is gone from the store, the quarantine, files,
exports and keys, the data API no longer returns it, and the evidence is what an independent
recomputation gives (S28, S29)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

from sqlalchemy import select, update

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.encryption import keys, vault
from govshare.encryption.models import DataKey
from govshare.exchange import store
from govshare.exchange.keys import row_key
from govshare.exchange.models import Batch, QuarantinedRow, ResourceFile
from govshare.settings import get_settings
from tests.destruction.helpers import (
    approve_all,
    file_request,
    quarantine_digest,
    sm3,
    store_digest,
)
from tests.exchange.test_ingest import BAD, csv_body, idn, line, push
from tests.helpers import login
from tests.sharing.test_requests import PURPOSE
from tests.sharing.test_rows import PEOPLE, granted, loaded, rows

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _quarantined(db, resource_id: int) -> list[QuarantinedRow]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(QuarantinedRow).where(QuarantinedRow.resource_id == resource_id)))


def _live_ids(client, population) -> set[str]:  # type: ignore[no-untyped-def]
    """The ID numbers the data API delivers, as masked (first six and last four kept)."""
    body = rows(client, population, login(client, "civil_user"), limit=100)
    assert body.status_code == 200, body.text
    return {r["id_number"] for r in body.json()["rows"]}


def masked(*numbers: str) -> set[str]:
    return {n[:6] + "*" * 8 + n[-4:] for n in numbers}


def test_a_whole_resource_is_destroyed_with_its_quarantine_exports_and_keys(client, city, db) -> None:
    population = loaded(client, db)
    police = login(client, "police_admin")
    bad = push(client, police, population.id, csv_body(line(BAD, "王芳")))
    assert bad.status_code == 201 and bad.json()["quarantined"] == 1
    keys.ring(db, population.id, create=True)  # a data key and an index key
    assert vault._path(population.id).exists()
    granted(client, population, ["id_number", "name", "region_code"])
    civil, bureau = login(client, "civil_user"), login(client, "bureau_admin")
    export = client.post(
        "/api/v1/exports",
        json={"resource_id": population.id, "purpose": PURPOSE, "reason": "年度复核离线比对"},
        headers=civil,
    ).json()
    client.post(
        f"/api/v1/exports/{export['id']}/decision", json={"approve": True, "reason": "同意"}, headers=bureau
    )
    assert _live_ids(client, population) == masked(*PEOPLE)
    expected_rows, expected_digest = store_digest(db, population.id)
    assert expected_rows == len(PEOPLE)
    # The keys are the SM3 of the business keys we pushed: recomputed here from the values themselves.
    table = store.table_for(db, population.id, [])
    assert set(db.scalars(select(table.c._key))) == {row_key({"id_number": n}, ["id_number"]) for n in PEOPLE}
    quarantined = _quarantined(db, population.id)
    expected_quarantine = quarantine_digest(quarantined)

    filed = file_request(client, db, "police", population.id)
    assert filed.status_code == 201, filed.text
    done = approve_all(client, "police", filed.json()["id"])

    assert done["rows_removed"] == len(PEOPLE) and done["quarantined_removed"] == 1
    assert done["keys_destroyed"] == 2
    assert not store.exists(db, population.id)
    assert _quarantined(db, population.id) == []
    page = rows(client, population, civil)
    assert page.status_code == 200 and page.json()["rows"] == []
    download = client.get(f"/api/v1/exports/{export['id']}/file", headers=civil)
    assert download.status_code == 409 and "数据已销毁" in download.json()["error"]["message"]
    data_keys = list(db.scalars(select(DataKey).where(DataKey.resource_id == population.id)))
    assert len(data_keys) == 2 and all(k.destroyed_at is not None and k.wrapped is None for k in data_keys)
    assert not vault._path(population.id).exists()

    cert = client.get(
        f"/api/v1/destructions/{done['id']}/certificate", headers=login(client, "bureau_auditor")
    )
    assert cert.status_code == 200, cert.text
    evidence = cert.json()["evidence"]
    assert evidence["store"] == {
        "table": evidence["store"]["table"],
        "rows": expected_rows,
        "digest": expected_digest,
        "dropped": True,
    }
    assert evidence["quarantine"] == {"rows": 1, "digest": expected_quarantine}
    assert evidence["exports"]["closed"] == [export["id"]]
    assert cert.json()["supervision"]["username"] == "police_supervisor"
    assert cert.json()["department_approval"]["username"] == "police_approver"
    assert cert.json()["bureau_approval"]["username"] == "bureau_admin"
    canonical = json.dumps(evidence, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert cert.json()["evidence_sm3"] == sm3(canonical.encode())
    kinds = db.scalars(
        select(AuditEvent.event_type)
        .where(AuditEvent.object_type == "destruction_requests", AuditEvent.object_id == str(done["id"]))
        .order_by(AuditEvent.seq)
    ).all()
    assert kinds == [
        "destruction.requested",
        "destruction.department_approved",
        "destruction.bureau_approved",
        "destruction.executed",
    ]
    executed = db.scalar(select(AuditEvent).where(AuditEvent.event_type == "destruction.executed"))
    assert (
        executed is not None and json.loads(executed.details)["evidence_sm3"] == cert.json()["evidence_sm3"]
    )

    # The provider can push again: the table is new and holds only the new rows.
    again = push(client, police, population.id, csv_body(line(PEOPLE[0])))
    assert again.status_code == 201 and again.json()["inserted"] == 1


def test_a_file_resource_loses_its_stored_files(client, city, db) -> None:
    prices = db.scalar(select(Resource).where(Resource.name == "重点商品价格监测信息"))
    assert prices is not None
    market = login(client, "market_admin")
    path = f"/api/v1/resources/{prices.id}/files"
    folder = get_settings().data_dir / "files" / str(prices.id)
    # Files that other tests of this process stored stay on disk after their transactions rolled
    # back: not this resource's any more.
    shutil.rmtree(folder, ignore_errors=True)
    contents = [b"PK first version", b"PK second version"]
    for n, content in enumerate(contents):
        up = client.post(
            path,
            params={"filename": f"价格{n}.xlsx"},
            content=content,
            headers={**market, "Content-Type": XLSX},
        )
        assert up.status_code == 201, up.text
    on_disk = list(folder.iterdir())
    assert len(on_disk) == 2

    refused = file_request(client, db, "market", prices.id, scope="batches", method="delete", batch_ids=["x"])
    assert refused.status_code == 422 and refused.json()["error"]["details"]["field"] == "scope"
    filed = file_request(client, db, "market", prices.id)
    assert filed.status_code == 201, filed.text
    done = approve_all(client, "market", filed.json()["id"])

    assert done["files_removed"] == 2
    assert not folder.exists() and not any(p.exists() for p in on_disk)
    assert db.scalar(select(ResourceFile).where(ResourceFile.resource_id == prices.id)) is None
    assert client.get(path, headers=market).json() == []
    assert client.get(f"{path}/1/content", headers=market).status_code == 404
    cert = client.get(f"/api/v1/destructions/{done['id']}/certificate", headers=market).json()
    assert sorted(f["sm3"] for f in cert["evidence"]["files"]) == sorted(sm3(c) for c in contents)


def test_batches_are_destroyed_with_their_quarantine_and_nothing_else(client, city, db) -> None:
    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert population is not None
    police = login(client, "police_admin")
    first = push(client, police, population.id, csv_body(line(PEOPLE[0]), line(PEOPLE[1], "李娜"), line(BAD)))
    second = push(
        client, police, population.id, csv_body(line(PEOPLE[2]), line(PEOPLE[3]), line(BAD, "赵敏"))
    )
    assert first.status_code == second.status_code == 201
    first_id, second_id = first.json()["batch_id"], second.json()["batch_id"]
    granted(client, population, ["id_number", "name"])
    gone = {row_key({"id_number": n}, ["id_number"]) for n in PEOPLE[:2]}
    expected_rows, expected_digest = store_digest(db, population.id, gone)
    first_quarantine = [q for q in _quarantined(db, population.id) if q.batch_id == first_id]

    other = push(client, login(client, "market_admin"), population.id, csv_body(line(PEOPLE[4])))
    assert other.status_code == 403
    filed = file_request(
        client, db, "police", population.id, scope="batches", method="delete", batch_ids=[first_id]
    )
    assert filed.status_code == 201, filed.text
    done = approve_all(client, "police", filed.json()["id"])

    assert (done["rows_removed"], done["quarantined_removed"], done["keys_destroyed"]) == (2, 1, 0)
    assert _live_ids(client, population) == masked(*PEOPLE[2:4])
    assert [q.batch_id for q in _quarantined(db, population.id)] == [second_id]
    evidence = client.get(f"/api/v1/destructions/{done['id']}/certificate", headers=police).json()["evidence"]
    assert (evidence["store"]["rows"], evidence["store"]["digest"]) == (expected_rows, expected_digest)
    assert evidence["store"]["dropped"] is False
    assert evidence["quarantine"]["digest"] == quarantine_digest(first_quarantine)
    assert db.get(Batch, first_id) is not None  # the manifest stays: it is the record of the delivery


def test_rows_by_business_key_including_a_quarantined_one(client, city, db) -> None:
    population = loaded(client, db)
    police = login(client, "police_admin")
    # A row whose key is valid but another value is not: quarantined, yet found by its key.
    odd = idn("130102", "19990909", "111")
    quarantined = push(client, police, population.id, csv_body(line(odd, gender="X")))
    assert quarantined.json()["quarantined"] == 1
    granted(client, population, ["id_number", "name"])
    wanted = [PEOPLE[1], PEOPLE[3], odd]
    keys_wanted = {row_key({"id_number": n}, ["id_number"]) for n in wanted}
    expected_rows, expected_digest = store_digest(db, population.id, keys_wanted)
    assert expected_rows == 2

    bad_key = file_request(
        client, db, "police", population.id, scope="keys", method="delete", keys=[{"id_number": BAD}]
    )
    assert bad_key.status_code == 422 and bad_key.json()["error"]["details"]["field"] == "key"
    filed = file_request(
        client,
        db,
        "police",
        population.id,
        scope="keys",
        method="delete",
        keys=[{"id_number": n} for n in wanted],
    )
    assert filed.status_code == 201, filed.text
    assert sorted(filed.json()["row_keys"]) == sorted(keys_wanted)
    assert not any(n in filed.text for n in wanted)  # only the keys' SM3 is kept, never the values
    done = approve_all(client, "police", filed.json()["id"])

    assert (done["rows_removed"], done["quarantined_removed"]) == (2, 1)
    assert _live_ids(client, population) == masked(PEOPLE[0], PEOPLE[2], PEOPLE[4])
    assert _quarantined(db, population.id) == []
    evidence = client.get(f"/api/v1/destructions/{done['id']}/certificate", headers=police).json()["evidence"]
    assert evidence["store"]["digest"] == expected_digest


def test_rows_by_time_received(client, city, db) -> None:
    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert population is not None
    police = login(client, "police_admin")
    old = push(client, police, population.id, csv_body(line(PEOPLE[0]), line(PEOPLE[1]), line(BAD)))
    new = push(client, police, population.id, csv_body(line(PEOPLE[2])))
    assert old.status_code == new.status_code == 201
    # The first batch arrived in 2024 (its rows, its manifest): old data due for destruction.
    then = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
    table = store.table_for(db, population.id, [])
    db.execute(update(table).where(table.c._batch_id == old.json()["batch_id"]).values(_received_at=then))
    db.execute(update(Batch).where(Batch.id == old.json()["batch_id"]).values(received_at=then))
    granted(client, population, ["id_number", "name"])
    gone = {row_key({"id_number": n}, ["id_number"]) for n in PEOPLE[:2]}
    expected = store_digest(db, population.id, gone)

    reversed_range = file_request(
        client,
        db,
        "police",
        population.id,
        scope="time_range",
        method="delete",
        received_from="2025-01-01T00:00:00",
        received_until="2024-01-01T00:00:00",
    )
    assert reversed_range.status_code == 422
    filed = file_request(
        client,
        db,
        "police",
        population.id,
        scope="time_range",
        method="delete",
        received_from="2024-01-01T00:00:00",  # Beijing time
        received_until="2025-01-01T00:00:00",
    )
    assert filed.status_code == 201, filed.text
    done = approve_all(client, "police", filed.json()["id"])

    assert (done["rows_removed"], done["quarantined_removed"]) == (2, 1)
    assert _live_ids(client, population) == masked(PEOPLE[2])
    evidence = client.get(f"/api/v1/destructions/{done['id']}/certificate", headers=police).json()["evidence"]
    assert (evidence["store"]["rows"], evidence["store"]["digest"]) == expected


def test_a_partial_destruction_rotates_the_key_so_older_backups_cannot_open_the_removed_rows(
    client, city, db
) -> None:
    from tests.encryption.test_encryption import encrypt_level

    encrypt_level(db)  # ID numbers and mobiles are stored encrypted
    population = loaded(client, db)
    granted(client, population, ["id_number", "name"])
    table = store.table_for(db, population.id, [])
    old_version = next(
        r for r in keys.all_rows(db, population.id) if r.kind == "data" and r.destroyed_at is None
    ).version
    filed = file_request(
        client, db, "police", population.id, scope="keys", method="delete", keys=[{"id_number": PEOPLE[0]}]
    )
    assert filed.status_code == 201, filed.text
    done = approve_all(client, "police", filed.json()["id"])
    assert done["rows_removed"] == 1 and done["keys_destroyed"] == 1
    old = db.scalar(
        select(DataKey).where(
            DataKey.resource_id == population.id, DataKey.kind == "data", DataKey.version == old_version
        )
    )
    assert old is not None and old.wrapped is None and old.destroyed_at is not None
    # The rest is still there and readable, re-encrypted under the new version.
    assert _live_ids(client, population) == masked(*PEOPLE[1:])
    assert len(list(db.execute(select(table.c._key)))) == len(PEOPLE) - 1
