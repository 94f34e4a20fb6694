"""Database engine, declarative base and the unit of work.

The caller owns the transaction: a request, a job or a CLI command opens one `unit_of_work()`,
services only `flush()`, and the unit commits once at the end or rolls back on any exception.

SQLite runs every transaction as `BEGIN IMMEDIATE` (after WAL mode and a busy timeout): writers
queue instead of failing with `SQLITE_BUSY` half-way, which the audit chain's single head row
needs. PostgreSQL serialises writers of that row with its row lock.

A request that mostly reads and then records what it did (the data API: read a page, then audit
the delivery) would hold that write lock, or the audit head's row lock, for its whole length, and
concurrent callers would queue behind each other. `reads_first()` is the unit of work for it: a
read-only snapshot first (a deferred `BEGIN` on SQLite, `READ ONLY` on PostgreSQL), while writes
are registered with `later(db, fn)`; when the block ends they run in one short write transaction,
committed before the caller goes on (before the response is sent). In an ordinary unit of work
`later` runs `fn` at once, so services call it the same way in both. (A data call whose answers are
cached reads its few statements on a connection of the read phase's own, in autocommit: `_Reader`.)

On PostgreSQL a write phase made only of writes registered as fusable (a data call's use record and
event: single-row inserts) is one statement in autocommit, its audit events in the inbox rather than
at the chain's head (`_write_on_postgres`, `audit.service.link_inbox`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, cast

from sqlalchemy import (
    DateTime,
    Engine,
    MetaData,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
    make_url,
    select,
)
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from govshare.settings import Settings, get_settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


def utcnow() -> datetime:
    return datetime.now(UTC)


T = TypeVar("T")
SQLITE_CACHE_KIB = 64 * 1024  # per connection, allocated as used
FUSABLE = "govshare_fusable"  # execution option: a single-row insert a write phase may fuse
AUDIT_INBOX = "govshare_audit_inbox"  # Writes.info key: audit events go to the inbox (`_write_on_postgres`)
READS_FIRST = "govshare_reads_first"  # execution option of a reads-first session's engine
_LATER = "govshare_later"  # session.info key: the writes a reads-first session registered
_READ_MEMO = "govshare_read_memo"  # session.info key: values read once per read phase
_READER = "govshare_reader"  # session.info key: the read phase's driver connection (`_Reader`)
# A pooled connection idle longer than this is pinged before use (`_ping_when_idle`).
PING_IDLE_AFTER = 1.0
_RETURNED = "govshare_returned_at"  # pool record info key: when the connection was last returned


def make_engine(url: str, **kwargs: Any) -> Engine:
    if not _in_memory(url):
        # The connection returned last is handed out next, so a process keeps reusing the few it
        # needs at a time: their PostgreSQL backends (and SQLite's page caches) stay warm, and the
        # rest sit idle. Handed out in turn (SQLAlchemy's default), every connection of a pool of 20
        # served data calls in rotation, and the database took 7-17 % more CPU a call, the server
        # 6-15 % more (bench/README.md, 2026-11-29 12:00).
        kwargs.setdefault("pool_use_lifo", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        event.listen(engine, "handle_error", _value_the_database_cannot_hold)
        return engine
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    event.listen(engine, "handle_error", _value_the_database_cannot_hold)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        # `reading_engine` has the driver begin READ ONLY itself; a connection given the option
        # alone (a backup's snapshot) says so in a statement of its own.
        if options.get(READS_FIRST) and not options.get("postgresql_readonly"):
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine


def _in_memory(url: str) -> bool:
    """An SQLite database in memory, whose pool keeps one connection per thread and no queue."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and (
        parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"
    )


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection with a ping before use when it sat idle for over `PING_IDLE_AFTER`
    seconds; one that fails is replaced before the caller gets it.

    SQLAlchemy's `pool_pre_ping` pings on every checkout, and a data API call checks out twice
    (read phase, write phase): two round trips of a dozen, for connections that were in use a
    millisecond before. A connection the database dropped while it was idle (a restart, a
    failover, an idle timeout) is still found before use. One returned within the last second is
    trusted: if the database went away in that second, the first statement fails, that call gets
    an error, and SQLAlchemy discards every connection of the pool opened before the failure."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is None or time.monotonic() - returned < PING_IDLE_AFTER:
            return  # just opened, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool discards this connection and checks out another
            raise DisconnectionError("a pooled connection failed its ping") from exc


class PerEngine(Generic[T]):
    """`made(engine)`: one `make(engine)` per engine, made at the first call for it and kept (a
    process has one or two engines; the tests, a few)."""

    __slots__ = ("kept", "lock", "make")

    def __init__(self, make: Callable[[Engine], T]) -> None:
        self.make = make
        self.kept: dict[Engine, T] = {}
        self.lock = threading.Lock()

    def __call__(self, engine: Engine) -> T:
        found = self.kept.get(engine)
        if found is None:
            with self.lock:
                found = self.kept.get(engine)
                if found is None:
                    found = self.kept[engine] = self.make(engine)
        return found


