"""The alert lifecycle over the API and who may see and handle alerts (S10–S12)."""

from __future__ import annotations

from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.protection.models import Alert
from govshare.tasks.models import Task
from tests.helpers import login, org, user_id
from tests.protection.helpers import denied, set_rule, start_at_end

API = "/api/v1/protection"


def raised(client, db) -> Alert:  # type: ignore[no-untyped-def]
    """A denial burst of civil_user (民政局), raised by a scan the Bureau asks for over the API."""
    start_at_end(db)
    set_rule(db, "denial_burst", count=2, minutes=10)
    denied(client, login(client, "civil_user"), 2)
    result = client.post(f"{API}/scan", headers=login(client, "bureau_admin"))
    assert result.status_code == 200, result.text
    [alert_id] = result.json()["raised"]
    alert = db.get(Alert, alert_id)
    assert alert is not None
    return alert


def test_department_security_officers_see_only_their_departments_alerts(client, city, db) -> None:
    alert = raised(client, db)
    own = login(client, "civil_security")
    listed = client.get(f"{API}/alerts", headers=own).json()
    assert [a["id"] for a in listed["items"]] == [alert.id] and listed["total"] == 1
    detail = client.get(f"{API}/alerts/{alert.id}", headers=own)
    assert detail.status_code == 200
    assert [e["event_type"] for e in detail.json()["evidence_events"]] == ["access.denied"] * 2
    other = login(client, "police_security")
    assert client.get(f"{API}/alerts", headers=other).json()["total"] == 0
    assert client.get(f"{API}/alerts/{alert.id}", headers=other).status_code == 404
    assert client.get(f"{API}/alerts/{alert.id}", headers=login(client, "civil_user")).status_code == 404
    assert client.get(f"{API}/alerts", headers=login(client, "civil_user")).status_code == 403
    # Bureau roles see every department's; the filter narrows.
    auditor = login(client, "bureau_auditor")
    assert client.get(f"{API}/alerts", headers=auditor, params={"org_id": alert.org_id}).json()["total"] == 1
    assert client.get(f"{API}/alerts", headers=auditor, params={"status": "bogus"}).status_code == 422
    assert client.get(f"{API}/alerts", headers=auditor, params={"rule": "denial_burst"}).json()["total"] == 1
    police = org(db, "police").id
    assert client.get(f"{API}/alerts", headers=auditor, params={"org_id": police}).json()["total"] == 0
    # Viewing is not handling: the officer and the auditor may not assign.
    body = {"assignee_id": user_id(db, "bureau_admin")}
    assert client.post(f"{API}/alerts/{alert.id}/assign", json=body, headers=own).status_code == 403
    assert client.post(f"{API}/alerts/{alert.id}/assign", json=body, headers=auditor).status_code == 403
    # Nor do they change the rules or run scans.
    assert (
        client.put(f"{API}/rules/denial_burst", json={"params": {"count": 3}}, headers=own).status_code == 403
    )
    assert client.post(f"{API}/scan", headers=auditor).status_code == 403
    assert client.get(f"{API}/rules", headers=own).status_code == 403
    assert client.get(f"{API}/rules", headers=auditor).status_code == 200


def test_open_assigned_investigating_closed_each_step_audited(client, city, db) -> None:
    alert = raised(client, db)
    bureau = login(client, "bureau_admin")
    url = f"{API}/alerts/{alert.id}"

    def waiting() -> list[tuple[str, int | None, str | None]]:
        found = db.scalars(
            select(Task)
            .where(Task.subject_type == "protection_alerts", Task.status == "open")
            .order_by(Task.id)
        )
        return [(t.kind, t.assignee_id, t.assignee_role) for t in found]

    assert waiting() == [("protection.alert_assign", None, "bureau_admin")]  # the Bureau's to-do list
    early = client.post(f"{url}/investigate", headers=bureau)
    assert early.status_code == 409  # not assigned yet
    wrong = client.post(f"{url}/assign", json={"assignee_id": user_id(db, "civil_user")}, headers=bureau)
    assert wrong.status_code == 422  # only people who handle alerts
    assigned = client.post(f"{url}/assign", json={"assignee_id": user_id(db, "bureau_admin")}, headers=bureau)
    assert assigned.status_code == 200 and assigned.json()["status"] == "assigned"
    assert waiting() == [("protection.alert_handle", user_id(db, "bureau_admin"), None)]
    assert (
        client.post(
            f"{url}/close", json={"conclusion": "x", "accountability": "none"}, headers=bureau
        ).status_code
        == 409
    )
    assert client.post(f"{url}/investigate", headers=bureau).json()["status"] == "investigating"
    missing = client.post(
        f"{url}/close", json={"conclusion": "越权查询", "accountability": "held_accountable"}, headers=bureau
    )
    assert missing.status_code == 422 and missing.json()["error"]["details"]["field"] == "responsible"
    unknown = client.post(
        f"{url}/close", json={"conclusion": "越权查询", "accountability": "maybe"}, headers=bureau
    )
    assert unknown.status_code == 422
    closed = client.post(
        f"{url}/close",
        json={
            "conclusion": "业务人员多次查询审计日志，已批评教育",
            "accountability": "held_accountable",
            "responsible": "市民政局 civil_user",
        },
        headers=bureau,
    )
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["status"] == "closed" and body["accountability"] == "held_accountable"
    assert body["responsible"] == "市民政局 civil_user" and body["closed_at"]
    assert waiting() == []
    again = client.post(f"{url}/assign", json={"assignee_id": user_id(db, "bureau_admin")}, headers=bureau)
    assert again.status_code == 409
    steps = db.scalars(
        select(AuditEvent.event_type)
        .where(AuditEvent.object_type == "protection_alerts", AuditEvent.object_id == str(alert.id))
        .order_by(AuditEvent.seq)
    ).all()
    assert steps == [
        "protection.alert_raised",
        "protection.alert_assigned",
        "protection.alert_investigating",
        "protection.alert_closed",
    ]
    trail = db.scalar(select(AuditEvent).where(AuditEvent.event_type == "protection.alert_closed"))
    assert trail is not None and trail.org_id == alert.org_id  # the department's officers see it too


def test_rules_over_the_api(client, city, db) -> None:
    bureau = login(client, "bureau_admin")
    rules = {r["code"]: r for r in client.get(f"{API}/rules", headers=bureau).json()}
    assert set(rules) == {
        "denial_burst",
        "volume_spike",
        "off_hours_bulk",
        "purpose_mismatch",
        "key_enumeration",
        "revoked_credentials",
        "login_failures",
    }
    assert rules["volume_spike"]["version"] is None
    put = client.put(
        f"{API}/rules/volume_spike",
        json={"params": {"factor": 5}, "enabled": True, "version": None},
        headers=bureau,
    )
    assert put.status_code == 200 and {p["name"]: p["value"] for p in put.json()["params"]}["factor"] == 5
    stale = client.put(
        f"{API}/rules/volume_spike", json={"params": {"factor": 6}, "version": None}, headers=bureau
    )
    assert stale.status_code == 409
    bad = client.put(
        f"{API}/rules/volume_spike", json={"params": {"factor": 0}, "version": 1}, headers=bureau
    )
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "factor"
    assert client.put(f"{API}/rules/nothing", json={"params": {}}, headers=bureau).status_code == 404
