"""Data provision at its edges (M13, S14–S18): amounts, commas and encodings in a batch, a snapshot
with quarantined rows, quarantine resolved by a later batch, and retries and uploads that race.

The two race tests run two units of work on separate connections of a database of their own
(`own_database`); on SQLite every transaction is `BEGIN IMMEDIATE`, so they only race on PostgreSQL.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceVersion
from govshare.db import unit_of_work
from govshare.exchange import files as files_module
from govshare.exchange import ingest as ingest_module
from govshare.exchange import store
from govshare.exchange.body import BatchRequest, from_file
from govshare.exchange.models import Batch, QuarantinedRow, ResourceFile
from tests.exchange.test_ingest import GOOD1, GOOD2, csv_body, idn, line, push
from tests.helpers import actor, login, own_database, race

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def allowance(db: Session) -> Resource:
    resource = db.scalar(select(Resource).where(Resource.name == "最低生活保障对象信息"))
    assert resource is not None
    return resource


@pytest.fixture
def lenient(app: Any) -> Iterator[TestClient]:
    """A client that answers a server error with its 500 instead of raising it in the test."""
    with TestClient(app, client=("127.0.0.1", 50000), raise_server_exceptions=False) as c:
        yield c


def stored_rows(db: Session, resource: Resource) -> dict[str, Any]:
    version = db.get(ResourceVersion, resource.published_version_id)
    assert version is not None
    table = store.table_for(db, resource.id, version.items)
    return {r.id_number: r._mapping for r in db.execute(select(table))}


# --- JSON numbers ------------------------------------------------------------------------------------


def test_json_amounts_are_not_rounded_through_binary_floats(client, city, db, allowance) -> None:
    """Y (金额) is "never rounded" (docs/provision.md §3). A JSON number is decoded with Python's
    default `parse_float=float` (body.py `json_array` / `_json_record`), so 1234567890123456.78 becomes
    the double 1234567890123456.8 and is stored as 1234567890123456.80 without any reason given; the
    same row sent as CSV keeps its cents, and counts as a change against the JSON copy."""
    admin = login(client, "civil_admin")
    record = {"id_number": GOOD1, "name": "张伟", "amount": 0}
    text = json.dumps([record]).replace('"amount": 0', '"amount": 1234567890123456.78')
    first = push(client, admin, allowance.id, text.encode(), content_type="application/json")
    assert first.status_code == 201, first.text
    assert first.json()["accepted"] == 1
    if db.get_bind().dialect.name == "postgresql":  # SQLite stores NUMERIC as REAL anyway
        assert stored_rows(db, allowance)[GOOD1]["amount"] == Decimal("1234567890123456.78")
    same = push(
        client,
        admin,
        allowance.id,
        csv_body(f"{GOOD1},张伟,1234567890123456.78", header="id_number,name,amount"),
    )
    assert same.status_code == 201, same.text
    assert (same.json()["unchanged"], same.json()["updated"]) == (1, 0), "the JSON copy lost its cents"


# --- numbers with a misplaced grouping comma ---------------------------------------------------------


def test_a_misplaced_grouping_comma_is_quarantined_not_multiplied(client, city, db, allowance) -> None:
    """quality._decimal drops every comma: "12,5" (a decimal comma, or a split field) is accepted
    silently as 125 — ten times the value sent — instead of being quarantined with a reason."""
    admin = login(client, "civil_admin")
    body = csv_body(f'{GOOD1},张伟,"12,5"', header="id_number,name,amount")
    response = push(client, admin, allowance.id, body)
    assert response.status_code == 201, response.text
    assert response.json()["quarantined"] == 1, f"stored as {stored_rows(db, allowance)[GOOD1]['amount']}"


# --- encodings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps([{"id_number": GOOD1}]).encode()),
        ("application/x-ndjson", json.dumps({"id_number": GOOD1}).encode()),
    ],
)
def test_an_unknown_encoding_for_json_is_a_clear_422(
    lenient, city, db, population, content_type, body
) -> None:
    """`?encoding=` is checked with codecs.lookup for CSV only (body._encoding); a JSON or NDJSON
    batch hands it to TextIOWrapper, whose LookupError is an internal error (500)."""
    admin = login(lenient, "police_admin")
    response = push(
        lenient, admin, population.id, body, content_type=content_type, params={"encoding": "gbk2"}
    )
    assert response.status_code == 422, response.text
    assert "编码" in response.json()["error"]["message"]


# --- snapshots and quarantine ------------------------------------------------------------------------


def test_a_snapshot_does_not_retire_a_row_it_contains_but_quarantined(client, city, db, population) -> None:
    """A row present in a snapshot but refused by a quality rule (a typo in one field) is not
    "absent" from it; yet `retire_absent` retires every row the snapshot did not write, so the stored,
    valid version of that person leaves the live data because of the typo (bad input loses data)."""
    admin = login(client, "police_admin")
    third = idn("130105", "20010101", "118")
    first = push(client, admin, population.id, csv_body(line(GOOD1), line(GOOD2), line(third)))
    assert first.status_code == 201 and first.json()["inserted"] == 3
    snapshot = push(
        client,
        admin,
        population.id,
        csv_body(line(GOOD1), line(GOOD2), line(third, mobile="12")),
        params={"mode": "snapshot"},
    )
    assert snapshot.status_code == 201, snapshot.text
    assert snapshot.json()["quarantined"] == 1
    rows = stored_rows(db, population)
    assert rows[third]["_retired_at"] is None, "the snapshot retired a row it contained (quarantined)"
    assert snapshot.json()["retired"] == 0


def test_quarantined_rows_sent_again_and_accepted_are_no_longer_open(client, city, db, population) -> None:
    """Quarantined rows are to be "fixed at the source and sent again in a new batch" (docs/provision.md
    §3), and the quarantine violation lasts while "a batch still has open quarantined rows (not
    resubmitted or dismissed)" (docs/rectification.md). Nothing ever moves a quarantined row out of
    `open` (no code writes `QuarantinedRow.status` or `resolved_batch_id`): the corrected row is
    stored, but the first batch's quarantine stays open and the violation can never resolve."""
    admin = login(client, "police_admin")
    bad = push(client, admin, population.id, csv_body(line(GOOD1, gender="X")))
    assert bad.status_code == 201 and bad.json()["quarantined"] == 1
    fixed = push(client, admin, population.id, csv_body(line(GOOD1)))
    assert fixed.status_code == 201 and fixed.json()["inserted"] == 1
    row = db.scalar(select(QuarantinedRow).where(QuarantinedRow.batch_id == bad.json()["batch_id"]))
    assert row is not None
    db.refresh(row)
    assert (row.status, row.resolved_batch_id) == ("resubmitted", fixed.json()["batch_id"])


