"""A notice past its deadline without a report is escalated once, with a frozen document."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from govshare.crypto import sm3_hex
from govshare.jobs import JOBS, load_jobs
from govshare.orgs.models import Organisation
from govshare.rectification import escalation
from govshare.rectification.models import Escalation, RectificationNotice
from tests.helpers import login, org
from tests.rectification.test_notices import issued


def test_an_overdue_notice_is_escalated_once_with_a_frozen_document(client, db) -> None:
    notice = issued(client, db)
    row = db.get(RectificationNotice, notice["id"])
    assert row is not None
    assert escalation.escalate_overdue(db, on=row.due_date) == []  # not late on the due day itself
    [done] = escalation.escalate_overdue(db, on=row.due_date + timedelta(days=1))
    assert row.status == "escalated" and row.escalated_at is not None
    assert escalation.escalate_overdue(db, on=row.due_date + timedelta(days=2)) == []  # once
    assert done.number.startswith("上报〔") and row.number in done.content
    assert "人力资源" in done.content or org(db, "hrss").name in done.content
    assert done.content_sm3 == sm3_hex(done.content.encode())

    bureau = login(client, "bureau_admin")
    page = client.get(f"/rectification/escalations/{done.id}", headers=bureau)
    assert page.status_code == 200 and done.content in page.text and "与生成时一致" in page.text
    # The department is renamed afterwards: the document keeps what was sent.
    department = db.get(Organisation, row.org_id)
    assert department is not None
    old_name = department.name
    department.name = "改名后的部门"
    db.flush()
    again = client.get(f"/rectification/escalations/{done.id}", headers=bureau)
    assert old_name in again.text and done.content in again.text
    download = client.get(f"/rectification/escalations/{done.id}/download", headers=bureau)
    assert download.headers["X-Content-SM3"] == done.content_sm3 and done.content in download.text
    api = client.get(f"/api/v1/rectification/escalations/{done.id}", headers=bureau).json()
    assert api["intact"] and api["content_sm3"] == done.content_sm3
    # The department still sees it and may still report; another department does not.
    assert (
        client.get(f"/rectification/escalations/{done.id}", headers=login(client, "hrss_admin")).status_code
        == 200
    )
    assert (
        client.get(f"/rectification/escalations/{done.id}", headers=login(client, "police_admin")).status_code
        == 404
    )
    late = client.post(
        f"/api/v1/rectification/notices/{row.id}/reports",
        json={"text": "已整改"},
        headers=login(client, "hrss_admin"),
    )
    assert late.status_code == 201


def test_a_report_on_time_stops_the_clock(client, db) -> None:
    notice = issued(client, db)
    row = db.get(RectificationNotice, notice["id"])
    assert row is not None
    client.post(
        f"/api/v1/rectification/notices/{row.id}/reports",
        json={"text": "已整改"},
        headers=login(client, "hrss_admin"),
    )
    assert escalation.escalate_overdue(db, on=row.due_date + timedelta(days=5)) == []
    assert db.scalar(select(Escalation).where(Escalation.notice_id == row.id)) is None


def test_the_jobs_are_registered() -> None:
    load_jobs()
    assert {"rectification.detect", "rectification.escalate"} <= set(JOBS)
