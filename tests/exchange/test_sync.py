"""Front-end exchange database sync (M13, S16): registration with sealed credentials, incremental
pages by watermark, resumption after a source goes away, against SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, make_url, select, text
from sqlalchemy.orm import Session

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.db import transaction
from govshare.exchange import store, sync
from govshare.exchange.models import Batch, QuarantinedRow, SyncRun, SyncSource
from govshare.sealing import unseal
from govshare.settings import get_settings
from govshare.systems.models import BusinessSystem
from govshare.tasks.models import Task
from tests.conftest import settings_override
from tests.exchange.frontdb import MAPPING, SOURCE_PG, T0, Source, idn, person
from tests.helpers import actor, login


def body(source: Source, system: BusinessSystem, **extra: Any) -> dict[str, Any]:
    return {
        "url": source.url,
        "system_id": system.id,
        "table": source.table,
        "column_map": MAPPING,
        "watermark_column": "gxsj",
        **extra,
    }


def uow_of(db: Session) -> Callable[[], AbstractContextManager[Session]]:
    return lambda: transaction(db)


def live_rows(db: Session, resource: Resource) -> dict[str, Any]:
    items = [{"name": n, "title": n, "data_type": "C", "length": None} for n in ("id_number", "name")]
    table = store.table_for(db, resource.id, items)
    return {r.id_number: r for r in db.execute(select(table).where(table.c._retired_at.is_(None)))}


def run_now(client, headers, resource: Resource) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    started = client.post(f"/api/v1/resources/{resource.id}/sync-runs", headers=headers)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"
    # The run is carried out after the answer (a background task; TestClient waits for it).
    run = client.get(f"/api/v1/resources/{resource.id}/sync-runs/{started.json()['id']}", headers=headers)
    assert run.status_code == 200
    return dict(run.json())


def test_sqlite_source_syncs_incrementally_in_pages_without_losing_ties(
    client, city, db, population, hukou, sqlite_source
) -> None:
    # 250 rows; rows 90..110 share one watermark value, so a page boundary falls inside a tie.
    rows = [person(n, n if not 90 <= n <= 110 else 90) for n in range(1, 251)]
    rows[5] = person(6, 6, bad=True)  # fails the GB 11643 check: quarantined, not lost
    sqlite_source.insert(rows)
    admin = login(client, "police_admin")
    saved = client.put(
        f"/api/v1/resources/{population.id}/sync-source", json=body(sqlite_source, hukou), headers=admin
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["watermark"] is None and saved.json()["dialect"] == "sqlite"

    with settings_override(sync_page_rows=100):
        run = run_now(client, admin, population)
    assert run["status"] == "succeeded", run
    assert (run["rows_read"], run["accepted"], run["quarantined"]) == (250, 249, 1)
    assert run["pages"] == 3  # 89 (the tie group is given back) + 100 + 61
    # SQLite keeps the timestamps as text: the watermark is the text, compared as text.
    assert run["watermark_to"] == {"type": "str", "value": str(T0 + timedelta(minutes=250))}
    stored = live_rows(db, population)
    assert len(stored) == 249 and stored[idn(100)].name == "人员100"
    batches = db.scalars(select(Batch).where(Batch.sync_run_id == run["id"])).all()
    assert len(batches) == 3 and {b.source for b in batches} == {"sync"}
    assert {b.system_id for b in batches} == {hukou.id}  # provenance: the source's business system
    assert set(run["batch_ids"]) == {b.id for b in batches}
    assert (
        db.scalar(
            select(func.count())
            .select_from(QuarantinedRow)
            .where(QuarantinedRow.batch_id.in_([b.id for b in batches]))
        )
        == 1
    )

    # Later: two new rows and one changed row; only they are read.
    sqlite_source.insert([person(300, 400), person(301, 401)])
    sqlite_source.execute(
        "UPDATE rk_jbxx SET xm = '改名', gxsj = :t WHERE rk_id = 7", t=T0 + timedelta(minutes=402)
    )
    again = run_now(client, admin, population)
    assert again["status"] == "succeeded"
    assert (again["rows_read"], again["accepted"], again["pages"]) == (3, 3, 1)
    batch = db.scalar(select(Batch).where(Batch.sync_run_id == again["id"]))
    assert batch is not None and (batch.inserted, batch.updated) == (2, 1)
    assert live_rows(db, population)[idn(7)].name == "改名"

    nothing = run_now(client, admin, population)
    assert (nothing["status"], nothing["rows_read"], nothing["pages"]) == ("succeeded", 0, 0)
    runs = client.get(f"/api/v1/resources/{population.id}/sync-runs", headers=admin).json()
    assert [r["id"] for r in runs] == [nothing["id"], again["id"], run["id"]]
    events = {e.event_type for e in db.scalars(select(AuditEvent))}
    assert {"data.sync_source_saved", "data.sync_run_started", "data.sync_run_finished"} <= events


def sealed_password(sealed: str, context: str) -> str | None:
    return make_url(unseal(sealed, purpose=sync.SEAL_PURPOSE, context=context)).password  # type: ignore[return-value]


def test_credentials_are_sealed_and_never_shown(client, city, db, population, hukou, pg_source) -> None:
    admin = login(client, "police_admin")
    url = make_url(pg_source.url).set(password="Qzk-密码-2026").render_as_string(hide_password=False)
    saved = client.put(
        f"/api/v1/resources/{population.id}/sync-source", json=body(pg_source, hukou, url=url), headers=admin
    )
    assert saved.status_code == 200, saved.text
    assert "Qzk" not in saved.text and "***" in saved.json()["url"]
    source = db.scalar(select(SyncSource).where(SyncSource.resource_id == population.id))
    assert source is not None and "Qzk" not in source.url_sealed
    assert source.url_sealed.startswith("sm4gcm1:")
    context = f"sync_sources/resource/{population.id}"
    assert sealed_password(source.url_sealed, context) == "Qzk-密码-2026"
    with pytest.raises(ValueError):  # bound to its record: copied onto another resource it does not open
        unseal(source.url_sealed, purpose=sync.SEAL_PURPOSE, context="sync_sources/resource/999")
    assert "Qzk" not in client.get(f"/api/v1/resources/{population.id}/sync-source", headers=admin).text
    audit_details = [str(e.details) for e in db.scalars(select(AuditEvent))]
    assert not any("Qzk" in d for d in audit_details)

    # An edit without a password keeps the stored one; stopping the sync erases it.
    edited = client.put(
        f"/api/v1/resources/{population.id}/sync-source",
        json=body(pg_source, hukou, schedule="manual", version=saved.json()["version"]),
        headers=admin,
    )
    assert edited.status_code == 200, edited.text
    assert sealed_password(source.url_sealed, context) == "Qzk-密码-2026"
    stale = client.put(
        f"/api/v1/resources/{population.id}/sync-source",
        json=body(pg_source, hukou, version=saved.json()["version"]),
        headers=admin,
    )
    assert stale.status_code == 409
    removed = client.delete(f"/api/v1/resources/{population.id}/sync-source", headers=admin)
    assert removed.status_code == 200 and removed.json()["enabled"] is False
    assert sealed_password(source.url_sealed, context) is None
    refused = client.post(f"/api/v1/resources/{population.id}/sync-runs", headers=admin)
    assert refused.status_code == 422


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"url": "oracle://u@h/db"}, "url", "不支持"),
        ({"url": "sqlite:////etc/passwd"}, "url", "GOVSHARE_SYNC_SQLITE_DIR"),
        ({"url": "postgresql://root@127.0.0.1:1/test"}, "url", "无法读取前置库"),
        ({"table": "rk; DROP TABLE x"}, "table", "表名"),
        ({"table": None, "query": "SELECT * FROM rk_jbxx; DELETE FROM rk_jbxx"}, "query", "SELECT"),
        ({"table": None, "query": "DELETE FROM rk_jbxx"}, "query", "SELECT"),
        ({"table": "no_such_table"}, "url", "无法读取前置库"),
        ({"column_map": {"id_number": "sfzh", "name": "nope"}}, "column_map", "nope"),
        ({"column_map": {"name": "xm"}}, "column_map", "业务主键"),
        ({"column_map": {"shoe_size": "xm", "id_number": "sfzh"}}, "column_map", "shoe_size"),
        ({"watermark_column": "nope"}, "watermark_column", "水位列"),
    ],
)
def test_bad_settings_are_refused_with_the_field(
    client, city, db, population, hukou, sqlite_source, change, field, words
) -> None:
    sqlite_source.insert([person(1, 1)])
    admin = login(client, "police_admin")
    response = client.put(
        f"/api/v1/resources/{population.id}/sync-source",
        json={**body(sqlite_source, hukou), **change},
        headers=admin,
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"]["field"] == field and words in error["message"]
    assert db.scalar(select(SyncSource).where(SyncSource.resource_id == population.id)) is None


def test_the_platform_database_cannot_be_a_source(client, city, db, population, hukou) -> None:
    platform = make_url(get_settings().database)
    admin = login(client, "police_admin")
    if platform.get_backend_name() == "sqlite":
        url = f"sqlite:///{platform.database}"  # outside the front-end directory
    else:
        url = platform.set(drivername="postgresql").render_as_string(hide_password=False)
    response = client.put(
        f"/api/v1/resources/{population.id}/sync-source",
        json={"url": url, "system_id": hukou.id, "table": "users", "column_map": {"id_number": "username"}},
        headers=admin,
    )
    assert response.status_code == 422 and response.json()["error"]["details"]["field"] == "url"


def test_only_the_providers_data_administrator_manages_the_sync(
    client, city, db, population, hukou, sqlite_source
) -> None:
    sqlite_source.insert([person(1, 1)])
    path = f"/api/v1/resources/{population.id}/sync-source"
    for username in ("market_admin", "bureau_admin", "police_user"):
        headers = login(client, username)
        assert client.put(path, json=body(sqlite_source, hukou), headers=headers).status_code in (403, 404)
    admin = login(client, "police_admin")
    assert client.put(path, json=body(sqlite_source, hukou), headers=admin).status_code == 200
    run_now(client, admin, population)
    bureau = login(client, "bureau_admin")  # the Bureau supervises: it reads the registration and runs
    assert client.get(path, headers=bureau).status_code == 200
    assert len(client.get(f"/api/v1/resources/{population.id}/sync-runs", headers=bureau).json()) == 1
    assert client.post(f"/api/v1/resources/{population.id}/sync-runs", headers=bureau).status_code == 403
    market = login(client, "market_admin")
    assert client.get(path, headers=market).status_code == 403
    # Another department's system is not this one's source.
    other = db.scalar(select(BusinessSystem).where(BusinessSystem.org_id != population.org_id))
    assert other is not None
    refused = client.put(path, json=body(sqlite_source, other), headers=admin)
    assert refused.status_code == 422 and refused.json()["error"]["details"]["field"] == "system_id"


def _resume_after_outage(
    db: Session, population: Resource, source: Source, outage: Callable[[], None], heal: Callable[[], None]
) -> None:
    source.insert([person(n, n) for n in range(1, 251)])
    police = actor(db, "police_admin")
    with settings_override(sync_page_rows=100):
        sync.save_source(
            db,
            actor=police,
            resource_id=population.id,
            data=sync.SourceIn(
                **body(source, db.scalar(select(BusinessSystem).where(BusinessSystem.code == "police-hukou")))
            ),
        )
        run = sync.request_run(db, actor=police, resource_id=population.id)
        pages: list[int] = []

        def after_page(rows: int) -> None:
            pages.append(rows)
            if len(pages) == 1:
                outage()

        failed = sync.execute(uow_of(db), run.id, progress=after_page)
        assert failed.status == "failed" and failed.error, failed.error
        assert "前置库" in failed.error
        assert (failed.pages, failed.rows_read) == (1, 100)
        assert len(live_rows(db, population)) == 100  # the committed page stays; nothing half-applied
        committed = {"type": "datetime", "value": (T0 + timedelta(minutes=100)).isoformat()}
        source_row = db.scalar(select(SyncSource).where(SyncSource.resource_id == population.id))
        assert source_row is not None and source_row.watermark == committed
        task = db.scalar(select(Task).where(Task.kind == "sync_failed", Task.subject_id == str(run.id)))
        assert task is not None and task.org_id == population.org_id

        heal()
        resumed = sync.execute(uow_of(db), sync.request_run(db, actor=police, resource_id=population.id).id)
    assert resumed.status == "succeeded", resumed.error
    assert resumed.watermark_from == committed
    assert (resumed.rows_read, resumed.pages) == (150, 2)
    stored = live_rows(db, population)
    assert len(stored) == 250 and set(stored) == {idn(n) for n in range(1, 251)}


def test_postgresql_source_going_away_mid_sync_resumes_from_the_committed_page(
    db, city, population, pg_source
) -> None:
    role = f"qzk_{uuid.uuid4().hex[:8]}"
    pg_source.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'Qzk-pw-1'")
    pg_source.execute(f"GRANT SELECT ON {pg_source.table} TO {role}")
    pg_source.url = (
        make_url(SOURCE_PG).set(username=role, password="Qzk-pw-1").render_as_string(hide_password=False)
    )

    def outage() -> None:  # the account is locked and its sessions killed: the database is gone for us
        pg_source.execute(f"ALTER ROLE {role} NOLOGIN")
        pg_source.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r", r=role)

    try:
        _resume_after_outage(
            db, population, pg_source, outage, lambda: pg_source.execute(f"ALTER ROLE {role} LOGIN")
        )
    finally:
        pg_source.execute(f"REVOKE ALL ON {pg_source.table} FROM {role}")
        pg_source.drop()
        with pg_source.engine.begin() as conn:
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))


def test_mariadb_source_syncs_and_resumes_after_its_table_disappears(
    db, city, population, mariadb_source
) -> None:
    table = mariadb_source.table
    _resume_after_outage(
        db,
        population,
        mariadb_source,
        lambda: mariadb_source.execute(f"RENAME TABLE {table} TO {table}_gone"),
        lambda: mariadb_source.execute(f"RENAME TABLE {table}_gone TO {table}"),
    )


def test_a_query_source_without_watermark_is_a_snapshot(
    client, city, db, population, hukou, sqlite_source
) -> None:
    sqlite_source.insert([person(n, n) for n in range(1, 6)])
    admin = login(client, "police_admin")
    query = "SELECT sfzh, xm, xb, csrq FROM rk_jbxx WHERE xm <> '注销'"
    saved = client.put(
        f"/api/v1/resources/{population.id}/sync-source",
        json=body(sqlite_source, hukou, table=None, query=query, watermark_column=None),
        headers=admin,
    )
    assert saved.status_code == 200, saved.text
    first = run_now(client, admin, population)
    assert (first["status"], first["accepted"]) == ("succeeded", 5)
    sqlite_source.execute("UPDATE rk_jbxx SET xm = '注销' WHERE rk_id = 2")
    second = run_now(client, admin, population)
    assert second["status"] == "succeeded"
    batch = db.scalar(select(Batch).where(Batch.sync_run_id == second["id"]))
    assert batch is not None and (batch.mode, batch.retired) == ("snapshot", 1)
    assert idn(2) not in live_rows(db, population) and len(live_rows(db, population)) == 4


def test_inspect_reports_columns_mapping_and_rows_without_watermark(
    client, city, db, population, hukou, sqlite_source
) -> None:
    sqlite_source.insert([person(1, 1), {**person(2, 2), "gxsj": None}])
    admin = login(client, "police_admin")
    found = client.post(
        f"/api/v1/resources/{population.id}/sync-source/inspect",
        json=body(sqlite_source, hukou, column_map=None),
        headers=admin,
    )
    assert found.status_code == 200, found.text
    assert found.json()["columns"] == ["rk_id", "sfzh", "xm", "xb", "csrq", "gxsj"]
    assert found.json()["rows_without_watermark"] == 1
    # No item is named like these columns, so the default mapping misses the key and says so:
    assert found.json()["column_map"] == {} and "业务主键" in found.json()["mapping_problem"]
    mapped = client.post(
        f"/api/v1/resources/{population.id}/sync-source/inspect",
        json=body(sqlite_source, hukou),
        headers=admin,
    )
    assert mapped.json()["column_map"] == MAPPING and mapped.json()["mapping_problem"] is None


def test_scheduled_runs_follow_the_update_cycle_and_dead_runs_are_reaped(
    db, city, population, sqlite_source
) -> None:
    sqlite_source.insert([person(n, n) for n in range(1, 4)])
    police = actor(db, "police_admin")
    hukou = db.scalar(select(BusinessSystem).where(BusinessSystem.code == "police-hukou"))
    assert hukou is not None
    source = sync.save_source(
        db, actor=police, resource_id=population.id, data=sync.SourceIn(**body(sqlite_source, hukou))
    )
    assert source.next_run_at is not None  # due at once
    dead = sync.request_run(db, actor=police, resource_id=population.id)
    dead.status, dead.heartbeat_at = "running", datetime.now().astimezone() - timedelta(hours=2)
    db.flush()
    assert sync.reap_stale(db) == 1 and dead.status == "failed"
    assert sync.run_due(uow_of(db)) == "1 sync run(s): 1 succeeded, 0 failed; 0 stale"
    run = db.scalars(
        select(SyncRun).where(SyncRun.resource_id == population.id).order_by(SyncRun.id.desc())
    ).first()
    assert run is not None and (run.trigger, run.status, run.accepted) == ("schedule", "succeeded", 3)
    assert sync.run_due(uow_of(db)).startswith("0 sync run(s)")  # not due again until tomorrow
    db.refresh(source)
    assert source.next_run_at is not None
    days = (source.next_run_at - datetime.now().astimezone()).days
    assert days >= 0  # 人口基础信息 is updated 每日: the next run is about a day later
    assert source.next_run_at - datetime.now().astimezone() > timedelta(hours=23)


def test_sqlite_source_is_opened_read_only(db, city, population, sqlite_source) -> None:
    from govshare.exchange import sources

    sqlite_source.insert([person(1, 1)])
    engine = sources.connect(sources.parse_url(sqlite_source.url))
    try:
        with pytest.raises(Exception, match=r"readonly|read-only"), engine.begin() as conn:
            conn.execute(text("DELETE FROM rk_jbxx"))
    finally:
        engine.dispose()
    path = Path(make_url(sqlite_source.url).database or "")
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM rk_jbxx").fetchone() == (1,)


def test_a_source_on_the_platforms_own_host_needs_the_operators_leave(
    client, city, db, population, hukou, pg_source
) -> None:
    admin = login(client, "police_admin")
    with settings_override(sync_allowed_networks="[]"):
        refused = client.put(
            f"/api/v1/resources/{population.id}/sync-source", json=body(pg_source, hukou), headers=admin
        )
        assert refused.status_code == 422
        assert "GOVSHARE_SYNC_ALLOWED_NETWORKS" in refused.json()["error"]["message"]
        localhost = client.put(
            f"/api/v1/resources/{population.id}/sync-source",
            json=body(pg_source, hukou, url=pg_source.url.replace("127.0.0.1", "localhost")),
            headers=admin,
        )
        assert localhost.status_code == 422  # a name resolving to loopback is no way around it
    allowed = client.put(
        f"/api/v1/resources/{population.id}/sync-source", json=body(pg_source, hukou), headers=admin
    )
    assert allowed.status_code == 200, allowed.text
    # Checked again at every run: a source allowed once stops when the operator withdraws the leave.
    with settings_override(sync_allowed_networks="[]"):
        run = sync.execute(
            uow_of(db), sync.request_run(db, actor=actor(db, "police_admin"), resource_id=population.id).id
        )
    assert run.status == "failed" and "GOVSHARE_SYNC_ALLOWED_NETWORKS" in (run.error or "")
    with settings_override(sync_allowed_networks="[]"):  # stopping works wherever the source now is
        stopped = client.delete(f"/api/v1/resources/{population.id}/sync-source", headers=admin)
        assert stopped.status_code == 200 and stopped.json()["enabled"] is False


@pytest.mark.parametrize("port", [-1, 0, 65536, 99999])
def test_a_source_port_out_of_range_is_refused_when_the_source_is_saved(port: int) -> None:
    """Not first when a sync runs: the connection address is checked when it is given."""
    from govshare.errors import Invalid
    from govshare.exchange import sources

    with pytest.raises(Invalid) as refused:
        sources.parse_url(f"postgresql://qzk@10.1.2.3:{port}/qzk")
    assert "1 到 65535" in refused.value.message and refused.value.details == {"field": "url"}
