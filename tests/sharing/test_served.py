"""The data API as `govshare serve` runs it: a database of its own, and units of work that commit and
close. Every other API test runs inside one session that is rolled back at the end and never
closed, where a write that needs its session after it was closed cannot fail (the sharing
acceptance check found one: a refused call answered 500), and where the write phase is a
transaction of that session, never the one statement that a data call's writes are on PostgreSQL
with its event in the audit inbox (`db._write_on_postgres`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from govshare.audit import service as audit
from govshare.audit.models import AuditEvent, AuditInbox
from govshare.authz import Actor
from govshare.catalog.models import Resource
from govshare.db import SessionFactory, unit_of_work
from govshare.orgs.models import Organisation
from govshare.systems import service as systems
from govshare.systems.schemas import SystemCreate
from govshare.web import deps
from tests.exchange.test_ingest import csv_body, idn, line, push
from tests.helpers import bearer, login, own_database
from tests.sharing.test_requests import BASIS, PURPOSE


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Any]]:
    from govshare.web.app import create_app

    with (
        own_database(tmp_path_factory.mktemp("served"), "served") as engine,
        TestClient(create_app(engine=engine, run_jobs=False), client=("127.0.0.1", 50000)) as client,
    ):
        yield client, engine


def _events(engine: Any, event_type: str, *, where: Any = None) -> int:
    """Events of `event_type` on record: in the chain and in the inbox (or only in `where`)."""
    with engine.connect() as conn:
        return sum(
            int(conn.execute(select(func.count()).where(model.event_type == event_type)).scalar_one())
            for model in ([where] if where is not None else [AuditEvent, AuditInbox])
        )


def test_refused_and_delivered_calls_are_answered_and_on_record(
    served: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, engine = served
    with engine.connect() as conn:
        population = conn.execute(select(Resource.id).where(Resource.name == "人口基础信息")).scalar_one()
    rows = push(
        client,
        login(client, "police_admin"),
        population,
        csv_body(line(idn("130102", "19850317", "771"), "张伟")),
    )
    assert rows.status_code == 201, rows.text
    civil = login(client, "civil_user")
    url = f"/api/v1/resources/{population}/rows"

    refused = client.get(url, params={"purpose": PURPOSE}, headers=civil)
    assert refused.status_code == 403, refused.text  # not 500: the refusal's writes found their objects
    assert _events(engine, "sharing.data_refused") == 1

    asked = {"resource_id": population, "items": ["id_number", "name"], "purpose": PURPOSE}
    granted = client.post(
        "/api/v1/requests", json={**asked, "basis": BASIS, "duration_days": 30}, headers=civil
    )
    assert granted.status_code == 201, granted.text
    page = client.get(url, params={"purpose": PURPOSE}, headers=civil)
    assert page.status_code == 200, page.text
    assert [r["name"] for r in page.json()["rows"]] == ["张*"]
    assert _events(engine, "sharing.data_delivered") == 1  # committed before the answer
    # On PostgreSQL the event is in the inbox until this process's linker, or this, chains it.
    audit.link_pending(engine)
    assert _events(engine, "sharing.data_delivered", where=AuditEvent) == 1
    session = SessionFactory(bind=engine)
    try:
        report = audit.verify_chain(session)
        assert report.ok and report.pending == 0
    finally:
        session.close()

    # A business system of the department, under the same grant. Its first call reads its token and
    # the grant through the session, in a worker thread; the next, with both cached, runs on the
    # event loop's thread (`deps.in_own_unit`), answers the same and is on record the same.
    with unit_of_work(engine) as db:
        civil_org = db.scalar(select(Organisation.id).where(Organisation.code == "civil"))
        assert civil_org is not None
        _system, token, _row = systems.create_system(
            db,
            actor=Actor.operator("test"),
            data=SystemCreate(
                org_id=civil_org, code="served-assist", name="救助系统", allowed_cidrs=["127.0.0.0/8"]
            ),
        )
    handoffs: list[int] = []
    threadpool = deps.run_in_threadpool

    async def counted(*args: Any, **kwargs: Any) -> Any:
        handoffs.append(1)
        return await threadpool(*args, **kwargs)

    monkeypatch.setattr(deps, "run_in_threadpool", counted)
    cold = client.get(url, params={"purpose": PURPOSE}, headers=bearer(token))
    assert cold.status_code == 200, cold.text
    assert handoffs == [1]
    cached = client.get(url, params={"purpose": PURPOSE}, headers=bearer(token))
    assert cached.status_code == 200, cached.text
    assert handoffs == [1]  # no hand-off
    assert cached.json()["rows"] == cold.json()["rows"] == page.json()["rows"]
    assert _events(engine, "sharing.data_delivered") == 3

    # A cached call takes one connection from the pool: on PostgreSQL its read connection, which is
    # in autocommit, also runs its one-statement write phase (`db._fused`). (The linker's thread
    # takes its own, later.)
    checkouts: list[str] = []

    def checked_out(*_args: Any) -> None:
        if threading.current_thread().name != "govshare-audit-linker":
            checkouts.append(threading.current_thread().name)

    event.listen(engine.pool, "checkout", checked_out)
    try:
        again = client.get(url, params={"purpose": PURPOSE}, headers=bearer(token))
    finally:
        event.remove(engine.pool, "checkout", checked_out)
    assert again.status_code == 200 and handoffs == [1]
    assert len(checkouts) == (1 if engine.dialect.name == "postgresql" else 2), checkouts
    assert _events(engine, "sharing.data_delivered") == 4
