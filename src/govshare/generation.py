"""Per-process caches of what authorises a data call, valid while nothing they came from has changed.

Every data API call asks the same questions before it reads a row: whose token is this, may its
department see the resource, which active grant covers the purpose, do the items' levels still allow
it, how is each item masked. The answers come from a few small tables that change a few times a day,
while calls come many times a second; reading them all again took most of a call's time.

The database keeps one value for "those tables as they are now": triggers on each table in `WATCHED`
set `cache_generation.value` to a fresh random value in the very transaction that inserts, updates or
deletes rows there (on `system_tokens`, not when only the last-use columns change). A cache entry is
built from reads that start by reading that value, and is used only by a call whose own read of the
value gives the same: any committed change in between makes every entry miss, and each process reads
the tables again. The value is random, not a counter, so a change that is rolled back can never bring
back a value that entries were built under.

Time is the other thing that ends an answer: callers still check a grant's and a token's validity
against the clock on every call, and entries expire after `MAX_AGE_S` whatever happens.

Only successful answers are cached. Refusals are decided and audited afresh every time.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from govshare.db import Direct, read_memo

# The tables whose rows decide a data call, with the columns that matter where not all of them do.
WATCHED: dict[str, tuple[str, ...] | None] = {
    "organisations": None,
    "business_systems": None,
    "system_tokens": ("system_id", "token_hash", "expires_at", "revoked_at", "revoke_reason"),
    "catalog_classes": None,
    "resources": None,
    "resource_versions": None,
    "classification_levels": None,
    "masking_profiles": None,
    "data_keys": None,
    "grants": None,
}

MAX_AGE_S = 300.0

V = TypeVar("V")
M = TypeVar("M")


def current(db: Session) -> str:
    """The value in this transaction's view of the database: read once in the read phase of a
    reads-first unit (the token's check and the grant's both ask), and on every call elsewhere, where
    the caller's own writes change it."""
    memo = read_memo(db)
    if memo is None:
        return _read(db)
    value = memo.get("generation")
    if value is None:
        value = memo["generation"] = _read(db)
    return value


_CURRENT = text("SELECT value FROM cache_generation WHERE id = 1")


def _read(db: Session) -> str:
    # On the driver's connection: every data call asks (`db.Direct`).
    return str(Direct.of(db).execute(_CURRENT).one()[0])


def renew(db: Session) -> None:
    """A new value, in the caller's transaction, for a change no trigger sees (a store table dropped)."""
    db.execute(text("UPDATE cache_generation SET value = :v WHERE id = 1"), {"v": secrets.token_hex(16)})


class Cache(Generic[V]):
    """A bounded map whose entries are valid under the generation value they were built under, and
    for `MAX_AGE_S`."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._generation: str | None = None
        self._entries: dict[Hashable, tuple[str, float, V]] = {}
        self._lock = threading.Lock()
        _CACHES.append(self)

    def get(self, generation: str, key: Hashable) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != generation or time.monotonic() - entry[1] > MAX_AGE_S:
            return None
        return entry[2]

    def put(self, generation: str, key: Hashable, value: V) -> None:
        with self._lock:
            if generation != self._generation or len(self._entries) >= self.size:
                # Entries of another value are of no more use (or this one is stale): start over.
                self._entries.clear()
                self._generation = generation
            self._entries[key] = (generation, time.monotonic(), value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation = None


_CACHES: list[Cache[Any]] = []
_ON_CLEAR: list[Callable[[], object]] = []


def on_clear(forget: Callable[[], object]) -> None:
    """Have `clear_all` also call `forget` (for per-process memories that are not a `Cache`)."""
    _ON_CLEAR.append(forget)


def clear_all() -> None:
    """Forget every cached answer in this process (after a destruction: nothing cached outlives it)."""
    for cache in _CACHES:
        cache.clear()
    for forget in _ON_CLEAR:
        forget()


def detached(obj: M) -> M:
    """A copy of a loaded model instance's column values that belongs to no session, to keep in a
    cache shared by threads (relationships are not copied)."""
    mapper = inspect(obj).mapper
    copy: M = mapper.class_(**{a.key: getattr(obj, a.key) for a in mapper.column_attrs})
    return copy


# --- schema (used by the migration that creates the table and its triggers) ---------------------


def create_ddl(dialect: str, watched: dict[str, tuple[str, ...] | None]) -> list[str]:
    """Statements that create the table, its one row and a trigger per watched table."""
    statements = [
        "CREATE TABLE cache_generation (id INTEGER NOT NULL PRIMARY KEY, value VARCHAR(36) NOT NULL)",
        "INSERT INTO cache_generation (id, value) VALUES (1, 'initial')",
    ]
    if dialect == "postgresql":
        statements.append(
            "CREATE FUNCTION govshare_new_generation() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN UPDATE cache_generation SET value = gen_random_uuid()::text WHERE id = 1; "
            "RETURN NULL; END $$"
        )
        for table, columns in watched.items():
            update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
            statements.append(
                f"CREATE TRIGGER {table}_generation AFTER INSERT OR {update} OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION govshare_new_generation()"
            )
        return statements
    bump = "UPDATE cache_generation SET value = lower(hex(randomblob(16))) WHERE id = 1;"
    for table, columns in watched.items():
        update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
        for event, suffix in (("INSERT", "ins"), (update, "upd"), ("DELETE", "del")):
            statements.append(
                f"CREATE TRIGGER {table}_generation_{suffix} AFTER {event} ON {table} BEGIN {bump} END"
            )
    return statements


def drop_ddl(dialect: str, watched: dict[str, tuple[str, ...] | None]) -> list[str]:
    if dialect == "postgresql":
        statements = [f"DROP TRIGGER IF EXISTS {t}_generation ON {t}" for t in watched]
        statements.append("DROP FUNCTION IF EXISTS govshare_new_generation()")
    else:
        statements = [
            f"DROP TRIGGER IF EXISTS {t}_generation_{s}" for t in watched for s in ("ins", "upd", "del")
        ]
    return [*statements, "DROP TABLE IF EXISTS cache_generation"]
