"""Append to, sign, verify and search the audit chain."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from itertools import pairwise
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Engine, Select, Table, bindparam, delete, false, func, insert, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from govshare.audit.events import EventType
from govshare.audit.models import AuditCheckpoint, AuditEvent, AuditHead, AuditInbox
from govshare.authz import Action, Actor, Scope, require, scope_of
from govshare.crypto import SM2Signer, sm2_verify, sm3_hex
from govshare.db import (
    AUDIT_INBOX,
    FUSABLE,
    Direct,
    SessionFactory,
    Writes,
    dialect_of,
    transaction,
    utcnow,
)
from govshare.settings import get_settings

GENESIS_HASH = sm3_hex(b"govshare audit chain genesis")
_EVENTS = cast(Table, AuditEvent.__table__)
_HEAD = cast(Table, AuditHead.__table__)
# Built once: every request appends at least one event, and building the statements each time
# cost more than running them.
_ADVANCE = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(last_seq=_HEAD.c.last_seq + bindparam("n"))
    .returning(_HEAD.c.last_seq, _HEAD.c.last_hash, _HEAD.c.last_checkpoint_seq, _HEAD.c.last_checkpoint_at)
)
_INBOX = cast(Table, AuditInbox.__table__)
# One of the inserts that a data call's write phase fuses into one statement (`db.FUSABLE`).
_INSERT_INBOX = insert(_INBOX).execution_options(**{FUSABLE: True})
_INBOX_FIELDS = [c.name for c in _INBOX.c if c.name != "id"]
_WAITING = select(_INBOX.c.id).limit(1)
# The oldest waiting events, taken out of the inbox; rows another linker has taken meanwhile are
# skipped, not waited for (PostgreSQL; SQLite has one writer at a time anyway).
_TAKE = (
    delete(_INBOX)
    .where(
        _INBOX.c.id.in_(
            select(_INBOX.c.id).order_by(_INBOX.c.id).limit(bindparam("n")).with_for_update(skip_locked=True)
        )
    )
    .returning(_INBOX.c.id, *(_INBOX.c[name] for name in _INBOX_FIELDS))
)
LINK_BATCH = 500  # events chained in one transaction
LINK_LOCK_TIMEOUT = "5s"  # how long linking waits for the chain's head before it leaves it for later
_BATCH = "govshare_audit_batch"  # session.info key: events of a `batched` block
_INSERT_EVENT = insert(_EVENTS)
_EVENT_COLUMNS = ["seq", *_INBOX_FIELDS, "prev_hash", "hash"]
_SET_HASH = update(_HEAD).where(_HEAD.c.id == 1).values(last_hash=bindparam("hash"))
_INSERT_CHECKPOINT = insert(cast(Table, AuditCheckpoint.__table__))
_SET_CHECKPOINT = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(last_checkpoint_seq=bindparam("seq"), last_checkpoint_at=bindparam("at"))
)
# PostgreSQL: one event and the head's new hash in one statement (`_append`).
_APPEND_ONE = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(last_hash=bindparam("head_hash"))
    .add_cte(
        insert(_EVENTS)
        .values({c.name: bindparam(f"e_{c.name}", type_=c.type) for c in _EVENTS.c if c.name != "id"})
        .cte("appended")
    )
)


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _ts(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def event_hash(prev_hash: str, event: Any) -> str:
    """SM3 over the previous hash and every stored field of the event except its id."""
    content = canonical_json(
        [
            event.seq,
            _ts(event.occurred_at),
            event.event_type,
            event.outcome,
            event.actor_kind,
            event.actor_id,
            event.actor_name,
            event.org_id,
            event.object_type,
            event.object_id,
            event.source_ip,
            event.details,
            prev_hash,
        ]
    )
    return sm3_hex(content.encode())


def _checkpoint_message(seq: int, chain_hash: str, created_at: datetime) -> bytes:
    return f"govshare-audit-checkpoint|{seq}|{chain_hash}|{_ts(created_at)}".encode()


def signer() -> SM2Signer:
    return _signer(get_settings().secret("audit_signing_key"))


@lru_cache(maxsize=4)
def _signer(private_key_hex: str) -> SM2Signer:
    # One per key: deriving the public key is a point multiplication, needed once, not per checkpoint.
    return SM2Signer(private_key_hex)


def record(
    db: Writes,
    event_type: EventType,
    *,
    actor: Actor,
    obj: Any = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
    org_id: int | None = None,
) -> None:
    """Append one event to the chain inside the caller's transaction (inside `batched(db)`: when
    the batch ends).

    `obj` (a model instance) fills object type and id; `org_id` defaults to the actor's
    organisation. Never put secrets in `details`: they are stored and shown to auditors.
    """
    if obj is not None:
        object_type = object_type or obj.__tablename__
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    fields: dict[str, Any] = {
        "occurred_at": utcnow(),
        "event_type": str(event_type),
        "outcome": outcome,
        "actor_kind": actor.kind,
        "actor_id": actor.user_id if actor.kind == "user" else actor.system_id,
        "actor_name": actor.name,
        "org_id": org_id if org_id is not None else actor.org_id,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "source_ip": actor.ip,
        "details": canonical_json(details or {}),
    }
    if db.info.get(AUDIT_INBOX):  # a data call's write phase on PostgreSQL: see `link_inbox`
        db.execute(_INSERT_INBOX, fields)
        return
    pending = db.info.get(_BATCH)
    if pending is not None:
        pending.append(fields)
    else:
        _append(db, [fields])


@contextlib.contextmanager
def batched(db: Writes) -> Iterator[None]:
    """Append the events recorded in the block together when it ends: one turn of the chain head
    for all of them (one lock, one insert of many rows, one update) instead of three statements
    each. For a short write phase that records several events (`db.reads_first`); nothing is
    appended when the block raises."""
    if _BATCH in db.info:
        yield
        return
    pending: list[dict[str, Any]] = []
    db.info[_BATCH] = pending
    try:
        yield
    finally:
        db.info.pop(_BATCH, None)
    if pending:
        _append(db, pending)


def _append(db: Writes, events: list[dict[str, Any]]) -> None:
    # The UPDATE takes the head row's lock first: concurrent appenders queue here, so each one
    # reads the hash the previous one committed. Core statements on the tables (not ORM-enabled
    # ones) keep this hot path free of identity-map bookkeeping.
    last, prev_hash, checkpoint_seq, checkpoint_at = db.execute(_ADVANCE, {"n": len(events)}).one()
    rows = []
    for seq, fields in enumerate(events, start=last - len(events) + 1):
        values = {"seq": seq, **fields, "prev_hash": prev_hash}
        values["hash"] = prev_hash = event_hash(prev_hash, SimpleNamespace(**values))
        rows.append(values)
    postgresql = dialect_of(db).name == "postgresql"
    if len(rows) == 1 and postgresql:
        # The event and the head's new hash in one statement: a round trip fewer while the head's
        # row lock is held, which every other appender waits for. (SQLite has no INSERT in a WITH
        # clause.)
        db.execute(_APPEND_ONE, {"head_hash": prev_hash, **{f"e_{k}": v for k, v in rows[0].items()}})
    else:
        if postgresql:  # a batch (the linker's): one COPY, half the cost of an INSERT an event
            Direct.of_writes(db).copy(
                _EVENTS, _EVENT_COLUMNS, [tuple(r[c] for c in _EVENT_COLUMNS) for r in rows]
            )
        else:
            db.execute(_INSERT_EVENT, rows)
        db.execute(_SET_HASH, {"hash": prev_hash})
    settings = get_settings()
    now = rows[-1]["occurred_at"]
    due_by_count = last - checkpoint_seq >= settings.audit_checkpoint_every
    checkpoint_at = None if checkpoint_at is None else _as_utc(checkpoint_at)
    due_by_time = checkpoint_at is None or now - checkpoint_at >= timedelta(
        minutes=settings.audit_checkpoint_minutes
    )
    if due_by_count or due_by_time:
        _sign_checkpoint(db, seq=last, chain_hash=prev_hash, now=now)


def link_inbox(db: Writes, *, limit: int = LINK_BATCH) -> int:
    """Chain up to `limit` of the events waiting in the inbox, oldest first, in the caller's
    transaction (one turn of the head for all of them); how many.

    A data call on PostgreSQL writes its event to the inbox, in the one statement that also writes
    its use record, committed before it answers (`db.reads_first`): durable at once, and chained
    within a second by the process's linker (`audit.linker`), or by whoever reads the chain first
    (`link_pending`). An event's place in the chain is the order in which it was linked; its time
    is when it was written."""
    if not db.execute(_WAITING).first():  # a read: on SQLite, no write lock for an empty inbox
        return 0
    taken = sorted(db.execute(_TAKE, {"n": limit}), key=lambda row: row[0])
    if taken:
        _append(db, [dict(zip(_INBOX_FIELDS, row[1:], strict=True)) for row in taken])
    return len(taken)


def link_pending(bind: Engine | Session) -> int:
    """Chain everything waiting in the inbox, a batch a transaction of its own; how many.

    For readers of the chain (search, verification), before they read, so that they see every
    committed event: given the reader's session, on its engine, not in its transaction (which then
    does not hold the chain's head while it reads). A transaction that waits longer than
    `LINK_LOCK_TIMEOUT` for the head (PostgreSQL) leaves the rest for the linker: the reader sees
    those events a moment later, and verification reports them as pending.

    On SQLite, and for a session bound to a connection (the tests' session, whose commits are
    savepoints), the session links in its own transaction: a SQLite reader whose snapshot has begun
    would not see what another transaction chained, and there the head is no one's bottleneck."""
    if isinstance(bind, Session):
        engine = bind.get_bind()
        if not isinstance(engine, Engine) or engine.dialect.name == "sqlite":
            return link_inbox(bind, limit=2**31 - 1)
        if not bind.execute(_WAITING).first():  # the usual case: no transaction of its own to open
            return 0
        bind = engine
    linked = 0
    while True:
        session = SessionFactory(bind=bind)
        try:
            with transaction(session):
                if bind.dialect.name == "postgresql":
                    session.execute(text(f"SET LOCAL lock_timeout = '{LINK_LOCK_TIMEOUT}'"))
                done = link_inbox(session)
        except OperationalError:  # the head stayed taken (or SQLite's write lock did)
            return linked
        finally:
            session.close()
        linked += done
        if done < LINK_BATCH:
            return linked


