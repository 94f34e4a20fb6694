"""Sharing requests by sharing type, the provider's decision, and grant changes (M16, S22, S25)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.db import utcnow
from govshare.sharing import service
from govshare.sharing.models import Grant, ShareRequest
from govshare.tasks.models import Task
from govshare.workdays import judge, today
from tests.helpers import login

PURPOSE = "最低生活保障对象资格核查"
BASIS = "《社会救助暂行办法》第十一条"


def resource(db: Session, name: str) -> Resource:
    found = db.scalar(select(Resource).where(Resource.name == name))
    assert found is not None, name
    return found


def ask(client, headers, res: Resource, items: list[str] | None = None, **extra):  # type: ignore[no-untyped-def]
    body = {
        "resource_id": res.id,
        "items": items or ["id_number", "name"],
        "purpose": PURPOSE,
        "basis": BASIS,
        "duration_days": 365,
        **extra,
    }
    return client.post("/api/v1/requests", json=body, headers=headers)


def ten_working_days_after(day):  # type: ignore[no-untyped-def]
    counted = 0
    while counted < 10:
        day += timedelta(days=1)
        counted += judge(day).workday
    return day


def test_an_unconditional_resource_is_granted_at_once(client, city, db) -> None:
    civil = login(client, "civil_user")
    population = resource(db, "人口基础信息")
    response = ask(client, civil, population)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "granted" and body["due_date"] is None
    grant = body["grant"]
    assert grant["status"] == "active" and grant["items"] == ["id_number", "name"]
    assert grant["purpose"] == PURPOSE and grant["row_scope"] is None
    again = ask(client, civil, population)
    assert again.status_code == 409 and "有效授权" in again.json()["error"]["message"]
    events = db.scalars(select(AuditEvent.event_type).where(AuditEvent.object_type == "share_requests")).all()
    assert "sharing.requested" in events


def test_a_conditional_request_is_due_in_ten_working_days_and_decided_by_the_providers_approver(
    client, city, db
) -> None:
    civil = login(client, "civil_user")
    cars = resource(db, "机动车登记信息")
    assert cars.sharing_type == "conditional"
    response = ask(client, civil, cars)
    body = response.json()
    assert response.status_code == 201, body
    assert body["status"] == "pending" and "grant" not in body
    assert body["due_date"] == ten_working_days_after(today()).isoformat()
    task = db.scalar(
        select(Task).where(Task.subject_type == "share_requests", Task.subject_id == str(body["id"]))
    )
    assert task is not None and task.status == "open" and task.org_id == cars.org_id

    decision = {"decision": "approve", "reason": "符合履职需要"}
    assert client.post(
        f"/api/v1/requests/{body['id']}/decision", json=decision, headers=civil
    ).status_code in (403, 404)
    police_admin = login(client, "police_admin")  # a data administrator is not the approver
    assert (
        client.post(
            f"/api/v1/requests/{body['id']}/decision", json=decision, headers=police_admin
        ).status_code
        == 403
    )
    approver = login(client, "police_approver")
    decided = client.post(f"/api/v1/requests/{body['id']}/decision", json=decision, headers=approver)
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved" and decided.json()["grant"]["status"] == "active"
    db.expire_all()
    assert db.get(Task, task.id).status != "open"  # type: ignore[union-attr]
    twice = client.post(f"/api/v1/requests/{body['id']}/decision", json=decision, headers=approver)
    assert twice.status_code == 409


def test_a_partial_approval_narrows_and_a_rejection_gives_reasons(client, city, db) -> None:
    civil, approver = login(client, "civil_user"), login(client, "police_approver")
    cars = resource(db, "机动车登记信息")
    first = ask(client, civil, cars).json()
    url = f"/api/v1/requests/{first['id']}/decision"
    same = {"decision": "partial", "reason": "部分同意", "items": ["id_number", "name"]}
    assert client.post(url, json=same, headers=approver).status_code == 422  # narrows nothing
    beyond = {"decision": "approve", "reason": "同意", "items": ["id_number", "name", "plate_number"]}
    assert client.post(url, json=beyond, headers=approver).status_code == 422
    partial = {
        "decision": "partial",
        "reason": "仅限长安区，期限 90 天",
        "items": ["id_number"],
        "row_scope": {"id_number": ["130102198503177718"]},
        "duration_days": 90,
    }
    answer = client.post(url, json=partial, headers=approver)
    assert answer.status_code == 200, answer.text
    grant = answer.json()["grant"]
    assert answer.json()["status"] == "partial"
    assert grant["items"] == ["id_number"] and grant["row_scope"] == {"id_number": ["130102198503177718"]}

    second = ask(client, civil, cars, purpose="困难群众救助对象核查").json()
    url = f"/api/v1/requests/{second['id']}/decision"
    assert client.post(url, json={"decision": "reject", "reason": "  "}, headers=approver).status_code == 422
    rejected = client.post(url, json={"decision": "reject", "reason": "用途与申请事项无关"}, headers=approver)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert "grant" not in rejected.json()


def test_what_cannot_be_requested_is_refused_with_what_to_do(client, city, db) -> None:
    civil = login(client, "civil_user")
    refused = ask(client, civil, resource(db, "出入境证件办理信息"), items=["id_number"])
    assert refused.status_code == 403 and "依法不向其他部门提供" in refused.json()["error"]["message"]
    own = ask(client, login(client, "police_user"), resource(db, "人口基础信息"))
    assert own.status_code == 422 and "无需申请" in own.json()["error"]["message"]
    population = resource(db, "人口基础信息")
    assert ask(client, civil, population, items=["no_such_item"]).status_code == 422
    assert ask(client, civil, population, duration_days=0).status_code == 422
    assert ask(client, civil, population, purpose=" ").status_code == 422
    compiler = login(client, "civil_compiler")  # a catalog compiler does not request data
    assert ask(client, compiler, population).status_code == 403


def test_requests_are_seen_by_consumer_provider_and_bureau_only(client, city, db) -> None:
    created = ask(client, login(client, "civil_user"), resource(db, "机动车登记信息")).json()
    url = f"/api/v1/requests/{created['id']}"
    assert client.get(url, headers=login(client, "police_approver")).status_code == 200
    assert client.get(url, headers=login(client, "bureau_auditor")).status_code == 200
    assert client.get(url, headers=login(client, "hrss_user")).status_code == 404
    inbox = client.get("/api/v1/requests?side=inbox", headers=login(client, "police_approver")).json()
    assert created["id"] in [r["id"] for r in inbox["items"]]
    mine = client.get("/api/v1/requests", headers=login(client, "civil_user")).json()
    assert [r["id"] for r in mine["items"]] == [created["id"]]


def test_grants_are_suspended_resumed_renewed_revoked_and_expire(client, city, db) -> None:
    civil = login(client, "civil_user")
    grant = ask(client, civil, resource(db, "人口基础信息")).json()["grant"]
    url = f"/api/v1/grants/{grant['id']}"
    police_admin = login(client, "police_admin")
    assert client.post(f"{url}/suspend", json={"reason": "核查"}, headers=civil).status_code == 403
    assert (
        client.post(f"{url}/suspend", json={"reason": "核查调用情况"}, headers=police_admin).json()["status"]
        == "suspended"
    )
    assert client.post(f"{url}/suspend", json={"reason": "再次"}, headers=police_admin).status_code == 409
    assert (
        client.post(f"{url}/resume", json={"reason": "核查完毕"}, headers=police_admin).json()["status"]
        == "active"
    )
    before = client.get(url, headers=civil).json()["valid_until"]
    renewed = client.post(f"{url}/renew", json={"reason": "延续", "days": 30}, headers=police_admin).json()
    assert renewed["valid_until"] > before
    held = client.get("/api/v1/grants?side=held", headers=civil).json()
    given = client.get("/api/v1/grants?side=given", headers=police_admin).json()
    assert [g["id"] for g in held["items"]] == [grant["id"]] == [g["id"] for g in given["items"]]

    db.execute(
        update(Grant).where(Grant.id == grant["id"]).values(valid_until=utcnow() - timedelta(minutes=1))
    )
    assert service.expire_grants(db) == 1
    db.commit()  # as the job's unit of work does
    assert db.get(Grant, grant["id"]).status == "expired"  # type: ignore[union-attr]
    revoked = client.post(f"{url}/revoke", json={"reason": "到期后撤销"}, headers=police_admin)
    assert revoked.status_code == 409
    changes = db.scalars(
        select(AuditEvent.details)
        .where(AuditEvent.event_type == "sharing.grant_changed", AuditEvent.object_id == str(grant["id"]))
        .order_by(AuditEvent.id)
    ).all()
    assert [json.loads(c)["change"] for c in changes] == ["suspend", "resume", "renew", "expire"]


def test_a_renewal_returns_an_expired_grant_to_what_it_was_and_never_lifts_a_suspension(
    client, city, db
) -> None:
    """The expiry job turns suspended grants into expired ones too; a renewal afterwards must not
    make a suspended grant usable again: only 恢复 lifts a suspension."""
    civil, police_admin = login(client, "civil_user"), login(client, "police_admin")
    suspended = ask(client, civil, resource(db, "人口基础信息")).json()["grant"]
    active = ask(client, civil, resource(db, "人口基础信息"), purpose="困难群众救助资格复核").json()["grant"]
    url = f"/api/v1/grants/{suspended['id']}"
    paused = client.post(f"{url}/suspend", json={"reason": "核查调用情况"}, headers=police_admin)
    assert paused.status_code == 200
    db.execute(
        update(Grant)
        .where(Grant.id.in_((suspended["id"], active["id"])))
        .values(valid_until=utcnow() - timedelta(minutes=1))
    )
    assert service.expire_grants(db) == 2
    db.commit()  # as the job's unit of work does
    renew = {"reason": "业务延续", "days": 30}
    again = client.post(f"{url}/renew", json=renew, headers=police_admin).json()
    assert again["status"] == "suspended" and again["valid_until"] > utcnow().isoformat()
    population = resource(db, "人口基础信息")
    called = client.get(f"/api/v1/resources/{population.id}/rows", params={"purpose": PURPOSE}, headers=civil)
    assert called.status_code == 403
    renewed = client.post(f"/api/v1/grants/{active['id']}/renew", json=renew, headers=police_admin).json()
    assert renewed["status"] == "active"
    resumed = client.post(f"{url}/resume", json={"reason": "核查完毕"}, headers=police_admin).json()
    assert resumed["status"] == "active"
    changes = db.scalars(
        select(AuditEvent.details)
        .where(AuditEvent.event_type == "sharing.grant_changed", AuditEvent.object_id == str(suspended["id"]))
        .order_by(AuditEvent.id)
    ).all()
    assert [(json.loads(c)["change"], json.loads(c)["after"]) for c in changes] == [
        ("suspend", "suspended"),
        ("expire", "expired"),
        ("renew", "suspended"),
        ("resume", "active"),
    ]


@pytest.mark.parametrize("field", ["purpose", "basis"])
def test_purpose_and_basis_are_required(client, city, db, field: str) -> None:
    response = ask(client, login(client, "civil_user"), resource(db, "人口基础信息"), **{field: ""})
    assert response.status_code == 422 and response.json()["error"]["details"]["field"] == field
    assert db.scalar(select(ShareRequest.id)) is None


def test_a_disputed_answer_is_ruled_by_the_bureau_finally(client, city, db) -> None:
    civil, approver = login(client, "civil_user"), login(client, "police_approver")
    cars = resource(db, "机动车登记信息")
    first = ask(client, civil, cars).json()
    client.post(
        f"/api/v1/requests/{first['id']}/decision",
        json={"decision": "reject", "reason": "用途不明确"},
        headers=approver,
    )
    url = f"/api/v1/requests/{first['id']}"
    assert client.post(f"{url}/dispute", json={"reason": "x"}, headers=approver).status_code == 403
    disputed = client.post(f"{url}/dispute", json={"reason": "低保核查须核对车辆情况"}, headers=civil)
    assert disputed.status_code == 200 and disputed.json()["dispute_status"] == "open"
    assert client.post(f"{url}/dispute", json={"reason": "再次"}, headers=civil).status_code == 409
    bureau_task = db.scalar(
        select(Task).where(Task.kind == "share_dispute", Task.subject_id == str(first["id"]))
    )
    assert bureau_task is not None and bureau_task.status == "open"
    ruling = {"decision": "partial", "reason": "同意核对身份号码", "items": ["id_number"]}
    assert client.post(f"{url}/ruling", json=ruling, headers=approver).status_code == 403
    ruled = client.post(f"{url}/ruling", json=ruling, headers=login(client, "bureau_admin"))
    assert ruled.status_code == 200, ruled.text
    body = ruled.json()
    assert body["dispute_status"] == "overruled" and body["status"] == "partial"
    assert body["grant"]["items"] == ["id_number"] and body["grant"]["status"] == "active"
    again = client.post(f"{url}/ruling", json=ruling, headers=login(client, "bureau_admin"))
    assert again.status_code == 409  # final


def test_pending_requests_are_reminded_then_escalated_once(client, city, db) -> None:
    civil = login(client, "civil_user")
    cars = resource(db, "机动车登记信息")
    created = ask(client, civil, cars).json()
    due = date.fromisoformat(created["due_date"])
    assert service.follow_deadlines(db, on=due - timedelta(days=30)) == (0, 0)  # far from due
    assert service.follow_deadlines(db, on=due) == (1, 0)
    assert service.follow_deadlines(db, on=due) == (0, 0)  # once
    assert service.follow_deadlines(db, on=due + timedelta(days=1)) == (0, 1)
    assert service.follow_deadlines(db, on=due + timedelta(days=2)) == (0, 0)
    kinds = set(db.scalars(select(Task.kind).where(Task.subject_id == str(created["id"]))).all())
    assert {"share_request", "share_reminder", "share_overdue"} <= kinds
    overdue = db.scalar(select(AuditEvent).where(AuditEvent.event_type == "sharing.overdue"))
    assert overdue is not None
    detail = client.get(f"/api/v1/requests/{created['id']}", headers=civil).json()
    assert detail["overdue"] is True


def test_a_due_date_in_an_unloaded_year_is_provisional_until_the_bureau_loads_it(client, city, db) -> None:
    from govshare.calendar import service as calendar
    from tests.calendar.test_service import NOTICE, SCHEDULE_2027
    from tests.helpers import actor

    civil = login(client, "civil_user")
    created = ask(client, civil, resource(db, "机动车登记信息")).json()
    filed = date(2027, 1, 25)  # 10 working days run into 春节 2027, unknown to chinesecalendar
    due, provisional = service.reply_due(db, filed)
    assert (due, provisional) == (date(2027, 2, 8), True)  # weekends and fixed-date holidays only
    assert db.scalar(select(Task).where(Task.kind == calendar.LOAD_TASK, Task.subject_id == "2027"))
    db.execute(
        update(ShareRequest)
        .where(ShareRequest.id == created["id"])
        .values(filed_on=filed, due_date=due, due_provisional=True)
    )
    loaded = calendar.load_schedule(
        db, actor=actor(db, "bureau_admin"), year=2027, source=NOTICE, days=SCHEDULE_2027
    )
    assert loaded.recomputed >= 1
    detail = client.get(f"/api/v1/requests/{created['id']}", headers=civil).json()
    assert (detail["due_date"], detail["due_provisional"]) == ("2027-02-15", False)  # after the festival
