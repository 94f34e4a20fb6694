"""The policy register over the JSON API: the shapes, 404 for another department, 409 when stale."""

from __future__ import annotations

from datetime import timedelta

from govshare.workdays import today
from tests.helpers import login, org

NEW = {
    "kind": "logging_rules",
    "title": "市公安局日志记录规范",
    "body": "第一条　所有访问共享数据的操作均应记录日志。",
    "effective_on": str(today() - timedelta(days=30)),
    "review_months": 12,
}


def test_a_department_policy_through_its_life(client, city, db) -> None:
    admin = login(client, "police_admin")
    created = client.post("/api/v1/policies", json=NEW, headers=admin)
    assert created.status_code == 201, created.text
    policy = created.json()
    assert policy["org_id"] == org(db, "police").id and policy["kind_label"] == "日志记录规范"
    assert policy["version"] == 1 and policy["status_label"] == "生效"
    path = f"/api/v1/policies/{policy['id']}"

    revise = {
        **{k: NEW[k] for k in ("title", "body", "effective_on", "review_months")},
        "change_note": "补充",
    }
    revised = client.post(f"{path}/revisions", json={**revise, "version": 1, "body": "第二版"}, headers=admin)
    assert revised.status_code == 200 and revised.json()["version"] == 2
    stale = client.post(f"{path}/revisions", json={**revise, "version": 1}, headers=admin)
    assert stale.status_code == 409 and stale.json()["error"]["details"]["current_version"] == 2
    versions = client.get(f"{path}/versions", headers=login(client, "police_user")).json()
    assert [(v["version"], v["body"]) for v in versions] == [(2, "第二版"), (1, NEW["body"])]

    reviewed = client.post(f"{path}/review", json={"version": 2, "note": "无需修改"}, headers=admin)
    assert reviewed.status_code == 200 and reviewed.json()["last_reviewed_on"] == str(today())
    no_reason = client.post(f"{path}/retirement", json={"version": 2, "reason": ""}, headers=admin)
    assert no_reason.status_code == 422
    retired = client.post(f"{path}/retirement", json={"version": 2, "reason": "并入新制度"}, headers=admin)
    assert retired.status_code == 200 and retired.json()["status"] == "retired"


def test_reading_and_writing_rights(client, city, db) -> None:
    policy = client.post("/api/v1/policies", json=NEW, headers=login(client, "police_admin")).json()
    path = f"/api/v1/policies/{policy['id']}"
    assert client.get(path, headers=login(client, "police_user")).status_code == 200
    for supervisor in ("bureau_admin", "bureau_auditor"):  # the Bureau reads, never writes
        assert client.get(path, headers=login(client, supervisor)).status_code == 200
        review = client.post(f"{path}/review", json={"version": 1}, headers=login(client, supervisor))
        assert review.status_code == 403
    for outsider in ("health_admin",):
        assert client.get(path, headers=login(client, outsider)).status_code == 404
        items = client.get(
            "/api/v1/policies", params={"page_size": 100}, headers=login(client, outsider)
        ).json()
        assert policy["id"] not in {p["id"] for p in items["items"]}
    refused = client.post(f"{path}/review", json={"version": 1}, headers=login(client, "police_user"))
    assert refused.status_code == 403
    bureau_only = client.post(
        "/api/v1/policies", json={**NEW, "kind": "strategy"}, headers=login(client, "police_admin")
    )
    assert bureau_only.status_code == 422
    assert client.post("/api/v1/policies", json=NEW, headers=login(client, "police_user")).status_code == 403
    assert client.get("/api/v1/policies").status_code == 401


def test_the_list_filters_by_owner_and_kind(client, city, db) -> None:
    user = login(client, "police_user")
    bureau_id = org(db, "bureau").id
    page = client.get("/api/v1/policies", params={"org_id": bureau_id}, headers=user).json()
    assert page["total"] == 2 and {p["org_id"] for p in page["items"]} == {bureau_id}
    page = client.get("/api/v1/policies", params={"kind": "asset_rules"}, headers=user).json()
    assert [p["title"] for p in page["items"]] == ["市公安局数据资产安全管理制度"]
    assert client.get("/api/v1/policies", params={"kind": "nonsense"}, headers=user).status_code == 422
