"""The audit inbox: on PostgreSQL a data call's use record and event are one statement, the event
chained afterwards (`db._write_on_postgres`, `audit.service.link_inbox`, `audit.linker`). Against a
database of the module's own, in units of work that commit, as the server runs them: the tests'
rolled-back session never takes this path."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from govshare.audit import jobs, linker
from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.audit.models import AuditEvent, AuditHead, AuditInbox
from govshare.authz import Actor, Role
from govshare.catalog.models import Resource
from govshare.db import Deferred, SessionFactory, Writes, later, reads_first, unit_of_work
from govshare.exchange.ingest import lock_batches
from govshare.orgs.models import Organisation
from govshare.sharing.models import DataUse
from govshare.sharing.service import record_use
from tests.helpers import own_database

PURPOSE = "收件箱测试"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with own_database(tmp_path_factory.mktemp("inbox"), "inbox") as engine:
        yield engine


@pytest.fixture
def noted(monkeypatch: pytest.MonkeyPatch) -> list[Engine]:
    """The calls that told the process's linker (which then does not run: the tests link)."""
    told: list[Engine] = []
    monkeypatch.setattr(linker, "noted", told.append)
    return told


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            "uses": conn.scalar(select(func.count()).select_from(DataUse)) or 0,
            "inbox": conn.scalar(select(func.count()).select_from(AuditInbox)) or 0,
            "chain": conn.scalar(select(func.count()).select_from(AuditEvent)) or 0,
            "head": conn.scalar(select(AuditHead.last_seq)) or 0,
        }


def _caller(engine: Engine) -> tuple[Actor, int]:
    with engine.connect() as conn:
        org = conn.scalar(select(Organisation.id).where(Organisation.code == "civil"))
        resource = conn.scalar(select(Resource.id).where(Resource.name == "人口基础信息"))
    assert org is not None and resource is not None
    return Actor(kind="user", name="收件箱测试员", user_id=None, org_id=org, ip="127.0.0.1"), resource


def _delivery(actor: Actor, resource_id: int, rows: int = 3) -> Any:
    """A data call's writes: its use record and its audit event."""

    def write(w: Writes) -> None:
        record_use(w, actor=actor, resource_id=resource_id, purpose=PURPOSE, channel="rows", rows=rows)
        audit.record(
            w,
            EventType.data_delivered,
            actor=actor,
            object_type="resources",
            object_id=resource_id,
            details={"rows": rows, "purpose": PURPOSE},
        )

    return write


def _call(engine: Engine, *writes: Any, fusable: bool = True) -> None:
    """A reads-first unit as the data API runs it: writes registered, held, then committed."""
    deferred = Deferred()
    with reads_first(engine, deferred=deferred) as db:
        db.execute(select(Resource.id).limit(1)).all()
        for write in writes:
            later(db, write, fusable=fusable)
    deferred.commit()


def test_a_data_calls_writes_are_one_statement_and_its_event_waits_in_the_inbox(
    engine: Engine, noted: list[Engine]
) -> None:
    actor, resource = _caller(engine)
    before = _counts(engine)
    _call(engine, _delivery(actor, resource))
    after = _counts(engine)
    assert after["uses"] == before["uses"] + 1
    if engine.dialect.name == "postgresql":
        # Durable before the answer, in the inbox; the head untouched; the linker told.
        assert after["inbox"] == before["inbox"] + 1
        assert (after["chain"], after["head"]) == (before["chain"], before["head"])
        assert noted == [engine]
        assert audit.link_pending(engine) == 1
    else:  # SQLite: one writer at a time anyway; chained in the write transaction, as before
        assert after["inbox"] == before["inbox"] == 0
        assert noted == []
    linked = _counts(engine)
    assert linked["inbox"] == 0
    assert linked["chain"] == linked["head"] == before["head"] + 1
    with engine.connect() as conn:
        last = conn.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert (last.event_type, last.actor_name, last.object_id) == (
        "sharing.data_delivered",
        actor.name,
        str(resource),
    )
    session = SessionFactory(bind=engine)
    try:
        report = audit.verify_chain(session)
    finally:
        session.close()
    assert report.ok and report.pending == 0, report.as_dict()