_VACUUM_INBOX = text("VACUUM (SKIP_LOCKED) audit_inbox")


def vacuum_inbox(engine: Engine) -> None:
    """Reclaim the inbox's dead rows (PostgreSQL; SQLite's calls do not use the inbox).

    Every event of a data call passes through the inbox: a row inserted by the call, deleted by the
    linker. It gathers dead rows at the rate of the calls, which autovacuum takes away a minute
    later at best, and never where it is turned off; meanwhile each of the linker's `ORDER BY id`
    walks past them (305 index pages read to find 12 rows, after 53,000 events). The linker calls
    this every `linker.VACUUM_AFTER` events it chains. `SKIP_LOCKED`: when another process is
    vacuuming the inbox, that vacuum serves. Where the platform's role does not own the table,
    PostgreSQL only warns and vacuums nothing."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(_VACUUM_INBOX)


def pending_events(db: Session) -> int:
    """Events written but not yet chained (`link_inbox`)."""
    return db.scalar(select(func.count()).select_from(_INBOX)) or 0


def _as_utc(value: datetime) -> datetime:
    # Core results bypass the ORM type on some drivers: SQLite returns naive UTC datetimes.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _sign_checkpoint(db: Writes, *, seq: int, chain_hash: str, now: datetime) -> None:
    key = signer()
    db.execute(
        _INSERT_CHECKPOINT,
        {
            "seq": seq,
            "hash": chain_hash,
            "created_at": now,
            "public_key": key.public_key_hex,
            "signature": key.sign(_checkpoint_message(seq, chain_hash, now)),
        },
    )
    db.execute(_SET_CHECKPOINT, {"seq": seq, "at": now})


def checkpoint_now(db: Session) -> AuditCheckpoint | None:
    """Sign the current end of the chain unless it is already signed."""
    head = db.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
    if head.last_seq == 0 or head.last_checkpoint_seq == head.last_seq:
        return None
    _sign_checkpoint(db, seq=head.last_seq, chain_hash=head.last_hash, now=utcnow())
    return db.scalars(select(AuditCheckpoint).where(AuditCheckpoint.seq == head.last_seq)).one()


@dataclass
class Problem:
    seq: int | None
    kind: str
    message: str
    event_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "event_id": self.event_id, "kind": self.kind, "message": self.message}


@dataclass
class VerifyReport:
    ok: bool
    events: int
    checkpoints: int
    checkpoints_verified: int
    last_seq: int
    last_hash: str
    problems: list[Problem] = field(default_factory=list)
    pending: int = 0  # events in the inbox, not yet chained: not a problem, not yet verified

    @property
    def first_broken(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def as_dict(self) -> dict[str, Any]:
        first = self.first_broken
        return {
            "ok": self.ok,
            "events": self.events,
            "checkpoints": self.checkpoints,
            "checkpoints_verified": self.checkpoints_verified,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "pending": self.pending,
            "first_broken": first.as_dict() if first else None,
            "problems": [p.as_dict() for p in self.problems],
        }


MAX_PROBLEMS = 50


def verify_chain(db: Session, *, progress: Any = None) -> VerifyReport:
    """Recompute the whole chain and every checkpoint signature; read-only.

    Detects: an edited field (hash mismatch), a deleted event (sequence gap), an inserted or
    reordered event (sequence or back-link mismatch), a truncated tail (head disagrees), and a
    forged, moved or unsigned checkpoint. `progress(n)` is called every 1000 events.
    """
    problems: list[Problem] = []
    trusted_key = signer().public_key_hex
    checkpoints = {c.seq: c for c in db.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))}
    hashes_at_checkpoints: dict[int, str] = {}

    def note(problem: Problem) -> None:
        if len(problems) < MAX_PROBLEMS:
            problems.append(problem)

    expected_seq = 1
    prev_hash = GENESIS_HASH
    count = 0
    for event in _stream(db):
        count += 1
        if event.seq != expected_seq:
            kind = "gap" if event.seq > expected_seq else "order"
            note(Problem(event.seq, kind, f"expected event #{expected_seq}, found #{event.seq}", event.id))
            expected_seq = event.seq
        if event.prev_hash != prev_hash:
            note(Problem(event.seq, "link", "back-link does not match the previous event's hash", event.id))
        recomputed = event_hash(event.prev_hash, event)
        if recomputed != event.hash:
            note(Problem(event.seq, "hash", "content changed after it was written", event.id))
        if event.seq in checkpoints:
            hashes_at_checkpoints[event.seq] = recomputed
        prev_hash = event.hash
        expected_seq += 1
        if progress is not None and count % 1000 == 0:
            progress(count)

    verified = 0
    for seq, checkpoint in checkpoints.items():
        if checkpoint.public_key != trusted_key:
            note(Problem(seq, "checkpoint_key", "checkpoint signed by a key the platform does not hold"))
        elif not sm2_verify(
            checkpoint.public_key,
            _checkpoint_message(seq, checkpoint.hash, checkpoint.created_at),
            checkpoint.signature,
        ):
            note(Problem(seq, "checkpoint_signature", "checkpoint signature is not valid"))
        elif hashes_at_checkpoints.get(seq) != checkpoint.hash:
            note(Problem(seq, "checkpoint_mismatch", "events up to this signed checkpoint were changed"))
        else:
            verified += 1

    last_seq = expected_seq - 1
    # Checkpoints must be there, not only valid where they are: deleting them would otherwise let
    # whoever can write the database rewrite the chain and its head unnoticed. Appending signs one
    # at the first event and after every `audit_checkpoint_every` (a linked batch may overshoot by
    # its size), so no stretch of the chain goes longer without one.
    allowed = get_settings().audit_checkpoint_every + LINK_BATCH
    if last_seq and not checkpoints:  # the first append signs one
        note(Problem(1, "checkpoint_missing", "the chain has no signed checkpoint (checkpoints deleted?)"))
    elif last_seq:
        bounds = [0, *sorted(checkpoints), last_seq + 1]
        for before, after in pairwise(bounds):
            if after - before > allowed:
                note(
                    Problem(
                        before + 1,
                        "checkpoint_missing",
                        f"events #{before + 1}-#{after - 1} have no signed checkpoint within {allowed} "
                        "events (checkpoints deleted?)",
                    )
                )
    head = db.get(AuditHead, 1)
    if head is not None and (head.last_seq != last_seq or head.last_hash != prev_hash):
        note(Problem(head.last_seq, "head", f"chain ends at #{last_seq}, head says #{head.last_seq}"))
    problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    return VerifyReport(
        ok=not problems,
        events=count,
        checkpoints=len(checkpoints),
        checkpoints_verified=verified,
        last_seq=last_seq,
        last_hash=prev_hash,
        problems=problems,
        pending=pending_events(db),
    )


_CHAIN_COLUMNS = [c for c in AuditEvent.__table__.columns]


def _stream(db: Session) -> Iterator[Any]:
    # Plain rows (not ORM objects, which would pile up in the identity map), ordered by seq and
    # paged by keyset so memory stays flat on long chains.
    last = 0
    while True:
        batch = db.execute(
            select(*_CHAIN_COLUMNS).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(2000)
        ).all()
        if not batch:
            return
        yield from batch
        last = batch[-1].seq


def run_verification(db: Session, *, actor: Actor) -> VerifyReport:
    """Verify the chain for `actor` (auditors only) and record that it was done."""
    require(actor, Action.audit_verify)
    link_pending(db)
    report = verify_chain(db)
    record(
        db,
        EventType.audit_verified,
        actor=actor,
        outcome="success" if report.ok else "failure",
        details={
            "ok": report.ok,
            "events": report.events,
            "first_broken": report.first_broken.as_dict() if report.first_broken else None,
        },
    )
    return report


@dataclass
class AuditQuery:
    actor: str | None = None
    org_id: int | None = None
    event_type: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None


def _aware(value: datetime | None) -> datetime | None:
    """Times given without a zone are China Standard Time, as people on the platform mean them."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone(timedelta(hours=8)))


