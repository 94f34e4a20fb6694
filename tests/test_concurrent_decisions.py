"""Decisions and filings under concurrency: two people acting on one record at once cannot both
succeed, the second is told with a Conflict (409), and nothing of theirs is half-written.

The race tests run two units of work on separate connections of a database of their own with the
demo city committed (`own_database`), and hold both at the same point of a service (after its checks,
before its writes) with a barrier. On PostgreSQL the two calls really overlap, and only a row lock
taken before the checks (`db.lock_row`) or a version column makes one of them wait or fail. On SQLite
every transaction is `BEGIN IMMEDIATE`, so the second one cannot start until the first commits: the
barrier times out and the calls run one after the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from govshare.catalog import service as catalog
from govshare.catalog.models import Resource, ResourceVersion
from govshare.catalog.schemas import ResourceUpdate, ReviewDecision
from govshare.db import SessionFactory, reading_engine, transaction, unit_of_work
from govshare.errors import Conflict
from govshare.sharing import service as sharing
from govshare.sharing.models import Grant, ShareRequest
from tests.catalog.conftest import entry, published, submit
from tests.helpers import actor, own_database, race
from tests.sharing.test_requests import BASIS, PURPOSE
from tests.sharing.test_rows import granted, loaded

# --- two units of work at once ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of its own, demo city committed: what the tests commit stays among them."""
    with own_database(tmp_path_factory.mktemp("review-concurrency"), "reviewrace") as engine:
        yield engine


def actors(engine: Engine, *names: str) -> list[Any]:
    with unit_of_work(engine) as db:
        return [actor(db, n) for n in names]


def one_wins_the_other_is_told(outcomes: list[Any]) -> None:
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 1, f"expected exactly one refusal, got {outcomes!r}"
    assert isinstance(failures[0], Conflict), f"the loser should get a Conflict (409), got {failures[0]!r}"


# --- races -----------------------------------------------------------------------------------------