def test_a_write_phase_with_any_other_write_is_a_transaction_chained_at_once(
    engine: Engine, noted: list[Engine]
) -> None:
    actor, resource = _caller(engine)
    runs: list[str] = []

    def touch(w: Writes) -> None:  # an UPDATE, registered as what it is
        runs.append("touch")
        w.execute(update(Organisation).where(Organisation.id == actor.org_id).values(short_name="民政"))

    before = _counts(engine)
    deferred = Deferred()
    with reads_first(engine, deferred=deferred) as db:
        later(db, _delivery(actor, resource), fusable=True)
        later(db, touch)
    deferred.commit()
    after = _counts(engine)
    assert runs == ["touch"]
    assert after["uses"] == before["uses"] + 1
    assert (after["inbox"], after["head"]) == (before["inbox"], before["head"] + 1)
    assert noted == []


def test_a_fusable_write_that_executes_anything_else_is_refused(engine: Engine, noted: list[Engine]) -> None:
    actor, _resource = _caller(engine)

    def renamed(w: Writes) -> None:
        w.execute(update(Organisation).where(Organisation.id == actor.org_id).values(short_name="民政"))

    before = _counts(engine)
    if engine.dialect.name == "postgresql":
        with pytest.raises(TypeError, match="FUSABLE"):
            _call(engine, renamed)
    else:  # SQLite runs every write phase as a transaction
        _call(engine, renamed)
    assert _counts(engine) == before
    assert noted == []


def test_the_one_statement_stores_all_of_it_or_nothing(engine: Engine, noted: list[Engine]) -> None:
    actor, _resource = _caller(engine)
    before = _counts(engine)
    with pytest.raises(IntegrityError):  # the use record names a resource that does not exist
        _call(engine, _delivery(actor, 10**9))
    assert _counts(engine) == before
    assert noted == []


def _inbox_event(**fields: Any) -> dict[str, Any]:
    """An event's fields as a data call writes them to the inbox, with `fields` instead."""
    return {
        "occurred_at": audit.utcnow(),
        "event_type": str(EventType.data_delivered),
        "outcome": "success",
        "actor_kind": "system",
        "actor_id": None,
        "actor_name": "收件箱测试系统",
        "org_id": None,
        "object_type": "resources",
        "object_id": "1",
        "source_ip": "127.0.0.1",
        "details": "{}",
        **fields,
    }


def _waiting(engine: Engine, count: int) -> list[str]:
    """`count` events put in the inbox as data calls put them; their markers, in order of arrival."""
    markers = [f"marker-{time.monotonic_ns()}-{i}" for i in range(count)]
    with unit_of_work(engine) as db:
        for marker in markers:
            db.execute(
                insert(AuditInbox).values(_inbox_event(details=audit.canonical_json({"marker": marker})))
            )
    return markers


def _chained(engine: Engine, markers: list[str]) -> list[str]:
    with engine.connect() as conn:
        details = conn.scalars(
            select(AuditEvent.details)
            .where(AuditEvent.details.in_([audit.canonical_json({"marker": m}) for m in markers]))
            .order_by(AuditEvent.seq)
        ).all()
    return [d.split('"')[3] for d in details]


def test_readers_link_first_in_order_of_arrival_and_verification_counts_what_waits(engine: Engine) -> None:
    markers = _waiting(engine, 3)
    session = SessionFactory(bind=engine)
    try:
        report = audit.verify_chain(session)  # read-only: what waits is reported, not a problem
        assert report.ok and report.pending == 3
        auditor = Actor(kind="user", name="审计员", user_id=None, roles=frozenset({Role.auditor}))
        found, _total = audit.search(session, actor=auditor, query=audit.AuditQuery(actor="收件箱测试系统"))
        session.commit()
    finally:
        session.close()
    assert [e.details for e in found] == [audit.canonical_json({"marker": m}) for m in reversed(markers)]
    assert _chained(engine, markers) == markers
    assert _counts(engine)["inbox"] == 0
    more = _waiting(engine, 2)
    with unit_of_work(engine) as db:  # the scheduler's safety net, where no server links
        assert jobs.link_inbox(db) == "chained 2 events"
    assert _chained(engine, more) == more


def test_the_linker_chains_what_a_call_noted(engine: Engine) -> None:
    markers = _waiting(engine, 2)
    own = linker.Linker(engine)
    own.noted()
    try:
        deadline = time.monotonic() + 30
        while _counts(engine)["inbox"] and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        own.stop()
    assert _chained(engine, markers) == markers


