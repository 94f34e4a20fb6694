"""The reads-first unit of work: no write lock while reading, registered writes afterwards."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    column,
    func,
    insert,
    select,
    table,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError

from govshare import crypto
from govshare.db import (
    READS_FIRST,
    Direct,
    NeedsThread,
    _group_writer,
    _Ticket,
    later,
    reads_first,
    unit_of_work,
)
from govshare.errors import Forbidden, Invalid


@pytest.fixture
def scratch(engine: Engine) -> Iterator[str]:
    """A committed scratch table of its own (dropped afterwards), so both phases really commit."""
    name = f"t_reads_first_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {name} (n INTEGER NOT NULL)"))
        conn.execute(text(f"INSERT INTO {name} (n) VALUES (1)"))
    yield name
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {name}"))


def _values(engine: Engine, table: str) -> list[int]:
    with engine.connect() as conn:
        return sorted(int(n) for n in conn.execute(text(f"SELECT n FROM {table}")).scalars())


def test_writes_run_after_the_reads_and_are_committed(engine: Engine, scratch: str) -> None:
    order: list[str] = []
    with reads_first(engine) as db:
        assert db.execute(text(f"SELECT count(*) FROM {scratch}")).scalar_one() == 1
        later(db, lambda w: (order.append("first"), w.execute(text(f"INSERT INTO {scratch} VALUES (2)"))))
        later(db, lambda w: (order.append("second"), w.execute(text(f"INSERT INTO {scratch} VALUES (3)"))))
        # Registered, not run: the read phase has written nothing.
        assert order == []
        # Another writer is not blocked by this unit of work while it reads.
        with unit_of_work(engine) as other:
            other.execute(text(f"INSERT INTO {scratch} VALUES (10)"))
    assert order == ["first", "second"]
    assert _values(engine, scratch) == [1, 2, 3, 10]


def test_an_inline_unit_reads_on_its_own_connection_and_stops_where_it_would_open_its_session(
    engine: Engine, scratch: str
) -> None:
    """`reads_first(inline=True)`, as a data call runs on the event loop's thread (`web.deps`)."""
    counted = select(func.count()).select_from(table(scratch))
    with reads_first(engine, inline=True) as db:
        assert Direct.of(db).execute(counted).one() == (1,)  # the read phase's own connection
        later(db, lambda w: w.execute(text(f"INSERT INTO {scratch} VALUES (2)")))
    assert _values(engine, scratch) == [1, 2]
    with pytest.raises(NeedsThread), reads_first(engine, inline=True) as db:
        later(db, lambda w: w.execute(text(f"INSERT INTO {scratch} VALUES (3)")))
        db.execute(counted)  # through the session: a cache that missed
    assert _values(engine, scratch) == [1, 2]  # nothing written: it is to run again elsewhere
    with reads_first(engine) as db:  # as it runs again, in a worker thread
        assert db.execute(counted).scalar_one() == 2
    # Nor does it wait for a connection: with none idle in the pool, it is to run elsewhere too.
    from govshare.db import make_engine

    one = make_engine(engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    try:
        with one.connect(), pytest.raises(NeedsThread), reads_first(one, inline=True) as db:
            Direct.of(db).execute(counted)
        with one.connect():
            pass  # now idle in the pool
        with reads_first(one, inline=True) as db:
            assert Direct.of(db).execute(counted).one() == (2,)
    finally:
        one.dispose()


def test_a_refusal_that_keeps_changes_is_recorded_and_other_errors_write_nothing(
    engine: Engine, scratch: str
) -> None:
    with pytest.raises(Forbidden), reads_first(engine) as db:
        later(db, lambda w: w.execute(text(f"INSERT INTO {scratch} VALUES (2)")))
        raise Forbidden("拒绝", "refused", keep_changes=True)
    with pytest.raises(Invalid), reads_first(engine) as db:
        later(db, lambda w: w.execute(text(f"INSERT INTO {scratch} VALUES (3)")))
        raise Invalid("无效", "invalid")
    with pytest.raises(RuntimeError), reads_first(engine) as db:
        later(db, lambda w: w.execute(text(f"INSERT INTO {scratch} VALUES (4)")))
        raise RuntimeError("crash")
    assert _values(engine, scratch) == [1, 2]


def test_a_failing_write_rolls_back_every_registered_write(engine: Engine, scratch: str) -> None:
    with pytest.raises(DBAPIError), reads_first(engine) as db:
        later(db, lambda w: w.execute(text(f"INSERT INTO {scratch} VALUES (2)")))
        later(db, lambda w: w.execute(text(f"INSERT INTO {scratch} VALUES (NULL)")))
    assert _values(engine, scratch) == [1]


def test_deferred_writes_wait_for_commit_and_a_refusals_are_written_at_once(  # type: ignore[no-untyped-def]
    engine: Engine, scratch: str, demo_city
) -> None:
    from govshare.audit.models import AuditHead
    from govshare.db import Deferred

    deferred = Deferred()
    with reads_first(engine, deferred=deferred) as db:
        head = db.get(AuditHead, 1)
        assert head is not None
        later(db, lambda w: w.execute(text(f"INSERT INTO {scratch} (n) VALUES ({head.id + 1})")))
    assert deferred and _values(engine, scratch) == [1]  # held, not written
    deferred.commit()
    assert not deferred and _values(engine, scratch) == [1, 2]
    deferred.commit()  # once
    assert _values(engine, scratch) == [1, 2]

    # A refusal's writes run as it ends, while its session is open: the rollback that ended the
    # reads expired the objects they name, which reload (closed, the session could not).
    with pytest.raises(Forbidden), reads_first(engine, deferred=deferred) as db:
        head = db.get(AuditHead, 1)
        assert head is not None
        later(db, lambda w: w.execute(text(f"INSERT INTO {scratch} (n) VALUES ({head.id + 2})")))
        raise Forbidden("拒绝", "Refused.", keep_changes=True)
    assert not deferred and _values(engine, scratch) == [1, 2, 3]


def test_in_an_ordinary_unit_of_work_later_runs_at_once(engine: Engine, scratch: str) -> None:
    with unit_of_work(engine) as db:
        later(db, lambda w: w.execute(text(f"INSERT INTO {scratch} VALUES (2)")))
        assert db.execute(text(f"SELECT count(*) FROM {scratch}")).scalar_one() == 2
    assert _values(engine, scratch) == [1, 2]


def test_the_read_phase_is_read_only_on_postgresql(engine: Engine, scratch: str) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no read-only transactions; the deferred BEGIN takes no lock instead")
    with pytest.raises(DBAPIError, match="read-only"), reads_first(engine) as db:
        db.execute(text(f"INSERT INTO {scratch} VALUES (2)"))
    assert _values(engine, scratch) == [1]


def test_a_read_only_connection_goes_back_to_the_pool_writable(engine: Engine, scratch: str) -> None:
    """PostgreSQL's read phase begins READ ONLY through the driver on the session's connection, and
    reads in autocommit on the read phase's own (`Direct`); the pool's next user of that very
    connection (a pool of one) can write, in a transaction, and a connection given only the option
    (a backup's snapshot) is read-only as well."""
    from govshare.db import Direct, make_engine

    one = make_engine(engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    try:
        for read in (
            lambda db: db.execute(text(f"SELECT count(*) FROM {scratch}")).scalar_one(),
            lambda db: Direct.of(db).execute(text(f"SELECT count(*) FROM {scratch}")).one()[0],
        ):
            with reads_first(one) as db:
                assert read(db) >= 1
            with unit_of_work(one) as db:
                db.execute(text(f"INSERT INTO {scratch} VALUES (5)"))
            # ... and is transactional again: what a failed unit wrote is rolled back.
            with contextlib.suppress(ZeroDivisionError), unit_of_work(one) as db:
                db.execute(text(f"INSERT INTO {scratch} VALUES (6)"))
                _ = 1 / 0
        assert _values(engine, scratch) == [1, 5, 5]
        if engine.dialect.name == "postgresql":
            with one.connect() as conn, pytest.raises(DBAPIError, match="read-only"):
                conn.execution_options(**{READS_FIRST: True}).execute(
                    text(f"INSERT INTO {scratch} VALUES (6)")
                )
    finally:
        one.dispose()


def test_the_read_phase_reads_the_cache_generation_once(
    engine: Engine, scratch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token's check and the grant's both ask for it; the read phase writes nothing, so one read
    serves both. Anywhere else each ask reads it, as the caller's own writes change it."""
    from govshare import generation

    seen: list[str] = []
    read = generation._read

    def counted(db: Any) -> str:
        seen.append(value := read(db))
        return value

    monkeypatch.setattr(generation, "_read", counted)
    with reads_first(engine) as db:
        first = generation.current(db)
        assert generation.current(db) == first
    assert seen == [first]
    seen.clear()
    with unit_of_work(engine) as db:
        generation.current(db)
        generation.current(db)
    assert len(seen) == 2


def _pool_of_one(engine: Engine) -> Engine:
    from govshare.db import make_engine

    # A unit waiting for a second connection of this pool fails after a second instead of hanging.
    return make_engine(
        engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0, pool_timeout=1
    )


def test_a_cached_read_phase_reads_on_a_driver_connection_and_never_opens_the_session(
    engine: Engine, scratch: str
) -> None:
    """The generation and the page (`Direct` statements) are all a cached data call reads: they go to
    a pooled driver connection of the read phase's own, in autocommit (no BEGIN, no COMMIT), and the
    session's transaction is never begun. Anything but a query is refused there, as a read-only
    transaction would. The connection is back in the pool when the unit ends."""
    from govshare import generation
    from govshare.db import Direct, ReadPhaseWrite

    with reads_first(engine) as db:
        generation.current(db)
        direct = Direct.of(db)
        assert direct.execute(text(f"SELECT count(*) FROM {scratch}")).one()[0] == 1
        assert direct.execute(select(text("count(*)")).select_from(text(scratch))).one()[0] == 1
        assert Direct.of(db) is direct
        if engine.dialect.name == "postgresql":
            assert direct.connection.autocommit
        else:
            assert not direct.connection.in_transaction
        for write in (
            text(f"INSERT INTO {scratch} (n) VALUES (7)"),
            text(f"  update {scratch} SET n = 7"),
            text(f"WITH x AS (DELETE FROM {scratch} RETURNING n) SELECT n FROM x"),
        ):
            with pytest.raises(ReadPhaseWrite):
                direct.execute(write)
        if engine.dialect.name == "postgresql":
            with pytest.raises(ReadPhaseWrite):
                direct.copy(table(scratch, column("n")), ["n"], [(7,)])
        assert not db.in_transaction()
        later(db, lambda w: w.execute(text(f"INSERT INTO {scratch} (n) VALUES (2)")))
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert _values(engine, scratch) == [1, 2]


def test_the_session_takes_over_from_the_read_connection_without_holding_two(
    engine: Engine, scratch: str
) -> None:
    """A cache that missed reads through the session: the read connection goes back to the pool
    first, and `Direct` statements after that run on the session's connection. With a pool of one, a
    unit that held both would wait for itself."""
    from govshare.db import Direct

    one = _pool_of_one(engine)
    try:
        for rows in (1, 2):
            with reads_first(one) as db:
                count = text(f"SELECT count(*) FROM {scratch}")
                assert Direct.of(db).execute(count).one()[0] == rows
                assert db.execute(count).scalar_one() == rows
                session_connection = db.connection().connection.driver_connection
                direct = Direct.of(db)
                assert direct.connection is session_connection
                assert direct.execute(count).one()[0] == rows
                later(db, lambda w: w.execute(text(f"INSERT INTO {scratch} (n) VALUES (3)")))
    finally:
        one.dispose()
    assert _values(engine, scratch) == [1, 3, 3]


def test_a_read_connection_the_database_dropped_is_not_pooled_again(
    engine: Engine, scratch: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A call whose read connection was dropped fails with the database's error; the connection is
    discarded rather than pooled again, and the next call reads on a new one."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to drop a connection")
    from govshare.db import Direct

    one = _pool_of_one(engine)

    def backend() -> int:
        with reads_first(one) as db:
            return int(Direct.of(db).execute(text("SELECT pg_backend_pid()")).one()[0])

    try:
        first = backend()
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})
        with pytest.raises(DBAPIError):  # used again at once, before an idle ping would look
            backend()
        assert backend() != first
    finally:
        one.dispose()
    assert not [r for r in caplog.records if r.name.startswith("sqlalchemy.pool")]


def test_a_forgotten_later_fails_loudly_on_every_database(engine: Engine, scratch: str, demo_city) -> None:  # type: ignore[no-untyped-def]
    from govshare.db import ReadPhaseWrite
    from govshare.orgs.models import Organisation

    table = Table(scratch, MetaData(), Column("n", Integer))
    with pytest.raises(ReadPhaseWrite), reads_first(engine) as read:
        read.execute(insert(table).values(n=2))
    with pytest.raises(ReadPhaseWrite), reads_first(engine) as read:
        org = read.scalars(select(Organisation)).first()
        assert org is not None
        org.short_name = "改名"  # flushed by the next query or at the end: refused either way
    assert _values(engine, scratch) == [1]


def test_the_tests_unit_of_work_is_guarded_the_same_way(engine: Engine, db, city) -> None:  # type: ignore[no-untyped-def]
    """Route tests run reads-first routes `within` their session: a forgotten `later` fails there too."""
    from govshare.db import ReadPhaseWrite
    from govshare.orgs.models import Organisation

    with pytest.raises(ReadPhaseWrite), reads_first(engine, within=db) as read:
        read.execute(update(Organisation).values(short_name="改名"))
    with reads_first(engine, within=db) as read:
        later(
            read,
            lambda w: w.execute(update(Organisation).where(Organisation.id == -1).values(short_name="x")),
        )


def _queued_calls(engine: Engine, scratch: str, writes: dict[int, Any]) -> dict[int, Any]:
    """Run one reads-first call per entry of `writes` (n → the write phase's function, given the
    session and n) from threads that all queue behind a write phase in progress; returns, per n,
    whether its row was committed when its call returned, or the exception it raised."""
    writer = _group_writer(engine)
    outcome: dict[int, Any] = {}

    def call(n: int) -> None:
        try:
            with reads_first(engine) as db:
                db.execute(text("SELECT 1"))
                later(db, lambda w: writes[n](w, n))
            outcome[n] = n in _values(engine, scratch)
        except Exception as exc:
            outcome[n] = exc

    threads = [threading.Thread(target=call, args=(n,)) for n in writes]
    with writer.writing:  # another call's write phase is running: these queue behind it
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(writer.queue) < len(writes) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(writer.queue) == len(writes)
    for thread in threads:
        thread.join(10)
    return outcome


def test_queued_write_phases_commit_together_and_each_call_returns_after_the_commit(
    engine: Engine, scratch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = _group_writer(engine)
    transactions: list[int] = []
    transaction = writer._transaction

    @contextlib.contextmanager
    def counted() -> Iterator[Any]:
        with transaction() as w:
            yield w
        transactions.append(1)  # committed

    def insert(w: Any, n: int) -> None:
        w.execute(text(f"INSERT INTO {scratch} (n) VALUES ({n})"))

    monkeypatch.setattr(writer, "_transaction", counted)
    outcome = _queued_calls(engine, scratch, dict.fromkeys(range(10, 16), insert))
    assert outcome == dict.fromkeys(range(10, 16), True)
    assert _values(engine, scratch) == [1, *range(10, 16)]
    assert len(transactions) == 1  # six calls' writes, one transaction


def test_a_failing_write_phase_in_a_group_fails_its_own_call_only(engine: Engine, scratch: str) -> None:
    def insert(w: Any, n: int) -> None:
        w.execute(text(f"INSERT INTO {scratch} (n) VALUES ({n})"))

    def insert_then_fail(w: Any, n: int) -> None:
        insert(w, n)
        raise RuntimeError("the write phase failed")

    outcome = _queued_calls(engine, scratch, {20: insert, 21: insert_then_fail, 22: insert})
    assert outcome[20] is True and outcome[22] is True
    assert isinstance(outcome[21], RuntimeError)
    assert _values(engine, scratch) == [1, 20, 22]


def test_an_interruption_while_a_group_is_retried_fails_only_the_calls_not_yet_committed(
    engine: Engine, scratch: str
) -> None:
    class Interrupted(BaseException):
        pass

    def insert(n: int) -> Any:
        return lambda w: w.execute(text(f"INSERT INTO {scratch} (n) VALUES ({n})"))

    def insert_then_fail(w: Any) -> None:
        insert(31)(w)
        raise RuntimeError("the write phase failed")

    def interrupted(_w: Any) -> None:
        raise Interrupted

    # The group fails on the second call's writes; retried one by one, the first commits, the
    # second fails again, and the third is interrupted before the fourth runs.
    tickets = [
        _Ticket([insert(30)]),
        _Ticket([insert_then_fail]),
        _Ticket([interrupted]),
        _Ticket([insert(33)]),
    ]
    with pytest.raises(Interrupted):
        _group_writer(engine)._run(tickets)
    assert all(t.done for t in tickets)
    assert tickets[0].error is None  # committed: its call returns normally
    assert isinstance(tickets[1].error, RuntimeError)
    assert isinstance(tickets[2].error, Interrupted) and isinstance(tickets[3].error, Interrupted)
    assert _values(engine, scratch) == [1, 30]


def test_a_groups_events_take_one_turn_of_the_chain_and_a_failing_call_leaves_none(  # type: ignore[no-untyped-def]
    engine: Engine, scratch: str, demo_city, monkeypatch: pytest.MonkeyPatch
) -> None:
    from govshare.audit import service as audit
    from govshare.audit.events import EventType
    from govshare.audit.models import AuditEvent
    from govshare.authz import Actor

    turns: list[int] = []
    append = audit._append

    def counted(db: Any, events: list[Any]) -> None:
        turns.append(len(events))
        append(db, events)

    monkeypatch.setattr(audit, "_append", counted)

    def recorded(w: Any, n: int) -> None:
        w.execute(text(f"INSERT INTO {scratch} (n) VALUES ({n})"))
        actor = Actor.operator("reads-first-group")
        audit.record(w, EventType.user_updated, actor=actor, object_type=scratch, object_id=n)

    def failing(w: Any, n: int) -> None:
        recorded(w, n)
        raise RuntimeError("the write phase failed")

    assert _queued_calls(engine, scratch, dict.fromkeys((30, 31, 32), recorded)) == dict.fromkeys(
        (30, 31, 32), True
    )
    assert turns == [3]  # three calls' events, one turn of the head
    turns.clear()
    outcome = _queued_calls(engine, scratch, {40: recorded, 41: failing, 42: recorded})
    assert outcome[40] is True and outcome[42] is True and isinstance(outcome[41], RuntimeError)
    assert turns == [1, 1]  # the group rolled back; then each call on its own, 41 failing before its turn
    assert _values(engine, scratch) == [1, 30, 31, 32, 40, 42]
    with engine.connect() as conn:
        found = conn.execute(select(AuditEvent.object_id).where(AuditEvent.object_type == scratch)).scalars()
        assert sorted(int(n) for n in found) == [30, 31, 32, 40, 42]


def test_a_checkpoint_due_in_a_write_phase_commits_with_the_events_it_signs(
    engine: Engine, demo_city
) -> None:  # type: ignore[no-untyped-def]
    from govshare.audit import service as audit
    from govshare.audit.events import EventType
    from govshare.audit.models import AuditCheckpoint, AuditHead
    from govshare.authz import Actor
    from tests.conftest import settings_override

    def record(w: Any) -> None:
        audit.record(w, EventType.user_updated, actor=Actor.operator("reads-first-test"), object_type="test")

    with settings_override(audit_checkpoint_every=1), reads_first(engine) as db:
        later(db, record)
    with engine.connect() as conn:
        last, signed = conn.execute(select(AuditHead.last_seq, AuditHead.last_checkpoint_seq)).one()
        assert signed == last
        checkpoint = conn.execute(select(AuditCheckpoint).where(AuditCheckpoint.seq == last)).one()
        event_hash = conn.execute(
            text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": last}
        ).scalar_one()
    assert checkpoint.hash == event_hash
    assert crypto.sm2_verify(
        checkpoint.public_key,
        audit._checkpoint_message(last, checkpoint.hash, checkpoint.created_at),
        checkpoint.signature,
    )


def test_a_commit_is_on_disk_before_it_returns(engine: Engine) -> None:
    """SQLite flushes the WAL at every commit (synchronous=FULL, 2), for the writer's and the
    readers' connections alike; PostgreSQL commits synchronously."""
    from govshare.db import reading_engine

    for eng in {engine, reading_engine(engine)}:
        with eng.connect() as conn:
            if engine.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            else:
                assert conn.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"


# --- Direct: statements on the driver's connection (the write phase, a data call's reads) ------


@pytest.fixture
def typed(engine: Engine) -> Iterator[Table]:
    """A committed scratch table with the kinds of columns the write phase writes."""
    from sqlalchemy import Boolean, Date, Numeric, String

    from govshare.db import UTCDateTime

    table = Table(
        f"t_writer_{uuid.uuid4().hex[:8]}",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("at", UTCDateTime(), nullable=False),
        Column("day", Date),
        Column("amount", Numeric(12, 2)),
        Column("flag", Boolean, default=True),
        Column("note", String(40)),
        Column("touched", Integer, default=0, onupdate=lambda: 7),
    )
    table.create(engine)
    yield table
    table.drop(engine)


def _written(engine: Engine, write: Any, *, read: bool = True) -> None:
    with reads_first(engine) as db:
        if read:
            db.execute(text("SELECT 1"))
        later(db, write)


def test_direct_stores_and_reads_values_as_sqlalchemy_does(engine: Engine, typed: Table) -> None:
    """A row written by the write phase reads back the same through SQLAlchemy, and is stored the
    very same way as one SQLAlchemy writes (SQLite keeps datetimes as text: a different form would
    sort and compare wrongly)."""
    from datetime import UTC, date, datetime, timedelta, timezone
    from decimal import Decimal

    at = datetime(2026, 11, 29, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))
    values = {"at": at, "day": date(2026, 10, 1), "amount": Decimal("12.50"), "note": "民政局"}
    _written(engine, lambda w: w.execute(insert(typed), {"id": 1, **values}))
    with engine.begin() as conn:
        conn.execute(insert(typed), {"id": 2, **values})
        mine, theirs = conn.execute(select(typed).order_by(typed.c.id)).all()
        assert mine._mapping["at"] == at.astimezone(UTC) and mine._mapping["at"].tzinfo is not None
        assert mine[1:] == theirs[1:]
        assert mine.flag is True and mine.touched == 0  # the columns' defaults
        stored = conn.execute(text(f"SELECT * FROM {typed.name} ORDER BY id")).all()
    assert stored[0][1:] == stored[1][1:]
    # And read back directly, through the columns' types as SQLAlchemy reads them (a date, not
    # SQLite's text; a Decimal from PostgreSQL's numeric, whose conversion needs the driver's type).
    read: list[Any] = []
    _written(engine, lambda w: read.extend(w.execute(select(typed).order_by(typed.c.id))))
    assert read == [tuple(mine), tuple(theirs)]
    assert type(read[0][3]) is Decimal and type(read[0][2]) is date


def test_direct_returns_converted_rows_and_fills_onupdate(engine: Engine, typed: Table) -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 11, 29, 1, 2, 3, tzinfo=UTC)
    returned: list[Any] = []
    change = update(typed).where(typed.c.id == 1).values(note="改").returning(typed.c.at, typed.c.id)
    _written(engine, lambda w: w.execute(insert(typed), {"id": 1, "at": at}))
    _written(engine, lambda w: returned.extend(w.execute(change)))
    assert returned == [(at, 1)]
    assert returned[0][0].tzinfo is not None  # through the column's type, as SQLAlchemy returns it
    with engine.connect() as conn:
        assert conn.execute(select(typed.c.note, typed.c.touched)).one() == ("改", 7)


