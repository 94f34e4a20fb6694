"""A notice from issue to verification: the department reports (again after a rejection), the Bureau
verifies; other departments never see it; a stale decision is refused; deadlines count working days."""

from __future__ import annotations

import base64
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from govshare.crypto import sm3_hex
from govshare.rectification import service
from govshare.rectification.models import RectificationNotice, Violation
from govshare.tasks.models import Task
from govshare.workdays import judge
from tests.conftest import settings_override
from tests.helpers import login, org
from tests.rectification.helpers import API, manual


def working_days_after(day: date, n: int) -> date:
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        counted += judge(day).workday
    return day


def issued(client, db, dept: str = "hrss", **body):  # type: ignore[no-untyped-def]
    bureau = login(client, "bureau_admin")
    violation = manual(client, bureau, org(db, dept).id)
    response = client.post(
        f"{API}/notices",
        json={"violation_ids": [violation], "requirement": "请于期限内补报年度总结并说明原因。", **body},
        headers=bureau,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_notice_report_reject_report_again_verify(client, db) -> None:
    notice = issued(client, db)
    url = f"{API}/notices/{notice['id']}"
    assert notice["status"] == "issued" and notice["number"].startswith("整改通知〔")
    [violation] = notice["violations"]
    assert violation["status"] == "noticed" and violation["notice_id"] == notice["id"]
    task = db.scalar(
        select(Task).where(
            Task.subject_type == "rect_notices", Task.subject_id == str(notice["id"]), Task.status == "open"
        )
    )
    assert task is not None and task.org_id == org(db, "hrss").id and task.assignee_role == "data_admin"

    hrss = login(client, "hrss_admin")
    assert client.get(url, headers=hrss).status_code == 200
    content = "整改说明\n".encode() * 10
    first = client.post(
        f"{url}/reports",
        json={
            "text": "已补报。",
            "attachment_name": "说明.txt",
            "attachment_base64": base64.b64encode(content).decode(),
        },
        headers=hrss,
    )
    assert first.status_code == 201, first.text
    assert first.json()["file_sm3"] == sm3_hex(content) and first.json()["file_size"] == len(content)
    twice = client.post(f"{url}/reports", json={"text": "再报一次"}, headers=hrss)
    assert twice.status_code == 409  # awaiting verification

    bureau = login(client, "bureau_reviewer")
    rejected = client.post(f"{url}/rejection", json={"reason": "缺少佐证材料"}, headers=bureau)
    assert rejected.status_code == 200 and rejected.json()["status"] == "returned"
    assert client.post(f"{url}/verification", json={"opinion": "好"}, headers=bureau).status_code == 409
    again = client.post(f"{url}/reports", json={"text": "已补充佐证材料。"}, headers=hrss)
    assert again.status_code == 201
    verified = client.post(f"{url}/verification", json={"opinion": "整改到位"}, headers=bureau)
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["status"] == "verified" and [r["verdict"] for r in body["reports"]] == [
        "rejected",
        "verified",
    ]
    assert body["violations"][0]["status"] == "resolved"
    assert not db.scalars(
        select(Task).where(
            Task.subject_type == "rect_notices", Task.subject_id == str(notice["id"]), Task.status == "open"
        )
    ).all()
    attachment = client.get(f"/rectification/reports/{first.json()['id']}/attachment", headers=hrss)
    assert attachment.status_code == 200 and attachment.content == content


def test_other_departments_and_other_roles(client, db) -> None:
    notice = issued(client, db)
    url = f"{API}/notices/{notice['id']}"
    police = login(client, "police_admin")
    assert client.get(url, headers=police).status_code == 404
    assert client.post(f"{url}/reports", json={"text": "x"}, headers=police).status_code == 404
    assert notice["id"] not in [n["id"] for n in client.get(f"{API}/notices", headers=police).json()["items"]]
    assert client.get(url, headers=login(client, "hrss_user")).status_code == 404
    assert client.get(f"{API}/notices", headers=login(client, "hrss_user")).status_code == 403
    auditor = login(client, "bureau_auditor")
    assert client.get(url, headers=auditor).status_code == 200
    assert client.post(f"{url}/reports", json={"text": "x"}, headers=auditor).status_code == 403
    hrss = login(client, "hrss_admin")
    assert client.post(f"{url}/reports", json={"text": "ok"}, headers=hrss).status_code == 201
    assert client.post(f"{url}/verification", json={"opinion": "x"}, headers=hrss).status_code == 403
    own = client.get(f"{API}/summary", headers=hrss).json()
    assert [r["org_id"] for r in own] == [org(db, "hrss").id] and own[0]["notices_open"] >= 1
    assert len(client.get(f"{API}/summary", headers=auditor).json()) > 1


def test_a_violation_goes_on_one_notice_only_and_of_one_department(client, db) -> None:
    bureau = login(client, "bureau_admin")
    mine = manual(client, bureau, org(db, "hrss").id)
    theirs = manual(client, bureau, org(db, "police").id)
    mixed = client.post(
        f"{API}/notices", json={"violation_ids": [mine, theirs], "requirement": "整改"}, headers=bureau
    )
    assert mixed.status_code == 422 and "一个部门" in mixed.json()["error"]["message"]
    assert (
        client.post(
            f"{API}/notices", json={"violation_ids": [mine], "requirement": "整改"}, headers=bureau
        ).status_code
        == 201
    )
    taken = client.post(
        f"{API}/notices", json={"violation_ids": [mine], "requirement": "整改"}, headers=bureau
    )
    assert taken.status_code == 409 and "刷新" in taken.json()["error"]["message"]


def test_a_decision_on_an_outdated_page_is_refused(client, db) -> None:
    notice = issued(client, db)
    url = f"{API}/notices/{notice['id']}"
    seen = notice["version"]
    reported = client.post(
        f"{url}/reports", json={"text": "已整改", "version": seen}, headers=login(client, "hrss_admin")
    )
    assert reported.status_code == 201
    stale = client.post(
        f"{url}/verification",
        json={"opinion": "通过", "version": seen},
        headers=login(client, "bureau_admin"),
    )
    assert stale.status_code == 409 and stale.json()["error"]["details"]["current_version"] == seen + 1
    current = client.get(url, headers=login(client, "bureau_admin")).json()["version"]
    fresh = client.post(
        f"{url}/verification",
        json={"opinion": "通过", "version": current},
        headers=login(client, "bureau_admin"),
    )
    assert fresh.status_code == 200


def test_attachments_are_checked(client, db) -> None:
    notice = issued(client, db)
    url = f"{API}/notices/{notice['id']}/reports"
    hrss = login(client, "hrss_admin")
    exe = client.post(
        url,
        json={"text": "x", "attachment_name": "a.exe", "attachment_base64": base64.b64encode(b"MZ").decode()},
        headers=hrss,
    )
    assert exe.status_code == 422 and "PDF" in exe.json()["error"]["message"]
    with settings_override(rectification_report_max_bytes=1024):
        big = client.post(
            url,
            json={
                "text": "x",
                "attachment_name": "a.pdf",
                "attachment_base64": base64.b64encode(b"0" * 2048).decode(),
            },
            headers=hrss,
        )
    assert big.status_code == 422 and "1 KB" in big.json()["error"]["message"]
    garbage = client.post(
        url, json={"text": "x", "attachment_name": "a.pdf", "attachment_base64": "@@@"}, headers=hrss
    )
    assert garbage.status_code == 422
    assert db.get(RectificationNotice, notice["id"]).status == "issued"  # type: ignore[union-attr]


def test_the_deadline_counts_working_days_across_a_holiday(
    client, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = date(2026, 9, 30)  # the day before the National Day holiday
    monkeypatch.setattr(service, "today", lambda: start)
    notice = issued(client, db, working_days=3)
    expected = working_days_after(start, 3)
    assert notice["due_date"] == expected.isoformat() and not notice["due_provisional"]
    assert expected > start + timedelta(days=7)  # the holiday week does not count


def test_a_deadline_in_an_unloaded_year_is_provisional(client, db, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "today", lambda: date(2026, 12, 28))
    notice = issued(client, db, working_days=10)
    assert notice["due_provisional"] and notice["due_date"].startswith("2027-")
    assert db.scalar(select(Task).where(Task.kind == "calendar_load_year", Task.status == "open")) is not None
    violation = db.get(Violation, notice["violations"][0]["id"])
    assert violation is not None and violation.notice_id == notice["id"]
