"""The reply clock at its edges (M16): due dates are Beijing dates, and a provisional date that the
Bureau's schedule moves later takes back an escalation made on the guessed date."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.sharing import service as sharing
from govshare.sharing.models import ShareRequest
from tests.helpers import actor, login


def _cars(db: Session) -> Resource:
    found = db.scalar(select(Resource).where(Resource.name == "机动车登记信息"))
    assert found is not None
    return found


def _ask(client, db: Session) -> dict:  # type: ignore[no-untyped-def]
    body = {
        "resource_id": _cars(db).id,
        "items": ["id_number", "name"],
        "purpose": "最低生活保障对象资格核查",
        "basis": "《社会救助暂行办法》第十一条",
        "duration_days": 365,
    }
    response = client.post("/api/v1/requests", json=body, headers=login(client, "civil_user"))
    assert response.status_code == 201, response.text
    return response.json()


def test_a_reply_given_the_morning_after_the_due_day_in_beijing_is_not_on_time(
    client, city, db, monkeypatch
) -> None:
    # Due 2026-12-11; the approver answers at 07:30 on 2026-12-12 in Beijing (23:30 UTC on 12-11).
    # The deadline is a Beijing date (M16), so the answer is late; the audit record says on_time.
    created = _ask(client, db)
    due = date(2026, 12, 11)
    db.execute(update(ShareRequest).where(ShareRequest.id == created["id"]).values(due_date=due))
    monkeypatch.setattr(sharing, "utcnow", lambda: datetime(2026, 12, 11, 23, 30, tzinfo=UTC))
    sharing.decide(
        db,
        actor=actor(db, "police_approver"),
        request_id=created["id"],
        data=sharing.DecisionIn(decision="reject", reason="不符合共享条件"),
    )
    event = db.scalar(
        select(AuditEvent).where(
            AuditEvent.event_type == "sharing.decided", AuditEvent.object_id == str(created["id"])
        )
    )
    assert event is not None
    assert json.loads(event.details)["on_time"] is False


def test_loading_the_year_that_moves_a_provisional_due_date_later_withdraws_the_overdue_escalation(
    client, city, db
) -> None:
    from govshare.calendar import service as calendar
    from tests.calendar.test_service import NOTICE, SCHEDULE_2027

    created = _ask(client, db)
    filed = date(2027, 1, 25)  # 10 working days run into 春节 2027: provisionally due 2027-02-08
    due, provisional = sharing.reply_due(db, filed)
    assert (due, provisional) == (date(2027, 2, 8), True)
    db.execute(
        update(ShareRequest)
        .where(ShareRequest.id == created["id"])
        .values(filed_on=filed, due_date=due, due_provisional=True)
    )
    assert sharing.follow_deadlines(db, on=date(2027, 2, 9))[1] == 1  # escalated on the guessed date
    calendar.load_schedule(db, actor=actor(db, "bureau_admin"), year=2027, source=NOTICE, days=SCHEDULE_2027)
    request = db.get(ShareRequest, created["id"])
    assert request is not None
    db.refresh(request)
    assert (request.due_date, request.due_provisional) == (date(2027, 2, 15), False)
    # Under the authoritative schedule the request was not overdue on 2027-02-09 (nor is it until
    # 2027-02-16): it must not stay marked overdue against the provider.
    assert request.overdue_at is None