def _vacuums(engine: Engine) -> int:
    """Vacuums of the inbox run by hand, as PostgreSQL's statistics count them (autovacuum's apart)."""
    with engine.connect() as conn:
        return int(
            conn.scalar(text("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'audit_inbox'"))
        )


def test_the_linker_vacuums_the_inbox_every_so_many_events(engine: Engine) -> None:
    """Each event leaves a dead row in the inbox; the linker vacuums it every `VACUUM_AFTER` events
    it has chained, whether or not autovacuum runs."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's data calls do not use the inbox")
    own = linker.Linker(engine)
    before = _vacuums(engine)
    own.chained(linker.VACUUM_AFTER - 1)
    assert own.linked == linker.VACUUM_AFTER - 1
    own.chained(1)
    assert own.linked == 0
    deadline = time.monotonic() + 10  # the count reaches the statistics a moment after the vacuum
    while _vacuums(engine) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _vacuums(engine) == before + 1


def test_a_calls_writes_do_not_wait_for_a_batch_of_the_resource_in_progress(
    engine: Engine, noted: list[Engine]
) -> None:
    """Ingest holds the resource's row for its whole batch (`lock_batches`); a data call's use
    record refers to that row, and its insert must not wait for the batch: a cached call writes on
    the event loop's thread."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: a batch in progress holds every write")
    actor, resource = _caller(engine)
    before = _counts(engine)
    finished = threading.Event()
    with engine.connect() as batch:
        holding = batch.begin()
        lock_batches(Session(bind=batch), resource)
        call = threading.Thread(target=lambda: (_call(engine, _delivery(actor, resource)), finished.set()))
        call.start()
        done_during_batch = finished.wait(10)
        holding.rollback()
    call.join(10)
    assert done_during_batch
    assert _counts(engine)["uses"] == before["uses"] + 1


def test_a_linked_batch_stores_every_value_as_recorded(engine: Engine) -> None:
    """A linked batch keeps every value as it was hashed (nulls, quotes, braces, backslashes, tabs,
    line breaks, COPY's end-of-data marker and Chinese), and a value too long for its column fails
    the whole batch instead of being cut short."""
    awkward = [
        {"actor_id": None, "org_id": None, "object_type": None, "object_id": None, "source_ip": None},
        {"actor_id": 7, "org_id": 3, "object_type": "resources", "object_id": "42", "source_ip": "::1"},
        {"actor_id": None, "org_id": 3, "object_type": 'a "quoted", {braced} \\ name', "object_id": "{}"},
        {
            "actor_id": 8,
            "org_id": None,
            "object_type": "tab\there\r\nnext",
            "object_id": "\\.",
            "source_ip": "\\N",
        },
    ]
    details = [
        {"marker": "数组-0", "text": 'He said "NULL", {a,b} \\N'},
        {"marker": "数组-1", "list": [1, None, "二"]},
        {"marker": "数组-2", "empty": ""},
        {"marker": "数组-3", "lines": "one\ntwo\r\n\\.\n\tend"},
    ]
    audit.link_pending(engine)  # what earlier tests left waiting
    with unit_of_work(engine) as db:
        for fields, detail in zip(awkward, details, strict=True):
            event = _inbox_event(
                actor_name='收件箱测试系统 "引号"', details=audit.canonical_json(detail), **fields
            )
            db.execute(insert(AuditInbox).values(event))
    assert audit.link_pending(engine) == 4
    with engine.connect() as conn:
        stored = conn.execute(
            select(AuditEvent)
            .where(AuditEvent.details.in_([audit.canonical_json(d) for d in details]))
            .order_by(AuditEvent.seq)
        ).all()
    assert [row.details for row in stored] == [audit.canonical_json(d) for d in details]
    for row, fields in zip(stored, awkward, strict=True):
        expected = {"source_ip": "127.0.0.1", **fields}
        assert {name: getattr(row, name) for name in expected} == expected
        assert row.actor_name == '收件箱测试系统 "引号"' and row.occurred_at.tzinfo is not None
    session = SessionFactory(bind=engine)
    try:
        assert audit.verify_chain(session).ok
    finally:
        session.close()

    if engine.dialect.name != "postgresql":
        return  # SQLite does not enforce a VARCHAR's length
    before = _counts(engine)
    with pytest.raises(DBAPIError, match="too long"), unit_of_work(engine) as db:  # object_id: 64
        audit._append(db, [_inbox_event(object_id="合格"), _inbox_event(object_id="x" * 65)])
    assert _counts(engine) == before
