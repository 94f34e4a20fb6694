"""Doubt and error feedback on shared rows, tracked to closure (M18)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from govshare.catalog.models import Resource
from govshare.sharing import feedback
from govshare.tasks.models import Task
from govshare.workdays import judge, today
from tests.exchange.test_ingest import csv_body, line, push
from tests.helpers import login
from tests.sharing.test_requests import PURPOSE
from tests.sharing.test_rows import PEOPLE, granted, loaded, rows


def report(client, headers, population: Resource, **body):  # type: ignore[no-untyped-def]
    payload = {"purpose": PURPOSE, "kind": "wrong", "description": "该人员已迁出本市，住址有误", **body}
    return client.post(f"/api/v1/resources/{population.id}/feedback", json=payload, headers=headers)


def five_working_days_after(day: date) -> date:
    counted = 0
    while counted < 5:
        day += timedelta(days=1)
        counted += judge(day).workday
    return day


def test_a_report_is_answered_reopened_corrected_and_closed(client, city, db) -> None:
    population = loaded(client, db)
    civil, police_admin = login(client, "civil_user"), login(client, "police_admin")
    assert report(client, civil, population, keys={"id_number": PEOPLE[0]}).status_code == 403  # no grant
    granted(client, population, ["id_number", "name", "address"])
    filed = report(client, civil, population, keys={"id_number": PEOPLE[0]}, items=["address"])
    assert filed.status_code == 201, filed.text
    case = filed.json()
    assert case["status"] == "open" and case["due_date"] == five_working_days_after(today()).isoformat()
    assert "row" not in case  # the consumer does not get the provider's key values back
    again = report(client, civil, population, row_id=case["row_id"])
    assert again.status_code == 409  # the same row, by its row id
    assert (
        report(client, civil, population, keys={"id_number": PEOPLE[0]}, items=["mobile"]).status_code == 422
    )
    missing = report(client, civil, population, row_id="0" * 64)
    assert missing.status_code == 404
    task = db.scalar(select(Task).where(Task.kind == "feedback", Task.subject_id == str(case["id"])))
    assert task is not None and task.org_id == population.org_id

    url = f"/api/v1/feedback/{case['id']}"
    seen = client.get(url, headers=police_admin).json()
    assert seen["row"] == {"id_number": PEOPLE[0]}  # the provider sees which of its rows
    assert (
        client.post(f"{url}/answer", json={"answer": "confirmed", "reason": "x"}, headers=civil).status_code
        == 403
    )
    confirmed = client.post(
        f"{url}/answer", json={"answer": "confirmed", "reason": "经户籍系统核实无误"}, headers=police_admin
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "answered"
    reopened = client.post(
        f"{url}/close", json={"accept": False, "comment": "本人已于上月迁出"}, headers=civil
    )
    assert (
        reopened.status_code == 200
        and reopened.json()["status"] == "open"
        and reopened.json()["reopened"] == 1
    )

    other = push(client, police_admin, population.id, csv_body(line(PEOPLE[1], "李娜娜")))
    unrelated = client.post(
        f"{url}/answer",
        json={"answer": "corrected", "reason": "已更正", "batch_id": other.json()["batch_id"]},
        headers=police_admin,
    )
    assert unrelated.status_code == 422 and "没有改写" in unrelated.json()["error"]["message"]
    fixed = push(
        client,
        police_admin,
        population.id,
        csv_body(line(PEOPLE[0], "张伟")).replace("建设北大街1号".encode(), "裕华路9号".encode()),
    )
    assert fixed.json()["updated"] == 1
    corrected = client.post(
        f"{url}/answer",
        json={"answer": "corrected", "reason": "已按迁移登记更正", "batch_id": fixed.json()["batch_id"]},
        headers=police_admin,
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["corrected_batch_id"] == fixed.json()["batch_id"]
    closed = client.post(f"{url}/close", json={"accept": True}, headers=civil)
    assert closed.json()["status"] == "closed"
    assert client.post(f"{url}/close", json={"accept": True}, headers=civil).status_code == 409
    mine = client.get("/api/v1/feedback", headers=civil).json()
    inbox = client.get("/api/v1/feedback?side=inbox", headers=police_admin).json()
    assert [c["id"] for c in mine["items"]] == [case["id"]] == [c["id"] for c in inbox["items"]]
    assert client.get(url, headers=login(client, "hrss_user")).status_code == 404


def test_a_case_past_its_due_date_is_escalated_once(client, city, db) -> None:
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "name"])
    case = report(client, civil, population, keys={"id_number": PEOPLE[2]}, kind="doubtful").json()
    due = date.fromisoformat(case["due_date"])
    assert feedback.escalate_overdue(db, on=due) == 0
    assert feedback.escalate_overdue(db, on=due + timedelta(days=1)) == 1
    assert feedback.escalate_overdue(db, on=due + timedelta(days=2)) == 0
    bureau_task = db.scalar(
        select(Task).where(Task.kind == "feedback_overdue", Task.subject_id == str(case["id"]))
    )
    assert bureau_task is not None
    assert client.get(f"/api/v1/feedback/{case['id']}", headers=civil).json()["overdue"] is True


def test_an_open_case_never_blocks_reading_the_data(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population)
    civil = login(client, "civil_user")
    assert report(client, civil, population, keys={"id_number": PEOPLE[0]}).status_code == 201
    still = rows(client, population, civil, limit=10)
    assert still.status_code == 200 and len(still.json()["rows"]) == len(PEOPLE)