def _reading_engine(engine: Engine) -> Engine:
    options: dict[str, Any] = {READS_FIRST: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return engine.execution_options(**options)


# `engine` for the read phase of `reads_first` units: a deferred `BEGIN` on SQLite, a `BEGIN READ
# ONLY` on PostgreSQL (one statement, where `SET TRANSACTION` would add a second). Made once per
# engine: options engines are not free to make on every call.
reading_engine = PerEngine(_reading_engine)


def _value_the_database_cannot_hold(context: ExceptionContext) -> BaseException | None:
    """A caller's value the database cannot store or compare is the caller's error (422), not ours.

    An id or number beyond 64 bits (SQLite's driver raises OverflowError while binding it), a number
    beyond the column's range (PostgreSQL SQLSTATE 22003) or text with a NUL character (PostgreSQL
    text cannot hold one) would otherwise surface as a 500. Everything else is left alone.
    """
    return _callers_value(context.original_exception)


def _callers_value(original: BaseException) -> BaseException | None:
    from govshare.errors import Invalid

    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(original, OverflowError) or sqlstate == "22003":
        return Invalid(
            "提交的数值超出允许范围，请检查编号或数字。",
            "A submitted number is out of the range the platform can store.",
            details={"reason": "number_out_of_range"},
        )
    if sqlstate is None and "NUL (0x00)" in str(original):
        return Invalid(
            "提交的文本含有不允许的空字符（NUL），请删除后重试。",
            "Submitted text contains a NUL character.",
            details={"reason": "nul_character"},
        )
    return None


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # Every commit is on disk before it returns (SQLite's default, stated so that nobody trades
        # it away): a delivery's audit record and use record must survive a power cut that follows
        # the answer. NORMAL would save a data call about 0.3 ms (bench/README.md) and lose the last
        # transactions in such a cut.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # SQLite's default page cache is 2 MB: a large batch inserting under the random `_key` index
        # of an exchange table would re-read index pages from the OS for nearly every row.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A reads-first snapshot takes no lock; everything else queues for the write lock at once.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READS_FIRST) else "BEGIN IMMEDIATE")


_engines: dict[str, Engine] = {}


def get_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    url = settings.database
    if url not in _engines:
        if url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        # A pool large enough for the process's concurrent requests: connections opened beyond it
        # are closed after each use, and on PostgreSQL opening one costs a backend process. With
        # SQLAlchemy's default (5, overflow 10), 16 clients of `/healthz` on 2 workers kept opening
        # and closing connections, and 1 % of requests took over a second (bench/README.md).
        _engines[url] = make_engine(
            url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
        )
    return _engines[url]


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


SessionFactory = sessionmaker(expire_on_commit=False, autoflush=True)


@contextlib.contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit `session` when the block ends normally, roll back when it raises.

    A `DomainError` whose `keep_changes` is true (e.g. a failed login, whose failure count and
    audit event must survive) is committed before it propagates.

    A row guarded by a version column (`version_id_col`) that another transaction changed since
    this one read it fails the flush with SQLAlchemy's `StaleDataError`: nothing is written, and
    the caller gets a `Conflict` that tells the person to reload (409, not a server error).
    """
    from govshare.errors import DomainError

    try:
        yield session
        session.commit()
    except DomainError as exc:
        if exc.keep_changes:
            session.commit()
        else:
            session.rollback()
        raise
    except StaleDataError:
        session.rollback()
        raise changed_meanwhile() from None
    except BaseException:
        session.rollback()
        raise


def changed_meanwhile() -> Exception:
    """The Conflict for a record that someone else changed after this unit of work read it."""
    from govshare.errors import Conflict

    return Conflict(
        "该记录刚被他人修改或办理，本次操作未保存。请刷新页面查看最新状态后再操作。",
        "The record was changed meanwhile; nothing was saved.",
    )


def lock_row(db: Session, model: type[T], obj_id: int, *, key_share: bool = False) -> T:
    """The row of `model` whose id is `obj_id`, read again under a row lock and refreshed in the
    session: a change another transaction committed meanwhile is seen, and another unit of work
    that locks the row waits until this one ends. Take it before checking the state a change
    depends on (check-then-act). `key_share`: `FOR NO KEY UPDATE`, which lets other transactions
    insert rows that refer to this one. PostgreSQL only: SQLite's units of work hold the database's
    write lock from their first statement (`BEGIN IMMEDIATE`), so they never overlap."""
    stmt = select(model).where(model.id == obj_id)  # type: ignore[attr-defined]
    return db.execute(
        stmt.with_for_update(key_share=key_share).execution_options(populate_existing=True)
    ).scalar_one()


@contextlib.contextmanager
def unit_of_work(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction on a new session (see `transaction`)."""
    session = SessionFactory(bind=engine or get_engine())
    try:
        with transaction(session):
            yield session
    finally:
        session.close()


class Writes(Protocol):
    """What a write registered with `later` gets: the session of an ordinary unit of work, or, in
    a reads-first unit's write phase, a `Direct` on its transaction's connection. Both execute Core
    statements (`insert`, `update`, `text`) and keep `info`; neither promises more."""

    @property
    def info(self) -> dict[Any, Any]: ...

    def execute(self, statement: Any, params: Any = None, /) -> Any: ...


def dialect_of(db: Writes) -> Dialect:
    return db.dialect if isinstance(db, Direct) else cast(Session, db).get_bind().dialect


def later(db: Session, write: Callable[[Writes], object], *, fusable: bool = False) -> None:
    """Run `write(w)` in this unit of work: at once in an ordinary one, with the session; in a
    `reads_first()` one, after its reads, in the write transaction that ends it (in registration
    order), with a `Direct` on that transaction's connection.

    `write` executes Core statements on `w` (see `Writes`) and must not rely on objects loaded by
    `db`: pass ids and values.

    `fusable`: `write` executes only single-row inserts marked `FUSABLE` and records audit events.
    On PostgreSQL a write phase of such writes only is one statement, its events in the audit inbox
    (`_write_on_postgres`); `write` then runs on a `Writes` that notes its inserts, and fails on
    any other statement."""
    pending = db.info.get(_LATER)
    if pending is None:
        write(db)
    else:
        pending.append(_Fusable(write) if fusable else write)


class NeedsThread(BaseException):
    """Raised in the read phase of a `reads_first(inline=True)` unit the moment it would open its
    session (a cache that missed): it has read nothing through it and written nothing, and is to be
    run again where waiting for the database blocks nobody, in a worker thread (`web.deps`).

    A `BaseException`, like `KeyboardInterrupt`: the services' `except Exception` lets it through."""


@contextlib.contextmanager
def reads_first(
    engine: Engine | None = None,
    *,
    within: Session | None = None,
    deferred: Deferred | None = None,
    inline: bool = False,
) -> Iterator[Session]:
    """A unit of work that reads under a snapshot without write locks, then runs the writes
    registered with `later()` in one short transaction (see the module's docstring).

    The writes also run when the block raises a `DomainError` with `keep_changes` (a refusal that
    must be recorded), and not for any other exception. A forgotten `later` shows in the tests: a
    read phase that executes an INSERT, UPDATE or DELETE or flushes changed objects raises
    `ReadPhaseWrite` (and PostgreSQL refuses any write in its read-only transaction).

    `within`: run both phases as transactions of this session instead (the tests' session, whose
    commits are savepoints of a transaction rolled back at the end).

    `inline`: the unit runs on an event loop's thread, which must not wait long on the database: its
    read phase may use its own connection's few statements (`_Reader`) but raises `NeedsThread`
    where it would open the session, or take a connection while the pool has none idle.

    `deferred`: the writes of a block that ends normally are not run then but handed to `deferred`,
    whose `commit()` the caller runs next, before it answers (a data call gives up its turn first:
    `web.deps`); the session is closed by then, so they may read only what their objects had loaded.
    A refusal's writes (`keep_changes`) run at once, while the session is open: the rollback that
    ended its reads expired the objects they may name, which reload from it."""
    from govshare.errors import DomainError

    engine = engine or get_engine()
    session = within or SessionFactory(bind=reading_engine(engine))
    pending: list[Callable[[Writes], object]] = []
    session.info[_LATER] = pending  # also marks the read phase: see `ReadPhaseWrite`
    session.info[_READ_MEMO] = {}
    if within is None:
        session.info[_READER] = _Reader(engine, inline=inline)
    try:
        try:
            yield session
            if session.in_transaction():  # (a commit would begin one only to end it)
                session.commit()  # nothing to write: ends the snapshot
        except DomainError as exc:
            session.rollback()
            _end_read_phase(session)
            if exc.keep_changes:  # at once, never deferred: see below
                _write(engine, pending, within)
            raise
        except BaseException:
            session.rollback()
            raise
        # The read connection, if the unit kept one, serves its write phase too (`_fused`).
        _write(engine, pending, within, deferred, _end_read_phase(session, keep_reader=True))
    finally:
        _end_read_phase(session)
        if within is None:
            session.close()


def _end_read_phase(session: Session, *, keep_reader: bool = False) -> _Reader | None:
    """End the read phase; with `keep_reader`, its reader is returned still holding its connection
    (if it took one), for the caller to end."""
    session.info.pop(_LATER, None)
    session.info.pop(_READ_MEMO, None)
    reader = session.info.pop(_READER, None)
    if reader is not None and not (keep_reader and reader.pooled is not None):
        reader.end()
        return None
    return cast(_Reader | None, reader)


class _Reader:
    """The driver connection that a reads-first unit's `Direct` statements read on, taken from the
    pool at the first of them: a data call whose authorisation is cached reads the cache generation
    and its page there and nothing else, and the session's connection, with its `BEGIN` and
    `COMMIT` through SQLAlchemy, is never opened. Reads through the session (a cache that missed)
    take the session's own connection as before.

    Its statements run in autocommit, each in a snapshot of its own, as the statements of a
    `READ COMMITTED` transaction on PostgreSQL do anyway: PostgreSQL is spared a `BEGIN` and a
    `COMMIT`, two of a data call's round trips. What the database's read-only transaction would
    refuse, `Direct` refuses here: any statement but a query (`ReadPhaseWrite`). The connection goes
    back to the pool as it came, or is discarded when the database dropped it.

    Two connections in one read phase see the database at moments a few statements apart: what the
    session reads starts later than what this one has read, never earlier (docs/architecture.md).

    The session's transaction, once begun, takes over: this connection goes back to the pool before
    the session takes one (`_reader_gives_way`), and later `Direct` statements run on the session's.
    A unit never holds one connection while waiting for another, which, with every thread of a
    process doing so at once, could leave them all waiting on a pool that none gives back to."""

    __slots__ = ("direct", "engine", "inline", "pooled", "retired")

    def __init__(self, engine: Engine, *, inline: bool = False) -> None:
        self.engine = engine
        self.inline = inline
        self.pooled: Any = None
        self.direct: Direct | None = None
        self.retired = False

    def get(self) -> Direct:
        if self.direct is None:
            if self.inline and not _idle_connection(self.engine):
                # On an event loop's thread, never wait for a connection that a thread holds: it
                # may be one (a streamed answer's) that only this loop would let go of.
                raise NeedsThread
            self.pooled = _take_autocommit(self.engine)
            self.direct = Direct(self.pooled.driver_connection, self.engine.dialect, reading=True)
        return self.direct

    def retire(self) -> None:
        self.retired = True
        self.end()

    def end(self) -> None:
        pooled, self.pooled, self.direct = self.pooled, None, None
        if pooled is not None:
            _give_back_autocommit(self.engine, pooled)


def _take_autocommit(engine: Engine) -> Any:
    """A pooled connection whose driver runs each statement in a transaction of its own."""
    pooled = engine.raw_connection()
    if engine.dialect.name == "postgresql":
        driver: Any = pooled.driver_connection
        try:
            driver.autocommit = True  # SQLite's driver is so already (`_configure_sqlite`)
        except BaseException:
            pooled.close()
            raise
    return pooled


def _give_back_autocommit(engine: Engine, pooled: Any) -> None:
    """Return a connection of `_take_autocommit` as the pool's next user expects it, or discard it
    when the database dropped it."""
    driver: Any = pooled.driver_connection
    try:
        if engine.dialect.name == "postgresql":
            if driver.broken or driver.closed:  # dropped: not pooled again
                pooled.invalidate()
            else:
                driver.autocommit = False
    finally:
        pooled.close()


def _idle_connection(engine: Engine) -> bool:
    """Whether `engine`'s pool holds a connection nobody uses (taking it waits for nobody)."""
    checkedin = getattr(engine.pool, "checkedin", None)
    return checkedin is None or checkedin() > 0


def read_memo(db: Session) -> dict[str, Any] | None:
    """In the read phase of a `reads_first` unit, a dict for values that phase reads once (it writes
    nothing, so they cannot change under it by its own doing); None in any other unit of work."""
    return db.info.get(_READ_MEMO)


class ReadPhaseWrite(RuntimeError):
    """A write in the read phase of a `reads_first()` unit of work: register it with `later()`."""


@event.listens_for(SessionFactory, "do_orm_execute")
def _no_dml_while_reading(state: Any) -> None:
    if _LATER in state.session.info and (state.is_insert or state.is_update or state.is_delete):
        raise ReadPhaseWrite(f"{state.statement} in a reads-first read phase; use db.later()")


@event.listens_for(SessionFactory, "after_transaction_create")
def _reader_gives_way(session: Session, transaction: Any) -> None:
    reader = session.info.get(_READER)
    if reader is not None and transaction.parent is None:
        if reader.inline:  # on an event loop's thread: run again in a worker thread
            raise NeedsThread
        reader.retire()


@event.listens_for(SessionFactory, "before_flush")
def _no_flush_while_reading(session: Session, _context: Any, _instances: Any) -> None:
    if _LATER in session.info and (session.new or session.dirty or session.deleted):
        raise ReadPhaseWrite("changed objects in a reads-first read phase; use db.later()")


# A deferred write phase: the engine, the writes, the tests' session if any, the read connection.
_Held = tuple[Engine, list[Callable[[Writes], object]], Session | None, "_Reader | None"]


class Deferred:
    """The writes of a `reads_first(deferred=…)` unit, held until `commit()`, with the read phase's
    connection when it kept one to write on (`_write`)."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held: _Held | None = None

    def __bool__(self) -> bool:
        return self.held is not None

    @property
    def in_process(self) -> bool:
        """Whether the held writes commit in this process (SQLite): CPU work under the interpreter
        lock like the reads, rather than a wait for a database server (PostgreSQL)."""
        return self.held is not None and self.held[0].dialect.name == "sqlite"

    def commit(self) -> None:
        """Run the held writes in their transaction (once; nothing when none are held)."""
        held, self.held = self.held, None
        if held is not None:
            engine, pending, within, reader = held
            _write(engine, pending, within, reader=reader)


def _write(
    engine: Engine,
    pending: list[Callable[[Writes], object]],
    within: Session | None,
    deferred: Deferred | None = None,
    reader: _Reader | None = None,
) -> None:
    """Run the write phase `pending` (or hand it to `deferred`); `reader`, the read phase's
    connection, is ended here, after serving a one-statement write phase (`_write_on_postgres`)."""
    if pending and deferred is not None:
        deferred.held = (engine, pending, within, reader)
        return
    try:
        if pending:
            _run_writes(engine, pending, within, reader)
    finally:
        if reader is not None:
            reader.end()


def _run_writes(
    engine: Engine, pending: list[Callable[[Writes], object]], within: Session | None, reader: _Reader | None
) -> None:
    if within is None:
        if engine.dialect.name == "postgresql" and all(isinstance(write, _Fusable) for write in pending):
            _write_on_postgres(engine, pending, reader)
        else:
            if reader is not None:
                reader.end()  # not held while waiting for the writer's connection
            _group_writer(engine).write(pending)
        return
    from govshare.audit.service import batched

    with transaction(within) as db:
        # The writes go to the session's own connection, in its transaction, as they would to
        # the group writer's.
        writer = Direct.of(db)
        with batched(writer):
            for write in pending:
                write(writer)


class _Fusable:
    """A write registered with `later(…, fusable=True)`."""

    __slots__ = ("write",)

    def __init__(self, write: Callable[[Writes], object]) -> None:
        self.write = write

    def __call__(self, writer: Writes) -> object:
        return self.write(writer)


class _Collector:
    """A `Writes` that runs nothing: it notes the single-row inserts marked `FUSABLE` that fusable
    writes execute, with the Python defaults of their columns filled in. Audit events recorded on
    it go to the inbox."""

    __slots__ = ("info", "statements")

    def __init__(self) -> None:
        self.info: dict[Any, Any] = {AUDIT_INBOX: True}
        self.statements: list[tuple[Any, dict[str, Any]]] = []

    def execute(self, statement: Any, params: Any = None, /) -> Rows:
        if not isinstance(params, dict) or not statement.get_execution_options().get(FUSABLE):
            raise TypeError(
                f"a write registered with later(…, fusable=True) executed {statement}: only single-row "
                "inserts marked db.FUSABLE, with their values"
            )
        defaults = _INSERT_DEFAULTS.get(statement)
        if defaults is None:
            defaults = _INSERT_DEFAULTS[statement] = [
                (column.key, _python_default(column, column.default))
                for column in statement.table.c
                if column.default is not None
            ]
        missing = {key: default() for key, default in defaults if key not in params}
        self.statements.append((statement, {**missing, **params} if missing else params))
        return Rows()


_INSERT_DEFAULTS: dict[Any, list[tuple[str, Callable[[], Any]]]] = {}
_FUSED: dict[tuple[Any, ...], Any] = {}


def _write_on_postgres(
    engine: Engine, pending: list[Callable[[Writes], object]], reader: _Reader | None = None
) -> None:
    """A reads-first unit's write phase on PostgreSQL whose every write was registered as fusable (a
    data call's use record and audit event): their inserts run as one statement in autocommit
    (`_fused`), the events in the audit inbox, which the process's linker chains within a second
    (`audit.linker`): no `BEGIN`, no `COMMIT`, no wait for the chain's head, whose row lock every
    chained append takes in turn. Any other write phase is a transaction of the group writer
    (`_run_writes`)."""
    collector = _Collector()
    for write in pending:
        write(collector)
    if collector.statements:
        _fused(engine, collector.statements, reader.pooled if reader is not None else None)
        from govshare.audit import linker

        linker.noted(engine)


def _fused(engine: Engine, statements: list[tuple[Any, dict[str, Any]]], lent: Any = None) -> None:
    """Single-row inserts as one statement in autocommit: each a part of a `WITH`, all or none of
    them committed, with no `BEGIN` and no `COMMIT` (one round trip instead of four). On `lent`, a
    pooled connection in autocommit that the caller gives back (the read phase's, which spares a
    turn of the pool), else on one taken for it."""
    shape = tuple((statement, tuple(sorted(params))) for statement, params in statements)
    fused = _FUSED.get(shape)
    if fused is None:
        parts = [
            statement.values({k: bindparam(f"w{i}_{k}", type_=statement.table.c[k].type) for k in keys})
            for i, (statement, keys) in enumerate(shape)
        ]
        fused = parts[-1]
        for i, part in enumerate(parts[:-1]):
            fused = fused.add_cte(part.cte(f"w{i}"))
        if len(_FUSED) >= _PLANS_KEPT:
            _FUSED.clear()
        _FUSED[shape] = fused
    values = {f"w{i}_{k}": v for i, (_statement, params) in enumerate(statements) for k, v in params.items()}
    pooled = lent if lent is not None else _take_autocommit(engine)
    try:
        Direct(pooled.driver_connection, engine.dialect).execute(fused, values)
    finally:
        if lent is None:
            _give_back_autocommit(engine, pooled)


class Rows(list[tuple[Any, ...]]):
    """What `Direct.execute` returns: the rows, their values converted by the columns' types."""

    def one(self) -> tuple[Any, ...]:
        if len(self) != 1:
            raise ValueError(f"expected one row, got {len(self)}")
        return self[0]


class _Plan:
    """A statement compiled for one dialect and one set of parameter names, with how its
    parameters go to the driver and how the values it returns come back."""

    __slots__ = (
        "compiled",
        "defaults",
        "dialect",
        "escaped",
        "order",
        "processors",
        "query",
        "results",
        "returned",
        "returns_rows",
        "sql",
    )

    def __init__(self, statement: Any, dialect: Dialect, keys: tuple[str, ...]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError(f"give each value a parameter of its own: {compiled.string}")
        # Columns the statement leaves out that have a default (INSERT) or an `onupdate` (UPDATE)
        # computed in Python, such as `updated_at`: filled in on every execution.
        self.defaults = [
            (column.key, _python_default(column, default))
            for prefetch, kind in (("insert_prefetch", "default"), ("update_prefetch", "onupdate"))
            for column in getattr(compiled, prefetch, None) or ()
            if (default := getattr(column, kind)) is not None
        ]
        self.compiled = compiled
        self.sql = compiled.string
        # A plain query (no WITH: its clauses may write), for the read phase's connection.
        self.query = self.sql.split(None, 1)[0].upper() in ("SELECT", "SHOW")
        self.escaped = compiled.escaped_bind_names
        self.order = compiled.positiontup if dialect.positional else None
        self.processors = {
            name: processor
            for name, bind in compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        # What comes back: a query's columns, or what an INSERT or UPDATE returns. Their conversions
        # depend on the driver's type codes too, known from the first execution (`rows`).
        self.dialect = dialect
        selected = getattr(statement, "selected_columns", None) if statement.is_select else None
        columns = selected if selected is not None else getattr(compiled, "returning", None)
        self.returned = [column.type.dialect_impl(dialect) for column in columns or ()]
        self.results: list[tuple[int, Any]] | None = None
        # Whether it returns rows, from the driver's description after its first execution: asked
        # once, as building the description takes longer than many statements' own conversions.
        self.returns_rows: bool | None = None

    def parameters(self, given: dict[str, Any]) -> Any:
        if self.defaults:
            given = {**{name: default() for name, default in self.defaults}, **given}
        values = self.compiled.construct_params(given, escape_names=False)
        for name, process in self.processors.items():
            if name in values:
                values[name] = process(values[name])
        if self.order is not None:
            return tuple(values[name] for name in self.order)
        escaped = self.escaped
        return {escaped.get(name, name): value for name, value in values.items()} if escaped else values

    def rows(self, fetched: list[Any], cursor: Any) -> Rows:
        results = self.results
        if results is None:
            codes = [column[1] for column in cursor.description]
            results = self.results = [
                (i, processor)
                for i, (kind, code) in enumerate(zip(self.returned, codes, strict=False))
                if (processor := kind.result_processor(self.dialect, code)) is not None
            ]
        if not results or not fetched:
            return Rows(fetched)
        columns = list(zip(*fetched, strict=True))  # converted a column at a time
        for i, process in results:
            columns[i] = tuple(map(process, columns[i]))
        return Rows(zip(*columns, strict=True))


def _python_default(column: Any, default: Any) -> Callable[[], Any]:
    if default.is_scalar:
        return lambda: default.arg
    if default.is_callable:  # SQLAlchemy wraps a function of no arguments to take a context
        return lambda: default.arg(None)
    raise ValueError(f"{column} has a default computed otherwise than in Python; give it a value")


_PLANS: dict[tuple[Any, Dialect, tuple[str, ...]], _Plan] = {}
_PLANS_KEPT = 512  # statements built per call (with their values) come and go: start over past it


class Direct:
    """Core statements executed directly on the driver's connection, each compiled once per
    dialect and set of parameter names: for the few statements a data call makes many times a
    second (the write phase of reads-first units; the cache generation and the page of a data API
    call), where going through the session costs several times what the database takes to run
    them (bench/README.md). Here a statement costs the conversion of its values and the driver's
    call.

    It runs in whatever transaction the connection is in. Values go through the columns' types as
    they would through SQLAlchemy (UTC datetimes as SQLite stores them, dates and encrypted items
    read back), columns left out get their Python-side `default` or `onupdate`, and the driver's
    errors reach the caller as SQLAlchemy's (`DBAPIError` and its kinds; a caller's value that the
    database cannot hold as `Invalid`, as `_value_the_database_cannot_hold` does)."""

    def __init__(self, connection: Any, dialect: Dialect, *, reading: bool = False) -> None:
        self.connection = connection
        self.dialect = dialect
        self.reading = reading  # queries only: the read phase's connection (`_Reader`)
        self.info: dict[Any, Any] = {}

    @classmethod
    def of(cls, db: Session) -> Direct:
        """On the connection of `db`'s transaction (begun if it was not); in the read phase of a
        `reads_first` unit of its own, on that phase's driver connection (`_Reader`)."""
        reader = db.info.get(_READER)
        if reader is not None and not reader.retired:
            return cast(_Reader, reader).get()
        connection = db.connection()
        return cls(connection.connection.driver_connection, connection.dialect)

    def execute(self, statement: Any, params: Any = None, /) -> Rows:
        many = isinstance(params, list)
        sets: list[dict[str, Any]] = params if many else [params or {}]
        plan = self._plan(statement, tuple(sorted(sets[0])))
        if self.reading and not plan.query:
            raise ReadPhaseWrite(
                f"{plan.sql} in a reads-first read phase: only plain queries; use db.later()"
            )
        values = [plan.parameters(p) for p in sets]
        cursor = self.connection.cursor()
        try:
            if many:
                cursor.executemany(plan.sql, values)
                return Rows()
            cursor.execute(plan.sql, values[0])
            if plan.returns_rows is None:
                plan.returns_rows = cursor.description is not None
            return plan.rows(cursor.fetchall(), cursor) if plan.returns_rows else Rows()
        except self.dialect.loaded_dbapi.Error as exc:
            raise _callers_value(exc) or DBAPIError.instance(
                plan.sql, values, exc, self.dialect.loaded_dbapi.Error, dialect=self.dialect
            ) from exc
        except OverflowError as exc:  # SQLite's driver, binding an integer beyond 64 bits
            raise _callers_value(exc) from exc  # type: ignore[misc]
        finally:
            cursor.close()

    def copy(self, table: Any, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        """`rows` (values in the order of `columns`) into `table` with PostgreSQL's `COPY`, for
        batches: the driver formats them in C and the database takes them as one statement, where
        an `INSERT` a row cost each twice as much (the audit linker's batches, bench/README.md).
        The values go to the driver as they are, without the columns' types' conversions: give
        what the driver takes (aware datetimes, text, numbers, None)."""
        if self.dialect.name != "postgresql":
            raise NotImplementedError(f"COPY on {self.dialect.name}: use execute() with a list")
        if self.reading:
            raise ReadPhaseWrite(f"COPY into {table} in a reads-first read phase: use db.later()")
        quote = self.dialect.identifier_preparer
        sql = f"COPY {quote.format_table(table)} ({', '.join(quote.quote(c) for c in columns)}) FROM STDIN"
        cursor = self.connection.cursor()
        try:
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        except self.dialect.loaded_dbapi.Error as exc:
            raise _callers_value(exc) or DBAPIError.instance(
                sql, None, exc, self.dialect.loaded_dbapi.Error, dialect=self.dialect
            ) from exc
        finally:
            cursor.close()

    @classmethod
    def of_writes(cls, db: Writes) -> Direct:
        """On the connection `db` writes on: itself when it is a `Direct`."""
        return db if isinstance(db, Direct) else cls.of(cast(Session, db))

    def run(self, sql: str) -> None:
        """A statement of the transaction's own (`BEGIN`, `SAVEPOINT` …)."""
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()

    def _plan(self, statement: Any, keys: tuple[str, ...]) -> _Plan:
        key = (statement, self.dialect, keys)
        plan = _PLANS.get(key)
        if plan is None:
            plan = _Plan(statement, self.dialect, keys)
            if len(_PLANS) >= _PLANS_KEPT:
                _PLANS.clear()
            _PLANS[key] = plan
        return plan


class _Ticket:
    __slots__ = ("done", "error", "pending")

    def __init__(self, pending: list[Callable[[Writes], object]]) -> None:
        self.pending = pending
        self.done = False
        self.error: BaseException | None = None


class _GroupWriter:
    """The write phases of one process's concurrent reads-first units, committed together.

    Each caller queues its writes and takes the writer's lock; whoever holds it runs everything
    queued by then in one transaction, the audit events of them all appended in one turn of the
    chain's head, and commits once. Under load one commit (one WAL flush, one turn of SQLite's write
    lock or of the audit head's row lock) serves many calls; alone, a caller's writes are a
    transaction as before. When any write of a group fails, the group's transaction is rolled back
    and each caller's writes run again in a transaction of their own: one caller's failure is that
    caller's alone, and the common case pays for no savepoints. Nobody returns before the
    transaction holding their writes has committed: what `later()` registered is durable before the
    answer.

    The transaction runs on a pooled connection of the driver's own, through a `Direct`: no
    session, no SQLAlchemy connection.

    On SQLite the processes of one server also take turns on a file lock next to the database, which
    wakes the next writer at once, rather than in SQLite's busy handler, which sleeps in growing
    steps (1, 2, 5 … 100 ms) and made the tail latency."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.queue: list[_Ticket] = []
        self.queued = threading.Lock()
        self.writing = threading.Lock()
        self.between_processes = _process_lock(engine)

    def write(self, pending: list[Callable[[Writes], object]]) -> None:
        ticket = _Ticket(pending)
        with self.queued:
            self.queue.append(ticket)
        with self.writing:
            if not ticket.done:
                with self.queued:
                    batch, self.queue = self.queue, []
                self._run(batch)
        if ticket.error is not None:
            raise ticket.error

    def _run(self, batch: list[_Ticket]) -> None:
        committed: list[_Ticket] = []
        try:
            try:
                self._commit(batch)
            except Exception:
                if len(batch) == 1:
                    raise
                # Some caller's writes failed, or the transaction did: none of the group's stand.
                for ticket in batch:
                    try:
                        self._commit([ticket])
                        committed.append(ticket)
                    except Exception as exc:  # that caller's writes are rolled back, and it is told
                        ticket.error = exc
        except BaseException as exc:
            # Interrupted (or failed alone): every caller whose writes did not commit is told, and
            # only they: one whose writes committed on their own before it returns as it should.
            for ticket in batch:
                if ticket not in committed:
                    ticket.error = ticket.error or exc
            raise
        finally:
            for ticket in batch:
                ticket.done = True

    def _commit(self, batch: list[_Ticket]) -> None:
        from govshare.audit.service import batched

        # The events are appended when `batched` ends, inside the transaction, before its commit.
        with self.between_processes, self._transaction() as writer, batched(writer):
            for ticket in batch:
                for write in ticket.pending:
                    write(writer)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Direct]:
        """A write transaction on a pooled driver connection: committed when the block ends,
        rolled back when it raises; a connection the database dropped is not pooled again."""
        dialect = self.engine.dialect
        pooled = self.engine.raw_connection()
        writer = Direct(pooled.driver_connection, dialect)
        try:
            if dialect.name == "sqlite":  # the driver leaves transactions to us (`_configure_sqlite`)
                writer.run("BEGIN IMMEDIATE")
            yield writer
            pooled.commit()
        except BaseException as exc:
            original = exc.orig if isinstance(exc, DBAPIError) else exc
            if isinstance(original, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
                original, pooled.dbapi_connection, None
            ):
                pooled.invalidate(original)
            else:
                with contextlib.suppress(Exception):  # the error that got us here is the one to see
                    pooled.rollback()
            raise
        finally:
            pooled.close()


_group_writer = PerEngine(_GroupWriter)


class _FileLock:
    """An exclusive lock shared by the processes that open the same file (`flock`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> None:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        assert self.fd is not None
        fcntl.flock(self.fd, fcntl.LOCK_UN)


def _process_lock(engine: Engine) -> contextlib.AbstractContextManager[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return contextlib.nullcontext()
    path = Path(database).resolve()
    # A dot file: never part of a backup of the data directory.
    return _FileLock(path.with_name(f".{path.name}.writer-lock"))