# --- two units of work at once -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with own_database(tmp_path_factory.mktemp("review-provision"), "reviewprov") as engine:
        yield engine


def test_a_retry_racing_its_first_attempt_gets_the_first_batchs_answer(
    live: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Send the same Idempotency-Key with the same body and you get the first batch's answer." The
    key is looked up before `lock_batches`: a retry sent while the first attempt is still being
    applied (the client timed out) finds nothing, waits for the lock, then inserts a second manifest
    with the same key and fails on the unique constraint — an IntegrityError (500) instead of the
    first batch's answer."""
    with unit_of_work(live) as db:
        resource = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
        assert resource is not None
        resource_id = resource.id
        admin = actor(db, "police_admin")
    body = csv_body(line(GOOD1), line(GOOD2))
    key = "review-retry-0001"

    def attempt(db: Session) -> tuple[str, bool]:
        req = BatchRequest(
            resource_id=resource_id,
            body=from_file(io.BytesIO(body)),
            content_type="text/csv",
            idempotency_key=key,
        )
        batch, replayed = ingest_module.ingest(db, actor=admin, req=req)
        return batch.id, replayed

    outcomes = race(live, monkeypatch, ingest_module, "lock_batches", attempt, attempt)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert not failures, f"a retry of the same batch failed: {failures!r}"
    assert outcomes[0][0] == outcomes[1][0] and sorted(o[1] for o in outcomes) == [False, True]
    with unit_of_work(live) as db:
        assert len(list(db.scalars(select(Batch).where(Batch.idempotency_key == key)))) == 1


def test_two_file_versions_uploaded_at_once_are_both_kept(
    live: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """files.upload numbers a version `max(number) + 1` without locking anything: two uploads of one
    file resource at once both take the same number and the second fails on the unique constraint
    (an IntegrityError, 500) — a concurrent provider loses its upload instead of being serialised."""
    with unit_of_work(live) as db:
        prices = db.scalar(select(Resource).where(Resource.name == "重点商品价格监测信息"))
        assert prices is not None and prices.provision_method == "file"
        resource_id = prices.id
        market = actor(db, "market_admin")

    def upload(content: bytes) -> Callable[[Session], int]:
        def work(db: Session) -> int:
            record = files_module.upload(
                db,
                actor=market,
                resource_id=resource_id,
                body=from_file(io.BytesIO(content)),
                filename="价格监测.xlsx",
                media_type=XLSX,
            )
            return record.number

        return work

    outcomes = race(
        live, monkeypatch, files_module, "storage_dir", upload(b"PK version a"), upload(b"PK version b")
    )
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert not failures, f"a concurrent upload failed: {failures!r}"
    assert sorted(outcomes) == [1, 2]
    with unit_of_work(live) as db:
        kept = db.scalars(select(ResourceFile.number).where(ResourceFile.resource_id == resource_id))
        assert sorted(kept) == [1, 2]
