"""File resources: versions uploaded with their SM3, stored by content, read back by the provider."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.settings import get_settings
from tests.helpers import bearer, login

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sm3(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def test_versions_are_kept_with_their_checksum_and_read_back(client, city, db) -> None:
    prices = db.scalar(select(Resource).where(Resource.name == "重点商品价格监测信息"))
    assert prices is not None and prices.provision_method == "file"
    market = login(client, "market_admin")
    path = f"/api/v1/resources/{prices.id}/files"
    first = client.post(
        path,
        params={"filename": "../../价格 监测 2026-11.xlsx"},
        content=b"PK first",
        headers={**market, "Content-Type": XLSX, "X-Content-SM3": sm3(b"PK first")},
    )
    assert first.status_code == 201, first.text
    assert first.json()["number"] == 1 and first.json()["sm3"] == sm3(b"PK first")
    assert "/" not in first.json()["filename"] and first.json()["filename"].endswith(".xlsx")
    system = bearer(city.tokens["market-registry"])  # the department's business system uploads too
    second = client.post(
        path,
        params={"filename": "价格监测2026-12.xlsx", "note": "12月"},
        content=b"PK second",
        headers={**system, "Content-Type": XLSX},
    )
    assert second.status_code == 201 and second.json()["number"] == 2

    listed = client.get(path, headers=market).json()
    assert [f["number"] for f in listed] == [2, 1]
    content = client.get(f"{path}/1/content", headers=market)
    assert content.status_code == 200 and content.content == b"PK first"
    assert content.headers["x-content-sm3"] == sm3(b"PK first")
    stored = list((get_settings().data_dir / "files" / str(prices.id)).iterdir())
    assert sm3(b"PK first") + ".xlsx" in {p.name for p in stored}
    assert not any(p.name.endswith(".part") for p in stored)  # written aside, then moved into place
    assert db.scalar(select(AuditEvent).where(AuditEvent.event_type == "data.file_downloaded")) is not None
    assert client.get(f"{path}/9/content", headers=market).status_code == 404


def test_uploads_are_checked(client, city, db) -> None:
    prices = db.scalar(select(Resource).where(Resource.name == "重点商品价格监测信息"))
    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    market = login(client, "market_admin")
    path = f"/api/v1/resources/{prices.id}/files"
    mismatch = client.post(
        path, params={"filename": "a.xlsx"}, content=b"PK x", headers={**market, "X-Content-SM3": "0" * 64}
    )
    assert mismatch.status_code == 422 and "X-Content-SM3" in mismatch.json()["error"]["message"]
    assert client.post(path, params={"filename": "a.xlsx"}, content=b"", headers=market).status_code == 422
    assert (
        client.post(
            path, params={"filename": "a.xlsx"}, content=b"x", headers=login(client, "civil_admin")
        ).status_code
        == 403
    )
    no_purpose = client.get(path, headers=login(client, "civil_user"))  # another department
    assert no_purpose.status_code == 422 and "purpose" in no_purpose.json()["error"]["message"]
    assert client.get(path, headers=login(client, "bureau_auditor")).status_code == 200
    table = client.post(
        f"/api/v1/resources/{population.id}/files",
        params={"filename": "a.csv"},
        content=b"x",
        headers=login(client, "police_admin"),
    )
    assert table.status_code == 422


def test_another_department_downloads_under_its_grant_for_the_purpose(client, city, db) -> None:
    prices = db.scalar(select(Resource).where(Resource.name == "重点商品价格监测信息"))
    assert prices is not None
    path = f"/api/v1/resources/{prices.id}/files"
    upload = client.post(
        path, params={"filename": "价格.xlsx"}, content=b"PK data", headers=login(client, "market_admin")
    )
    assert upload.status_code == 201
    civil, purpose = login(client, "civil_user"), "低收入家庭价格补贴测算"
    before = client.get(f"{path}/1/content", params={"purpose": purpose}, headers=civil)
    assert before.status_code == 403 and before.json()["error"]["details"]["reason"] == "no_grant"
    requested = client.post(
        "/api/v1/requests",
        json={
            "resource_id": prices.id,
            "items": [
                i["name"] for i in client.get(f"/api/v1/resources/{prices.id}", headers=civil).json()["items"]
            ],
            "purpose": purpose,
            "basis": "《社会救助暂行办法》",
            "duration_days": 30,
        },
        headers=civil,
    ).json()
    if requested["status"] == "pending":
        client.post(
            f"/api/v1/requests/{requested['id']}/decision",
            json={"decision": "approve", "reason": "同意"},
            headers=login(client, "market_approver"),
        )
    content = client.get(f"{path}/1/content", params={"purpose": purpose}, headers=civil)
    assert content.status_code == 200 and content.content == b"PK data"
    assert [f["number"] for f in client.get(path, params={"purpose": purpose}, headers=civil).json()] == [1]
    other = client.get(f"{path}/1/content", params={"purpose": "商业用途"}, headers=civil)
    assert other.status_code == 403 and other.json()["error"]["details"]["reason"] == "purpose_mismatch"
    downloads = db.scalars(
        select(AuditEvent.details).where(AuditEvent.event_type == "data.file_downloaded")
    ).all()
    assert any('"grant_id"' in d and purpose in d for d in downloads)
    refusals = db.scalars(
        select(AuditEvent.details).where(AuditEvent.event_type == "sharing.data_refused")
    ).all()
    assert len(refusals) == 2
    review = client.get("/api/v1/sharing/purpose-review", headers=login(client, "bureau_admin"))
    assert review.status_code == 200
    mine = {r["purpose"]: r for r in review.json()["items"] if r["resource_id"] == prices.id}
    assert (
        mine[purpose]["declared"] and mine[purpose]["delivered"] == 1 and mine[purpose]["without_grant"] == 1
    )
    assert not mine["商业用途"]["declared"] and mine["商业用途"]["purpose_mismatches"] == 1
    assert mine["商业用途"]["declared_purposes"] == [purpose]
    assert client.get("/api/v1/sharing/purpose-review", headers=civil).status_code == 403