def test_two_reviewers_deciding_one_catalog_change_at_once_cannot_both_succeed(
    live: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """catalog.review checks `state == submitted` without a lock; returning a change of a published
    entry writes only the version row, which has no version column, so it overwrites a concurrent
    approval: the published version ends up marked 'returned' (or an approval overrides a return
    whose task and audit event stand)."""
    with unit_of_work(live) as db:
        resource = published(db, "civil", name="并发审核测试条目")
        data = entry(db, "civil", name="并发审核测试条目", summary="机构改革后调整的摘要。").model_dump()
        db.refresh(resource)
        catalog.update_resource(
            db,
            actor=actor(db, "civil_admin"),
            resource_id=resource.id,
            data=ResourceUpdate(**data, lock_version=resource.lock_version, change_reason="机构改革"),
        )
        submit(db, resource.id)
        resource_id = resource.id
    (reviewer,) = actors(live, "bureau_reviewer")

    def decide(decision: str) -> Callable[[Session], Any]:
        return lambda db: (
            catalog.review(
                db,
                actor=reviewer,
                resource_id=resource_id,
                data=ReviewDecision(decision=decision, comment="审核意见"),
            ).state
        )

    outcomes = race(live, monkeypatch, catalog, "utcnow", decide("approve"), decide("return"))
    with unit_of_work(live) as db:
        resource = db.get(Resource, resource_id)
        assert resource is not None
        shown = db.get(ResourceVersion, resource.published_version_id)
        assert shown is not None
        assert shown.state == "published", f"the published version is '{shown.state}' ({outcomes!r})"
    one_wins_the_other_is_told(outcomes)


def test_two_identical_requests_filed_at_once_give_one_grant(
    live: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """file_request checks for a pending request or an active grant with the same purpose, then
    inserts: with nothing serialising the check and the insert, both calls pass the check."""
    (civil,) = actors(live, "civil_user")
    with unit_of_work(live) as db:
        population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
        assert population is not None
        resource_id = population.id
    purpose = "并发申请测试用途"

    def file(db: Session) -> Any:
        data = sharing.RequestIn(
            resource_id=resource_id,
            items=["id_number", "name"],
            purpose=purpose,
            basis=BASIS,
            duration_days=30,
        )
        return sharing.file_request(db, actor=civil, data=data)[1].id  # type: ignore[union-attr]

    outcomes = race(live, monkeypatch, sharing, "today", file, file)
    with unit_of_work(live) as db:
        grants = db.scalars(
            select(Grant).where(
                Grant.resource_id == resource_id, Grant.purpose == purpose, Grant.status == "active"
            )
        ).all()
    assert len(grants) == 1, f"{len(grants)} active grants for one purpose ({outcomes!r})"
    one_wins_the_other_is_told(outcomes)


def test_approve_and_reject_of_one_request_at_once_tell_the_loser_with_a_conflict(
    live: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """decide() relies on the request's version column alone: the loser of the race gets SQLAlchemy's
    StaleDataError, which no handler maps, so the approver sees a 500 instead of "already decided"."""
    civil, approver = actors(live, "civil_user", "police_approver")
    with unit_of_work(live) as db:
        cars = db.scalar(select(Resource).where(Resource.name == "机动车登记信息"))
        assert cars is not None
        data = sharing.RequestIn(
            resource_id=cars.id,
            items=["id_number", "name"],
            purpose="并发审批测试用途",
            basis=BASIS,
            duration_days=30,
        )
        request_id = sharing.file_request(db, actor=civil, data=data)[0].id

    def decide(decision: str) -> Callable[[Session], Any]:
        return lambda db: (
            sharing.decide(
                db,
                actor=approver,
                request_id=request_id,
                data=sharing.DecisionIn(decision=decision, reason="答复"),
            )[0].status
        )

    outcomes = race(live, monkeypatch, sharing, "clean_text", decide("approve"), decide("reject"))
    with unit_of_work(live) as db:
        request = db.get(ShareRequest, request_id)
        assert request is not None and request.status in ("approved", "rejected")
        grants = db.scalars(select(Grant).where(Grant.request_id == request_id)).all()
        assert len(grants) == (1 if request.status == "approved" else 0)
    one_wins_the_other_is_told(outcomes)


def test_keep_and_transfer_of_one_element_conflict_at_once_cannot_both_succeed(
    live: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """elements.resolve checks `status == open` without a lock, and the conflict row has no version
    column: 'keep' (which writes only the conflict) and 'transfer' (which also moves the element's
    authoritative source) both succeed, and the last one's status wins over what was done."""
    from govshare.catalog import elements
    from govshare.catalog.models import DataElement, ElementConflict
    from govshare.catalog.schemas import ConflictDecision, Item

    with unit_of_work(live) as db:
        item = Item(
            name="id_number",
            title="公民身份号码",
            data_type="C",
            length=18,
            is_key=True,
            element="DE0001",
            authoritative=True,
        )
        resource = catalog.create_resource(
            db, actor=actor(db, "civil_admin"), data=entry(db, name="并发一数一源测试", items=[item])
        )
        submit(db, resource.id)
        conflict = db.scalar(select(ElementConflict).where(ElementConflict.resource_id == resource.id))
        assert conflict is not None and conflict.status == "open"
        conflict_id, claimant = conflict.id, conflict.claimant_org_id
    (reviewer,) = actors(live, "bureau_reviewer")

    def resolve(resolution: str) -> Callable[[Session], Any]:
        return lambda db: (
            elements.resolve(
                db,
                actor=reviewer,
                conflict_id=conflict_id,
                data=ConflictDecision(resolution=resolution, comment="裁定"),
            ).status
        )

    outcomes = race(live, monkeypatch, elements, "utcnow", resolve("transfer"), resolve("keep"))
    with unit_of_work(live) as db:
        conflict = db.get(ElementConflict, conflict_id)
        element = db.get(DataElement, conflict.element_id)  # type: ignore[union-attr]
        assert conflict is not None and element is not None
        transferred = element.source_org_id == claimant
        assert (conflict.status == "transferred") == transferred, (conflict.status, transferred, outcomes)
    one_wins_the_other_is_told(outcomes)


def test_two_reports_of_one_row_at_once_open_one_case(live: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """file_feedback checks for an open case on the row, then inserts: the department's reports take
    turns from before that check."""
    from fastapi.testclient import TestClient

    from govshare.sharing import feedback
    from govshare.sharing.models import Feedback
    from govshare.web.app import create_app
    from tests.sharing.test_rows import PEOPLE

    reader = SessionFactory(bind=reading_engine(live))  # a read transaction: the app's writes go on
    try:
        with TestClient(create_app(engine=live, run_jobs=False)) as client:
            population = loaded(client, reader)
            granted(client, population, ["id_number", "name", "address"])
            resource_id = population.id
    finally:
        reader.close()
    (civil,) = actors(live, "civil_user")

    def report(db: Session) -> Any:
        return feedback.file_feedback(
            db,
            actor=civil,
            resource_id=resource_id,
            purpose=PURPOSE,
            kind="wrong",
            description="该人员已迁出本市，住址有误",
            keys={"id_number": PEOPLE[0]},
        ).id

    outcomes = race(live, monkeypatch, feedback, "working_days_after", report, report)
    with unit_of_work(live) as db:
        cases = db.scalars(select(Feedback).where(Feedback.resource_id == resource_id)).all()
    assert len(cases) == 1, f"{len(cases)} open cases for one row ({outcomes!r})"
    one_wins_the_other_is_told(outcomes)


# --- a version clash, without threads --------------------------------------------------------------


def test_a_change_to_a_record_someone_changed_since_it_was_read_is_a_conflict_and_saves_nothing(
    live: Engine,
) -> None:
    """A unit of work that read a request before another one decided it, then writes it: the
    request's version column catches it, and `db.transaction` turns SQLAlchemy's StaleDataError into
    a Conflict (a 409 that says to reload), not a server error."""
    civil, approver = actors(live, "civil_user", "police_approver")
    with unit_of_work(live) as db:
        cars = db.scalar(select(Resource).where(Resource.name == "机动车登记信息"))
        assert cars is not None
        data = sharing.RequestIn(
            resource_id=cars.id,
            items=["id_number", "name"],
            purpose="版本冲突测试用途",
            basis=BASIS,
            duration_days=30,
        )
        request_id = sharing.file_request(db, actor=civil, data=data)[0].id
    stale = SessionFactory(bind=live)
    try:
        with transaction(stale):
            seen = stale.get(ShareRequest, request_id)  # kept after the commit (expire_on_commit off)
            assert seen is not None and seen.status == "pending"
        with unit_of_work(live) as db:
            sharing.decide(
                db,
                actor=approver,
                request_id=request_id,
                data=sharing.DecisionIn(decision="reject", reason="不符合共享条件"),
            )
        with pytest.raises(Conflict) as refused, transaction(stale):
            seen.status, seen.decision_reason = "approved", "同意"
        assert "刷新" in refused.value.message
    finally:
        stale.close()
    with unit_of_work(live) as db:
        request = db.get(ShareRequest, request_id)
        assert request is not None
        assert (request.status, request.decision_reason) == ("rejected", "不符合共享条件")
