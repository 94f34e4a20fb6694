"""Each detection rule fires on real audit events at its threshold and not below it; the watermark
evaluates each event once; a continuing situation extends its alert (S10–S12)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.db import utcnow
from govshare.errors import Conflict, Invalid
from govshare.protection import detection, rules
from govshare.protection.models import ScanState
from govshare.sharing.models import DataUse
from govshare.systems import service as systems
from govshare.workdays import BEIJING, Calendar
from tests.helpers import actor, bearer, login, org
from tests.protection.helpers import alerts, denied, scan, set_rule, start_at_end
from tests.sharing.test_requests import PURPOSE
from tests.sharing.test_rows import PEOPLE, granted, loaded, rows


def test_denial_burst_fires_at_the_threshold_with_the_denials_as_evidence(client, city, db) -> None:
    start_at_end(db)
    set_rule(db, "denial_burst", count=4, minutes=10)
    civil = login(client, "civil_user")
    denied(client, civil, 3)
    assert scan(db).raised == [] and alerts(db, "denial_burst") == []  # below the threshold
    denied(client, civil, 1)
    result = scan(db)
    [alert] = alerts(db, "denial_burst")
    assert result.raised == [alert.id]
    assert alert.subject.startswith("user:") and alert.subject_name == "civil_user"
    assert alert.org_id == org(db, "civil").id and alert.status == "open"
    kinds = db.scalars(select(AuditEvent.event_type).where(AuditEvent.seq.in_(alert.evidence))).all()
    assert kinds == ["access.denied"] * 4 and alert.event_count == 4 and alert.measure == 4
    raised = db.scalar(select(AuditEvent).where(AuditEvent.event_type == "protection.alert_raised"))
    assert raised is not None and raised.object_id == str(alert.id)


def test_trying_resource_numbers_on_the_data_api_counts_as_a_denial_burst(client, city, db) -> None:
    """A data API call for a resource that does not exist is refused with what to do and recorded
    like a call without a grant: a caller probing resource numbers raises `denial_burst`."""
    start_at_end(db)
    set_rule(db, "denial_burst", count=3, minutes=10)
    civil = login(client, "civil_user")
    unknown = int(db.scalar(select(func.max(Resource.id))) or 0) + 100
    for n in range(3):
        answer = client.get(
            f"/api/v1/resources/{unknown + n}/rows", params={"purpose": PURPOSE}, headers=civil
        )
        assert answer.status_code == 404 and "共享目录" in answer.json()["error"]["message"]
        if n == 1:
            assert scan(db).raised == []  # below the threshold
    refusals = db.scalars(
        select(AuditEvent).where(AuditEvent.event_type == "sharing.data_refused").order_by(AuditEvent.seq)
    ).all()
    assert [(e.object_type, e.object_id, e.outcome) for e in refusals] == [
        ("resources", str(unknown + n), "denied") for n in range(3)
    ]
    assert json.loads(refusals[0].details)["reason"] == "unknown_resource"
    assert refusals[0].actor_name == "civil_user"
    scan(db)
    [alert] = alerts(db, "denial_burst")
    assert alert.subject_name == "civil_user" and alert.event_count == 3
    assert set(alert.evidence) == {e.seq for e in refusals}


def test_watermark_evaluates_each_event_once_and_a_continuing_burst_extends_its_alert(
    client, city, db
) -> None:
    start_at_end(db)
    set_rule(db, "denial_burst", count=3, minutes=10)
    civil = login(client, "civil_user")
    denied(client, civil, 3)
    first = scan(db)
    assert len(first.raised) == 1
    state = db.get(ScanState, 1)
    assert state is not None and state.last_seq >= max(alerts(db)[0].evidence)
    again = scan(db)  # nothing new: nothing evaluated twice, no second alert
    assert again.raised == [] and again.extended == [] and len(alerts(db)) == 1
    denied(client, civil, 2)  # the same burst going on
    more = scan(db)
    [alert] = alerts(db, "denial_burst")
    assert more.raised == [] and more.extended == [alert.id]
    assert alert.event_count == 5 and len(alert.evidence) == 5
    assert db.scalar(select(AuditEvent.id).where(AuditEvent.event_type == "protection.alert_extended"))
    # Another person's denials are another subject.
    denied(client, login(client, "hrss_user"), 3)
    scan(db)
    assert {a.subject_name for a in alerts(db, "denial_burst")} == {"civil_user", "hrss_user"}


def test_a_restarted_scanner_resumes_from_its_stored_watermark(client, city, db) -> None:
    start_at_end(db)
    set_rule(db, "denial_burst", count=2, minutes=10)
    denied(client, login(client, "civil_user"), 2)
    assert len(scan(db).raised) == 1
    head = db.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    db.expire_all()  # as a new process would: only the stored row remembers
    state = db.get(ScanState, 1)
    assert state is not None and state.last_seq == head  # its own alert event included
    again = detection.scan(db)
    assert again.events == 0 and again.raised == [] and len(alerts(db)) == 1


def test_a_disabled_rule_raises_nothing(client, city, db) -> None:
    start_at_end(db)
    set_rule(db, "denial_burst", enabled=False, count=2, minutes=10)
    denied(client, login(client, "civil_user"), 3)
    scan(db)
    assert alerts(db) == []


def test_purpose_mismatches_fire_per_caller(client, city, db) -> None:
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "name", "region_code"])
    start_at_end(db)
    set_rule(db, "purpose_mismatch", count=2, minutes=60)
    assert rows(client, population, civil, purpose="商业营销").status_code == 403
    assert rows(client, population, civil).status_code == 200  # the declared purpose is fine
    scan(db)
    assert alerts(db, "purpose_mismatch") == []
    assert rows(client, population, civil, purpose="内部研究").status_code == 403
    scan(db)
    [alert] = alerts(db, "purpose_mismatch")
    assert alert.subject_name == "civil_user" and alert.event_count == 2
    refusals = db.scalars(select(AuditEvent.details).where(AuditEvent.seq.in_(alert.evidence))).all()
    assert all("purpose_mismatch" in d for d in refusals)
    assert alerts(db, "denial_burst") == []  # a purpose mismatch is not counted as a plain denial


def test_revoked_credentials_fire_for_the_system_that_keeps_using_them(client, city, db) -> None:
    start_at_end(db)
    set_rule(db, "revoked_credentials", count=2, minutes=60)
    token = city.tokens["civil-assist"]
    system = db.scalar(select(systems.BusinessSystem).where(systems.BusinessSystem.code == "civil-assist"))
    assert system is not None
    for t in system.tokens:
        systems.revoke_token(db, actor=actor(db, "bureau_admin"), system_id=system.id, token_id=t.id)
    db.commit()
    assert client.get("/api/v1/audit/events", headers=bearer(token)).status_code == 401
    scan(db)
    assert alerts(db, "revoked_credentials") == []
    assert client.get("/api/v1/audit/events", headers=bearer(token)).status_code == 401
    scan(db)
    [alert] = alerts(db, "revoked_credentials")
    assert alert.subject == f"system:{system.id}" and alert.org_id == system.org_id


def test_login_failures_fire_per_source_address(client, city, db) -> None:
    start_at_end(db)
    set_rule(db, "login_failures", count=3, minutes=10)
    for name in ("nobody1", "nobody2"):
        assert client.post("/api/v1/auth/login", json={"username": name, "password": "x"}).status_code == 401
    scan(db)
    assert alerts(db, "login_failures") == []
    assert client.post("/api/v1/auth/login", json={"username": "nobody3", "password": "x"}).status_code == 401
    scan(db)
    [alert] = alerts(db, "login_failures")
    assert alert.subject == "ip:127.0.0.1" and alert.org_id is None  # for the Bureau only


def test_key_enumeration_counts_distinct_single_key_lookups_and_misses(client, city, db) -> None:
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "name", "region_code"])
    start_at_end(db)
    set_rule(db, "key_enumeration", lookups=5, misses=3, minutes=10)
    for number in PEOPLE[:4]:  # four distinct lookups that find someone
        assert len(rows(client, population, civil, id_number=number).json()["rows"]) == 1
    assert rows(client, population, civil, id_number=PEOPLE[0]).status_code == 200  # the same one again
    several = [("purpose", PURPOSE), ("region_code", "130102"), ("region_code", "130105")]
    assert (
        client.get(f"/api/v1/resources/{population.id}/rows", params=several, headers=civil).status_code
        == 200
    )
    assert rows(client, population, civil, birth_date__gte="1990-01-01").status_code == 422  # not granted
    scan(db)
    assert alerts(db, "key_enumeration") == []
    assert rows(client, population, civil, id_number=PEOPLE[4]).status_code == 200  # the fifth distinct
    scan(db)
    [alert] = alerts(db, "key_enumeration")
    assert alert.measure == 5 and alert.subject_name == "civil_user"
    # Misses alone: distinct lookups that find nothing, by another consumer (its own system).
    granted(client, population, ["id_number", "name"], user="hrss_user")
    system = bearer(city.tokens["hrss-insurance"])
    for region in ("130199", "130198", "130197"):
        page = client.get(
            f"/api/v1/resources/{population.id}/rows",
            params={"purpose": PURPOSE, "id_number": PEOPLE[0][:-4] + region[-4:]},
            headers=system,
        )
        assert page.status_code in (200, 422), page.text
    scan(db)
    missed = [a for a in alerts(db, "key_enumeration") if a.subject.startswith("system:")]
    assert len(missed) == 1 and "查无结果" in missed[0].summary


def _history(db, org_id: int, per_day: int, days: int = 28) -> None:  # type: ignore[no-untyped-def]
    start = detection._day_start(utcnow())
    for back in range(1, days + 1):
        db.add(
            DataUse(
                at=start - timedelta(days=back) + timedelta(hours=3),
                org_id=org_id,
                resource_id=1,
                purpose=PURPOSE,
                channel="rows",
                outcome="delivered",
                rows=per_day,
            )
        )
    db.flush()


@pytest.mark.parametrize(("per_day", "fires"), [(1, True), (5, False)])
def test_volume_spike_compares_today_with_the_consumers_own_median(client, city, db, per_day, fires) -> None:
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "name", "region_code"])
    _history(db, org(db, "civil").id, per_day)
    start_at_end(db)
    set_rule(db, "volume_spike", factor=3, min_rows=10, baseline_days=28)
    for _ in range(3):  # 15 rows today
        assert len(rows(client, population, civil).json()["rows"]) == len(PEOPLE)
    scan(db)
    found = alerts(db, "volume_spike")
    if not fires:  # 15 ≤ 3 × 5
        assert found == []
        return
    [alert] = found
    assert alert.subject == f"org:{org(db, 'civil').id}" and alert.measure == 15
    assert alert.event_count == 3 and "中位数 1 行" in alert.summary
    assert rows(client, population, civil).status_code == 200
    scan(db)
    [same] = alerts(db, "volume_spike")  # the same day goes on: extended, not raised again
    assert same.measure == 20 and same.event_count == 4


def test_volume_spike_needs_the_absolute_floor(client, city, db) -> None:
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "name"])
    start_at_end(db)
    set_rule(db, "volume_spike", factor=2, min_rows=100, baseline_days=28)  # no history: median 0
    for _ in range(3):
        rows(client, population, civil)
    scan(db)
    assert alerts(db, "volume_spike") == []


def test_off_hours_bulk_uses_the_working_hours_setting(client, city, db) -> None:
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "name"])
    hour = utcnow().astimezone(BEIJING).hour
    start_at_end(db)
    # Working hours that exclude the present hour: the deliveries below are out of hours.
    start, end = (hour + 1, hour + 2) if hour < 22 else (1, 2)
    set_rule(db, "off_hours_bulk", rows=10, minutes=60, work_start=start, work_end=end)
    rows(client, population, civil)
    scan(db)
    assert alerts(db, "off_hours_bulk") == []  # 5 rows < 10
    rows(client, population, civil)
    scan(db)
    [alert] = alerts(db, "off_hours_bulk")
    assert alert.measure == 10 and alert.subject == f"org:{org(db, 'civil').id}"


def test_working_time_follows_holidays_and_make_up_days() -> None:
    calendar = Calendar()

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=BEIJING)

    assert detection.is_working_time(calendar, at("2026-11-25 10:00"), 8, 18)  # a Wednesday
    assert not detection.is_working_time(calendar, at("2026-11-25 19:30"), 8, 18)
    assert not detection.is_working_time(calendar, at("2026-11-25 07:59"), 8, 18)
    assert not detection.is_working_time(calendar, at("2026-11-28 10:00"), 8, 18)  # Saturday
    assert not detection.is_working_time(calendar, at("2026-10-01 10:00"), 8, 18)  # National Day
    assert detection.is_working_time(calendar, at("2026-09-20 10:00"), 8, 18)  # make-up working Sunday


def test_rule_settings_are_checked_audited_and_versioned(db, city) -> None:
    bureau = actor(db, "bureau_admin")
    rule = rules.effective(db)["denial_burst"]
    assert rule.version is None and rule.params == {"count": 10, "minutes": 10}
    changed = rules.update_rule(
        db, actor=bureau, code="denial_burst", enabled=True, params={"count": 5}, version=None
    )
    assert changed.params == {"count": 5, "minutes": 10} and changed.version == 1
    event = db.scalar(select(AuditEvent).where(AuditEvent.event_type == "protection.rule_changed"))
    assert event is not None and '"before":{"count":10' in event.details
    with pytest.raises(Conflict):  # edited on the defaults, but it has been changed since
        rules.update_rule(
            db, actor=bureau, code="denial_burst", enabled=True, params={"count": 6}, version=None
        )
    with pytest.raises(Invalid):
        rules.update_rule(db, actor=bureau, code="denial_burst", enabled=True, params={"count": 1}, version=1)
    with pytest.raises(Invalid):
        rules.update_rule(
            db,
            actor=bureau,
            code="off_hours_bulk",
            enabled=True,
            params={"work_start": 18, "work_end": 9},
            version=None,
        )
