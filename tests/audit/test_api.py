"""The audit API contract: GET /api/v1/audit/verify and the event search."""

from __future__ import annotations

from sqlalchemy import text

from tests.helpers import login


def test_verify_contract(client, city, db) -> None:
    auditor = login(client, "bureau_auditor")
    response = client.get("/api/v1/audit/verify", headers=auditor)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["events"] > 100 and body["first_broken"] is None
    assert client.get("/api/v1/audit/verify", headers=login(client, "civil_user")).status_code == 403
    assert client.get("/api/v1/audit/verify").status_code == 401
    db.execute(text("UPDATE audit_events SET event_type = event_type || 'x' WHERE seq = 2"))
    broken = client.get("/api/v1/audit/verify", headers=auditor).json()
    assert broken["ok"] is False
    assert broken["first_broken"]["seq"] == 2 and broken["first_broken"]["kind"] == "hash"


def test_event_search_api(client, city) -> None:
    auditor = login(client, "bureau_auditor")
    page = client.get(
        "/api/v1/audit/events", params={"event_type": "auth.login", "page_size": 5}, headers=auditor
    ).json()
    assert page["total"] >= 1 and page["items"][0]["event_type"] == "auth.login"
    assert isinstance(page["items"][0]["details"], dict)
    since = client.get(
        "/api/v1/audit/events", params={"since": "2099-01-01T00:00:00"}, headers=auditor
    ).json()
    assert since["total"] == 0
