"""Incidents with their timeline, and containment that really blocks and whose undo restores exactly
the previous state (S12)."""

from __future__ import annotations

from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.sharing.models import Grant
from govshare.systems.models import BusinessSystem
from govshare.users.models import User
from tests.helpers import bearer, login, org, user_id
from tests.protection.test_alerts import API, raised
from tests.sharing.test_requests import BASIS
from tests.sharing.test_rows import granted, loaded, rows


def new_incident(client, headers, **extra) -> dict:  # type: ignore[no-untyped-def]
    body = {
        "title": "民政局业务系统异常调用",
        "severity": "major",
        "description": "夜间大量调用人口数据",
        **extra,
    }
    response = client.post(f"{API}/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def contain(client, headers, incident_id: int, kind: str, target_id: int):  # type: ignore[no-untyped-def]
    return client.post(
        f"{API}/incidents/{incident_id}/containments",
        json={"kind": kind, "target_id": target_id, "reason": "调查期间临时处置"},
        headers=headers,
    )


def lift(client, headers, incident_id: int, containment_id: int):  # type: ignore[no-untyped-def]
    return client.post(
        f"{API}/incidents/{incident_id}/containments/{containment_id}/lift",
        json={"note": "调查完毕"},
        headers=headers,
    )


def test_an_incident_links_alerts_keeps_a_timeline_and_needs_a_conclusion(client, city, db) -> None:
    alert = raised(client, db)
    bureau = login(client, "bureau_admin")
    created = new_incident(client, bureau, alert_ids=[alert.id])
    incident_id = created["incident"]["id"]
    assert created["incident"]["affected_org_ids"] == [org(db, "civil").id]  # from the alert
    assert [a["id"] for a in created["alerts"]] == [alert.id]
    other = client.post(
        f"{API}/incidents",
        json={"title": "t", "severity": "general", "description": "d", "alert_ids": [alert.id]},
        headers=bureau,
    )
    assert other.status_code == 409  # an alert belongs to one incident
    assert (
        client.post(
            f"{API}/incidents/{incident_id}/notes", json={"text": "已约谈系统负责人"}, headers=bureau
        ).status_code
        == 201
    )
    assert (
        client.post(
            f"{API}/incidents/{incident_id}/close", json={"conclusion": ""}, headers=bureau
        ).status_code
        == 422
    )
    assert (
        client.post(
            f"{API}/incidents/{incident_id}/close", json={"conclusion": "   "}, headers=bureau
        ).status_code
        == 422
    )
    closed = client.post(
        f"{API}/incidents/{incident_id}/close", json={"conclusion": "误操作，已整改"}, headers=bureau
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert (
        client.post(f"{API}/incidents/{incident_id}/notes", json={"text": "再记"}, headers=bureau).status_code
        == 409
    )
    detail = client.get(f"{API}/incidents/{incident_id}", headers=bureau).json()
    assert [t["kind"] for t in detail["timeline"]] == ["created", "alert_linked", "note", "closed"]
    assert all(t["actor_name"] == "bureau_admin" and t["at"] for t in detail["timeline"])
    # Incidents are the Bureau's: a department's security officer does not even see them.
    assert (
        client.get(f"{API}/incidents/{incident_id}", headers=login(client, "civil_security")).status_code
        == 404
    )
    assert client.get(f"{API}/incidents", headers=login(client, "bureau_auditor")).json()["total"] == 1
    assert (
        client.post(
            f"{API}/incidents",
            json={"title": "t", "severity": "general", "description": "d"},
            headers=login(client, "bureau_auditor"),
        ).status_code
        == 403
    )


def test_suspending_a_system_refuses_its_token_and_undo_restores_it(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["id_number", "name"])
    system_token = bearer(city.tokens["civil-assist"])
    assert rows(client, population, system_token).status_code == 200
    bureau = login(client, "bureau_admin")
    incident_id = new_incident(client, bureau)["incident"]["id"]
    system = db.scalar(select(BusinessSystem).where(BusinessSystem.code == "civil-assist"))
    assert system is not None
    done = contain(client, bureau, incident_id, "suspend_system", system.id)
    assert done.status_code == 201 and done.json()["previous"] == {"is_active": True}
    refused = rows(client, population, system_token)
    assert refused.status_code == 401
    assert contain(client, bureau, incident_id, "suspend_system", system.id).status_code == 409
    undone = lift(client, bureau, incident_id, done.json()["id"])
    assert undone.status_code == 200 and undone.json()["status"] == "lifted"
    assert rows(client, population, system_token).status_code == 200  # the same token works again
    assert lift(client, bureau, incident_id, done.json()["id"]).status_code == 409
    kinds = db.scalars(
        select(AuditEvent.event_type)
        .where(AuditEvent.event_type.like("protection.containment_%"))
        .order_by(AuditEvent.seq)
    ).all()
    assert kinds == ["protection.containment_applied", "protection.containment_lifted"]
    assert db.scalar(select(AuditEvent.id).where(AuditEvent.event_type == "auth.token_rejected")) is not None


def test_freezing_a_department_suspends_exactly_its_active_grants_and_undo_resumes_exactly_those(
    client, city, db
) -> None:
    population = loaded(client, db)
    first = granted(client, population, ["id_number", "name"])
    second = client.post(
        "/api/v1/requests",
        json={
            "resource_id": population.id,
            "items": ["name"],
            "purpose": "社会救助入户核对",
            "basis": BASIS,
            "duration_days": 30,
        },
        headers=login(client, "civil_user"),
    ).json()["grant"]
    bureau = login(client, "bureau_admin")
    # The provider had already suspended the second grant for its own reasons.
    paused = client.post(
        f"/api/v1/grants/{second['id']}/suspend",
        json={"reason": "提供方核查"},
        headers=login(client, "police_admin"),
    )
    assert paused.status_code == 200, paused.text
    civil = login(client, "civil_user")
    assert rows(client, population, civil).status_code == 200
    incident_id = new_incident(client, bureau)["incident"]["id"]
    civil_id = org(db, "civil").id
    done = contain(client, bureau, incident_id, "freeze_grants", civil_id)
    assert done.status_code == 201, done.text
    assert done.json()["previous"] == {"grant_ids": [first["id"]]}
    frozen = rows(client, population, civil)
    assert frozen.status_code == 403 and frozen.json()["error"]["details"]["reason"] == "no_grant"
    assert (
        contain(client, bureau, incident_id, "freeze_grants", civil_id).status_code == 409
    )  # nothing active left
    assert lift(client, bureau, incident_id, done.json()["id"]).status_code == 200
    db.expire_all()
    statuses = {g.id: g.status for g in db.scalars(select(Grant).where(Grant.org_id == civil_id))}
    assert statuses[first["id"]] == "active" and statuses[second["id"]] == "suspended"
    assert rows(client, population, civil).status_code == 200
    changes = db.scalars(
        select(AuditEvent.details)
        .where(AuditEvent.event_type == "sharing.grant_changed")
        .order_by(AuditEvent.seq)
    ).all()
    assert (
        sum('"change":"suspend"' in c for c in changes) == 2
        and sum('"change":"resume"' in c for c in changes) == 1
    )
    timeline = client.get(f"{API}/incidents/{incident_id}", headers=bureau).json()["timeline"]
    assert [t["kind"] for t in timeline] == ["created", "contained", "lifted"]
    assert f"#{first['id']}" in timeline[-1]["text"]


def test_disabling_a_person_blocks_login_and_sessions_and_undo_restores_them(client, city, db) -> None:
    session = login(client, "civil_user")
    assert client.get("/api/v1/auth/me", headers=session).status_code == 200
    bureau = login(client, "bureau_admin")
    incident_id = new_incident(client, bureau)["incident"]["id"]
    person = user_id(db, "civil_user")
    done = contain(client, bureau, incident_id, "disable_person", person)
    assert done.status_code == 201, done.text
    assert client.get("/api/v1/auth/me", headers=session).status_code == 401
    failed = client.post("/api/v1/auth/login", json={"username": "civil_user", "password": "govshare-demo"})
    assert failed.status_code == 401
    assert (
        contain(client, bureau, incident_id, "disable_person", user_id(db, "bureau_admin")).status_code == 422
    )  # not oneself
    # Closing the incident leaves the measure in force; the Bureau may still lift it.
    assert (
        client.post(
            f"{API}/incidents/{incident_id}/close",
            json={"conclusion": "账号被盗用，已重置密码"},
            headers=bureau,
        ).status_code
        == 200
    )
    assert (
        contain(client, bureau, incident_id, "suspend_system", 1).status_code == 409
    )  # closed: no new measures
    assert lift(client, bureau, incident_id, done.json()["id"]).status_code == 200
    assert client.get("/api/v1/auth/me", headers=session).status_code == 200  # the same session again
    user = db.get(User, person)
    assert user is not None and user.is_active and user.role_names == ["business_user"]
    assert login(client, "civil_user")


def test_containment_is_the_bureaus(client, city, db) -> None:
    bureau = login(client, "bureau_admin")
    incident_id = new_incident(client, bureau)["incident"]["id"]
    auditor = login(client, "bureau_auditor")
    assert (
        contain(client, auditor, incident_id, "disable_person", user_id(db, "civil_user")).status_code == 403
    )
    assert contain(client, bureau, incident_id, "format_disk", 1).status_code == 422
    assert contain(client, bureau, incident_id, "disable_person", 999_999).status_code == 404