def _search_stmt(actor: Actor, query: AuditQuery) -> Select[Any]:
    since, until = _aware(query.since), _aware(query.until)
    stmt = select(AuditEvent)
    if scope_of(actor, Action.audit_read) is Scope.own_org:
        # Never `org_id IS NULL`: an actor without an organisation sees nothing, not system events.
        stmt = (
            stmt.where(AuditEvent.org_id == actor.org_id) if actor.org_id is not None else stmt.where(false())
        )
    if query.actor:
        stmt = stmt.where(AuditEvent.actor_name.contains(query.actor))
    if query.org_id is not None:
        stmt = stmt.where(AuditEvent.org_id == query.org_id)
    if query.event_type:
        stmt = stmt.where(AuditEvent.event_type == query.event_type)
    if query.object_type:
        stmt = stmt.where(AuditEvent.object_type == query.object_type)
    if query.object_id:
        stmt = stmt.where(AuditEvent.object_id == query.object_id)
    if query.outcome:
        stmt = stmt.where(AuditEvent.outcome == query.outcome)
    if since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    return stmt


def search(
    db: Session, *, actor: Actor, query: AuditQuery, page: int = 1, page_size: int = 50
) -> tuple[list[AuditEvent], int]:
    """Events matching `query`, newest first, that `actor` may read; the search itself is audited.

    A security officer sees only events of their own organisation.
    """
    require(actor, Action.audit_read)
    link_pending(db)
    stmt = _search_stmt(actor, query)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows: list[AuditEvent] = list(
        db.scalars(stmt.order_by(AuditEvent.seq.desc()).offset((page - 1) * page_size).limit(page_size))
    )
    record(
        db,
        EventType.audit_searched,
        actor=actor,
        details={k: v for k, v in vars(query).items() if v is not None} | {"page": page},
    )
    return rows, total


def daily_counts(db: Session, *, actor: Actor, query: AuditQuery) -> list[tuple[str, int]]:
    """Events per day for the search's filters (for the chart above the results)."""
    require(actor, Action.audit_read)
    sub = _search_stmt(actor, query).subquery()
    day = _beijing_day(db, sub.c.occurred_at)
    rows = db.execute(select(day, func.count()).group_by(day).order_by(day)).all()
    return [(str(d), int(n)) for d, n in rows]


def _beijing_day(db: Session, column: Any) -> Any:
    """The calendar day in China Standard Time (UTC+8, no DST) of a UTC timestamp column."""
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM-DD")
    return func.substr(func.datetime(column, "+8 hours"), 1, 10)
