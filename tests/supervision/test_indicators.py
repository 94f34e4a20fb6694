"""Indicators per department from real platform activity (M22, M23), and who may read them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from govshare.db import utcnow
from govshare.orgs.models import Organisation
from govshare.sharing.models import ShareRequest
from govshare.supervision import indicators
from govshare.supervision.periods import Period
from tests.helpers import login, org
from tests.sharing.test_feedback import report
from tests.sharing.test_requests import ask, resource
from tests.sharing.test_rows import PEOPLE, granted, loaded, rows


def figures(db, code: str) -> indicators.Indicators:  # type: ignore[no-untyped-def]
    found = indicators.compute(db, Period.parse(None), org_ids=[org(db, code).id])
    return found.departments[0]


def test_every_indicator_moves_with_the_records_behind_it(client, city, db) -> None:
    before = figures(db, "police")
    population = loaded(client, db)  # an accepted batch: 人口基础信息 now has data
    granted(client, population)
    civil = login(client, "civil_user")
    assert rows(client, population, civil, limit=2).status_code == 200
    assert rows(client, population, civil, purpose="商业营销").status_code == 403  # outside the grant
    assert report(client, civil, population, keys={"id_number": PEOPLE[0]}).status_code == 201
    cars = resource(db, "机动车登记信息")
    asked = ask(client, civil, cars).json()
    decided = client.post(
        f"/api/v1/requests/{asked['id']}/decision",
        json={"decision": "approve", "reason": "符合履职需要"},
        headers=login(client, "police_approver"),
    )
    assert decided.status_code == 200, decided.text

    after = figures(db, "police")
    assert after.attached == before.attached + 1
    assert after.rows_received == before.rows_received + len(PEOPLE)
    assert after.rows_accepted == before.rows_accepted + len(PEOPLE)
    assert after.calls == before.calls + 1 and after.rows_delivered == before.rows_delivered + 2
    assert after.consumers >= 1
    assert after.feedback_open == before.feedback_open + 1 and after.feedback_oldest_days == 0
    assert after.requests_due == before.requests_due + 1
    assert after.answered_in_time == before.answered_in_time + 1
    assert after.avg_reply_days is not None
    civil_figures = figures(db, "civil")
    assert civil_figures.calls_made >= 2 and civil_figures.calls_refused >= 1


def test_a_request_left_past_its_due_date_counts_against_the_provider(client, city, db) -> None:
    civil = login(client, "civil_user")
    asked = ask(client, civil, resource(db, "机动车登记信息")).json()
    before = figures(db, "police")
    request = db.get(ShareRequest, asked["id"])
    assert request is not None
    request.filed_at = utcnow() - timedelta(days=1)
    request.due_date = Period.parse(None).start  # fell due on the first day of this month, unanswered
    db.flush()
    after = figures(db, "police")
    assert after.requests_due == before.requests_due + 1
    assert after.pending_overdue == before.pending_overdue + 1
    assert after.answered_in_time == before.answered_in_time
    assert after.in_time_rate is not None and after.in_time_rate < 100


def test_the_city_total_sums_counts_and_recomputes_rates(db, city) -> None:
    city_figures = indicators.compute(db, Period.parse(None))
    total = city_figures.total
    assert total.published == sum(d.published for d in city_figures.departments)
    assert total.attached == sum(d.attached for d in city_figures.departments)
    if total.published:
        assert total.attach_rate == round(100 * total.attached / total.published, 1)
    supervised = db.scalars(
        select(Organisation.id).where(
            Organisation.kind.in_(["department", "district"]), Organisation.is_active
        )
    ).all()
    assert sorted(d.org_id for d in city_figures.departments) == sorted(supervised)


def test_the_bureau_reads_every_department_and_a_department_only_itself(client, city, db) -> None:
    bureau = client.get("/api/v1/supervision/indicators", headers=login(client, "bureau_reviewer"))
    assert bureau.status_code == 200, bureau.text
    body = bureau.json()
    assert len(body["items"]) == len(indicators.compute(db, Period.parse(None)).departments) > 10
    first = body["items"][0]
    for key in ("org_id", "name", "published", "attach_rate", "in_time_rate", "quality_rate", "calls"):
        assert key in first
    assert (
        client.get("/api/v1/supervision/indicators", headers=login(client, "bureau_auditor")).status_code
        == 200
    )

    own = client.get("/api/v1/supervision/indicators", headers=login(client, "police_admin"))
    assert own.status_code == 200
    assert [i["org_id"] for i in own.json()["items"]] == [org(db, "police").id]
    assert own.json()["total"]["published"] == own.json()["items"][0]["published"]
    for user in ("civil_user", "police_approver", "police_compiler"):
        assert client.get("/api/v1/supervision/indicators", headers=login(client, user)).status_code == 403
    assert client.get("/api/v1/supervision/indicators").status_code == 401


def test_periods_are_months_or_quarters_and_anything_else_is_refused(client, city) -> None:
    headers = login(client, "bureau_admin")
    month = client.get("/api/v1/supervision/indicators?period=2026-10", headers=headers).json()
    assert month["period"] == "2026-10" and month["label"] == "2026年10月"
    quarter = client.get("/api/v1/supervision/indicators?period=2026-q3", headers=headers).json()
    assert quarter["period"] == "2026-Q3" and quarter["label"] == "2026年第三季度"
    for bad in ("2026-13", "2026-Q5", "October", "2026-10'; DROP TABLE resources;--"):
        refused = client.get("/api/v1/supervision/indicators", params={"period": bad}, headers=headers)
        assert refused.status_code == 422 and "统计期" in refused.json()["error"]["message"]


def test_the_trend_has_one_point_per_month(client, city) -> None:
    trend = client.get("/api/v1/supervision/trend?months=6", headers=login(client, "bureau_admin"))
    assert trend.status_code == 200
    points = trend.json()["items"]
    assert len(points) == 6 and points[-1]["period"] == Period.parse(None).code
    assert points == sorted(points, key=lambda p: p["period"])
    assert (
        client.get("/api/v1/supervision/trend?months=99", headers=login(client, "bureau_admin")).status_code
        == 422
    )