def test_directs_errors_are_sqlalchemys_and_a_callers_value_is_invalid(engine: Engine, typed: Table) -> None:
    from datetime import UTC, datetime

    from sqlalchemy.exc import IntegrityError

    at = datetime(2026, 11, 29, tzinfo=UTC)
    _written(engine, lambda w: w.execute(insert(typed), {"id": 1, "at": at}))
    with pytest.raises(IntegrityError):
        _written(engine, lambda w: w.execute(insert(typed), {"id": 1, "at": at}))
    with pytest.raises(Invalid) as raised:
        _written(engine, lambda w: w.execute(insert(typed), {"id": 2**70, "at": at}))
    assert raised.value.details == {"reason": "number_out_of_range"}
    with engine.connect() as conn:
        assert conn.execute(select(typed.c.id)).scalars().all() == [1]  # nothing else stands


def test_a_connection_the_database_dropped_is_not_pooled_again(
    engine: Engine, scratch: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The writer sees the disconnect and discards the connection itself, rather than leaving the
    pool to fail resetting it (an error in the log)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to drop a connection")
    from govshare.db import make_engine

    one = make_engine(engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    pids: list[int] = []

    def insert_noting_the_backend(w: Any) -> None:
        pids.append(w.execute(text("SELECT pg_backend_pid()")).one()[0])
        w.execute(text(f"INSERT INTO {scratch} (n) VALUES (2)"))

    try:
        _written(one, insert_noting_the_backend)
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pids[0]})
        with pytest.raises(DBAPIError):  # used again at once, before an idle ping would look
            _written(one, insert_noting_the_backend, read=False)
        _written(one, insert_noting_the_backend, read=False)  # on a new connection
    finally:
        one.dispose()
    assert len(pids) == 2 and pids[1] != pids[0]
    assert not [r for r in caplog.records if r.name.startswith("sqlalchemy.pool")]
    assert _values(engine, scratch) == [1, 2, 2]
