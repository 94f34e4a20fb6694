"""Each M24 situation is detected from the records other modules keep, once per problem: a state that
ends resolves its violation and may recur; an event is raised once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from govshare.catalog.models import Resource
from govshare.catalog.supervision import department_catalogs
from govshare.db import utcnow
from govshare.exchange.models import Batch
from govshare.protection import alerts
from govshare.rectification.models import Violation
from govshare.sharing.models import Feedback
from govshare.workdays import today
from tests.exchange.test_ingest import BAD, GOOD1, csv_body, line, push
from tests.helpers import actor, login, org, user_id
from tests.protection.test_alerts import raised
from tests.rectification.helpers import API, detect, manual, unresolved, with_key
from tests.sharing.test_feedback import report
from tests.sharing.test_rows import PEOPLE, granted, loaded, rows


def test_a_department_without_a_catalog_is_found(db) -> None:
    detect(db)
    empty = [r for r in department_catalogs(db, actor=actor(db, "bureau_admin")) if r.compiled == 0]
    assert empty, "the demo city has departments that compiled nothing"
    for row in empty:
        violation = unresolved(db, f"catalog:none:{row.org_id}")
        assert violation is not None and violation.kind == "catalog" and violation.org_id == row.org_id
        assert violation.evidence[0]["link"] == "/catalog/supervision"


def test_a_stale_entry_is_found_resolves_when_reviewed_and_recurs(db) -> None:
    entry = db.scalar(select(Resource).where(Resource.status == "published").order_by(Resource.id))
    assert entry is not None
    key = f"catalog:stale:{entry.org_id}"
    db.execute(
        update(Resource).where(Resource.id == entry.id).values(reviewed_at=utcnow() - timedelta(days=400))
    )
    detect(db)
    first = unresolved(db, key)
    assert first is not None and first.rule == "stale" and first.status == "open"
    assert {
        "type": "resource",
        "id": str(entry.id),
        "label": f"长期未更新：{entry.name}",
        "link": f"/catalog/{entry.id}",
    } in first.evidence
    # Detected again while it lasts: the same violation, extended.
    again = detect(db)
    assert again.raised == 0 and again.extended >= 1
    current = unresolved(db, key)
    assert current is not None and current.id == first.id
    assert len(with_key(db, key)) == 1
    # Reviewed: the state is gone and the violation resolves by itself.
    db.execute(update(Resource).where(Resource.id == entry.id).values(reviewed_at=utcnow()))
    assert detect(db).resolved >= 1
    db.refresh(first)
    assert first.status == "resolved" and first.resolution == "复查时检测条件已消除"
    # Stale again later: a new violation.
    db.execute(
        update(Resource).where(Resource.id == entry.id).values(reviewed_at=utcnow() - timedelta(days=400))
    )
    detect(db)
    recurred = unresolved(db, key)
    assert recurred is not None and recurred.id != first.id


def test_data_not_provided_in_time(client, db) -> None:
    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert population is not None
    detect(db)
    never = unresolved(db, f"timeliness:{population.id}:never")
    assert never is not None and never.org_id == population.org_id and "从未提供数据" in never.summary
    if never.status != "open":  # the demo's notice took it: not this test's
        return
    loaded(client, db)
    detect(db)
    db.refresh(never)
    assert never.status == "resolved"
    # The last batch is now far past the resource's update cycle: late, keyed by its due date.
    db.execute(
        update(Batch)
        .where(Batch.resource_id == population.id)
        .values(finished_at=utcnow() - timedelta(days=400))
    )
    detect(db)
    late = db.scalar(
        select(Violation).where(
            Violation.rule == "late",
            Violation.dedupe_key.like(f"timeliness:{population.id}:2%"),
            Violation.resolved_at.is_(None),
        )
    )
    assert late is not None and "已逾期" in late.summary


def test_quarantined_rows_make_a_quality_violation_once(client, db) -> None:
    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert population is not None
    pushed = push(
        client, login(client, "police_admin"), population.id, csv_body(line(GOOD1), line(BAD, "李四"))
    )
    assert pushed.status_code == 201 and pushed.json()["quarantined"] == 1, pushed.text
    batch_id = pushed.json()["batch_id"]
    first = detect(db)
    violation = unresolved(db, f"quality:batch:{batch_id}")
    assert violation is not None and violation.kind == "quality" and violation.org_id == population.org_id
    assert violation.evidence[0]["link"] == f"/catalog/{population.id}/data/batches/{batch_id}"
    assert first.by_kind.get("quality", 0) >= 1
    second = detect(db)
    assert second.by_kind.get("quality", 0) == 0 and len(with_key(db, f"quality:batch:{batch_id}")) == 1


def test_feedback_overdue_is_raised_once_even_after_it_is_dismissed(client, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["id_number", "name", "address"])
    filed = report(client, login(client, "civil_user"), population, keys={"id_number": PEOPLE[0]})
    assert filed.status_code == 201, filed.text
    case = db.get(Feedback, filed.json()["id"])
    assert case is not None
    case.due_date = today() - timedelta(days=1)
    db.flush()
    detect(db)
    key = f"feedback:overdue:{case.id}:{case.clock_from.isoformat()}"
    violation = unresolved(db, key)
    assert violation is not None and violation.org_id == population.org_id
    assert violation.evidence[0]["link"] == f"/sharing/feedback/{case.id}"
    bureau = login(client, "bureau_admin")
    dismissed = client.post(
        f"{API}/violations/{violation.id}/dismissal",
        json={"reason": "已电话督办，按误报处理"},
        headers=bureau,
    )
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    detect(db)
    assert len(with_key(db, key)) == 1  # the same event is not raised again


def test_calls_for_an_undeclared_purpose(client, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["id_number", "name"])
    civil = login(client, "civil_user")
    for _ in range(2):
        assert rows(client, population, civil, purpose="商业营销").status_code == 403
    detect(db)
    civil_org = org(db, "civil").id
    found = db.scalar(
        select(Violation).where(
            Violation.kind == "purpose", Violation.org_id == civil_org, Violation.resolved_at.is_(None)
        )
    )
    assert found is not None and "商业营销" in found.summary and "2 次" in found.summary
    assert len(found.evidence) == 2 and found.evidence[0]["type"] == "data_use"


def test_an_alert_concluded_as_a_violation(client, db) -> None:
    alert = raised(client, db)
    bureau = actor(db, "bureau_admin")
    alerts.assign(db, actor=bureau, alert_id=alert.id, assignee_id=user_id(db, "bureau_admin"))
    alerts.investigate(db, actor=bureau, alert_id=alert.id)
    detect(db)
    assert unresolved(db, f"alert:{alert.id}") is None or alert.severity == "high"
    alerts.close(
        db,
        actor=bureau,
        alert_id=alert.id,
        conclusion="该人员多次越权查询，已批评教育",
        accountability="held_accountable",
        responsible="民政局 张某",
    )
    detect(db)
    violation = unresolved(db, f"alert:{alert.id}")
    assert violation is not None and violation.kind == "sensitive" and violation.org_id == alert.org_id
    assert violation.evidence[0]["link"] == f"/protection/alerts/{alert.id}"


def test_the_bureau_enters_other_violations_and_others_cannot(client, db) -> None:
    hrss = org(db, "hrss").id
    created = manual(client, login(client, "bureau_reviewer"), hrss)
    violation = db.get(Violation, created)
    assert violation is not None and violation.kind == "other" and violation.source == "manual"
    linked = client.post(
        f"{API}/violations",
        json={
            "org_id": hrss,
            "summary": "检查记录",
            "evidence": "/catalog/supervision\n//evil.example/x\n检查记录表",
        },
        headers=login(client, "bureau_admin"),
    ).json()["evidence"]
    assert [e["link"] for e in linked] == ["/catalog/supervision", None, None]  # only this platform's paths
    refused = client.post(
        f"{API}/violations", json={"org_id": hrss, "summary": "x"}, headers=login(client, "hrss_admin")
    )
    assert refused.status_code == 403
    empty = client.post(
        f"{API}/violations", json={"org_id": hrss, "summary": "  "}, headers=login(client, "bureau_admin")
    )
    assert empty.status_code == 422 and "违规情形" in empty.json()["error"]["message"]
    assert client.post(f"{API}/detection", headers=login(client, "bureau_auditor")).status_code == 403


def test_an_entry_returned_and_not_revised(db) -> None:
    from govshare.catalog import service as catalog
    from govshare.catalog.models import ResourceVersion
    from govshare.catalog.schemas import ReviewDecision
    from tests.catalog.conftest import entry, submit

    resource = catalog.create_resource(db, actor=actor(db, "civil_admin"), data=entry(db))
    submit(db, resource.id)
    catalog.review(
        db,
        actor=actor(db, "bureau_reviewer"),
        resource_id=resource.id,
        data=ReviewDecision(decision="return", field_comments={"summary": "请写明数据来源系统。"}),
    )
    key = f"catalog:returned:{resource.org_id}"
    detect(db)
    assert unresolved(db, key) is None  # returned today: the department still has time
    db.execute(
        update(ResourceVersion)
        .where(ResourceVersion.id == resource.working_version_id)
        .values(reviewed_at=utcnow() - timedelta(days=40))
    )
    detect(db)
    violation = unresolved(db, key)
    assert violation is not None and violation.rule == "returned" and "退回后未修改" in violation.summary
    assert {"type": "resource", "id": str(resource.id), "label": f"退回未修改：{resource.name}",
            "link": f"/catalog/{resource.id}"} in violation.evidence  # fmt: skip
