"""What a data call keeps between calls (govshare.generation): the token and the reading under a
grant are read once, and any change to what decides a call ends them at once."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, inspect, select, text, update

from govshare import generation
from govshare.authz import Actor
from govshare.catalog.models import Resource
from govshare.db import Direct, utcnow
from govshare.masking.models import MaskingProfile
from govshare.sharing.models import Grant
from govshare.systems import service as systems
from govshare.systems.models import BusinessSystem, SystemToken
from govshare.systems.schemas import SystemUpdate
from tests.sharing.test_rows import civil_system, granted, loaded, rows


@contextmanager
def statements(db) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """The SQL the test's connection runs inside the block: through SQLAlchemy, and directly on the
    driver's connection (`db.Direct`: the cache generation, the page, the write phase)."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    def direct(self, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(str(statement.compile(dialect=self.dialect)))
        return execute(self, statement, *args)

    connection = db.connection()
    execute = Direct.execute
    event.listen(connection, "before_cursor_execute", note)
    Direct.execute = direct  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        Direct.execute = execute  # type: ignore[method-assign]
        event.remove(connection, "before_cursor_execute", note)


def system_token(db) -> tuple[BusinessSystem, dict[str, str]]:  # type: ignore[no-untyped-def]
    system, token, _row = civil_system(db)
    return system, {"Authorization": f"Bearer {token}"}


def test_a_second_call_reads_neither_the_token_nor_the_grant_again(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["id_number", "region_code"])
    _system, headers = system_token(db)
    first = rows(client, population, headers, region_code="130102")
    assert first.status_code == 200 and len(first.json()["rows"]) == 2
    with statements(db) as seen:
        again = rows(client, population, headers, region_code="130102")
    assert again.json()["rows"] == first.json()["rows"]
    reads = " ".join(s for s in seen if s.lstrip().upper().startswith("SELECT"))
    assert "cache_generation" in reads
    for table in (
        "system_tokens",
        "grants",
        "resource_versions",
        "masking_profiles",
        "classification_levels",
    ):
        assert f"FROM {table}" not in reads, table
    # What every call still writes: the audit events of the token's use and the delivery, and the use
    # record (the token's last use was written by the first call, and is not again within a minute).
    writes = " ".join(s for s in seen if not s.lstrip().upper().startswith("SELECT"))
    assert "audit_events" in writes and "data_uses" in writes
    assert "system_tokens" not in writes


def test_each_change_that_decides_a_call_takes_effect_on_the_next_one(client, city, db) -> None:
    population = loaded(client, db)
    grant = granted(client, population, ["id_number", "name", "region_code"])
    system, headers = system_token(db)
    operator = Actor.operator("test")
    assert rows(client, population, headers).status_code == 200  # the reading is kept from here on

    db.execute(update(Grant).where(Grant.id == grant["id"]).values(status="suspended"))
    db.flush()
    refused = rows(client, population, headers)
    assert refused.status_code == 403 and refused.json()["error"]["details"]["reason"] == "no_grant"
    db.execute(update(Grant).where(Grant.id == grant["id"]).values(status="active"))
    db.flush()
    assert rows(client, population, headers).status_code == 200

    # The Bureau changes the default masking profile: names arrive nullified from the next call.
    profile = db.scalar(select(MaskingProfile).where(MaskingProfile.code == "standard"))
    assert profile is not None
    before = {r["name"] for r in rows(client, population, headers).json()["rows"]}
    assert any(name and "*" in name for name in before)
    levels = copy.deepcopy(profile.levels)
    for level in levels.values():
        level["name"] = "nullify"
    profile.levels = levels
    db.flush()
    assert {r["name"] for r in rows(client, population, headers).json()["rows"]} == {None}

    # The system's allowed addresses, then the system itself, then its token.
    systems.update_system(
        db,
        actor=operator,
        system_id=system.id,
        data=SystemUpdate(version=system.version, allowed_cidrs=["10.0.0.0/8"]),
    )
    assert rows(client, population, headers).status_code == 403
    db.refresh(system)
    systems.update_system(
        db,
        actor=operator,
        system_id=system.id,
        data=SystemUpdate(version=system.version, allowed_cidrs=["127.0.0.0/8"], is_active=False),
    )
    assert rows(client, population, headers).status_code == 401
    db.refresh(system)
    systems.update_system(
        db, actor=operator, system_id=system.id, data=SystemUpdate(version=system.version, is_active=True)
    )
    assert rows(client, population, headers).status_code == 200
    token = db.scalar(select(SystemToken).where(SystemToken.system_id == system.id))
    assert token is not None
    systems.revoke_token(db, actor=operator, system_id=system.id, token_id=token.id)
    assert rows(client, population, headers).status_code == 401


def test_a_grant_that_runs_out_by_the_clock_is_refused_though_nothing_changed(
    client, city, db, monkeypatch
) -> None:
    population = loaded(client, db)
    grant = granted(client, population, ["id_number", "region_code"])
    civil_headers = system_token(db)[1]
    assert rows(client, population, civil_headers).status_code == 200
    valid_until = db.get(Grant, grant["id"]).valid_until  # type: ignore[union-attr]
    later = valid_until + timedelta(seconds=1)
    monkeypatch.setattr("govshare.sharing.rows.utcnow", lambda: later)
    monkeypatch.setattr("govshare.sharing.service.utcnow", lambda: later)
    refused = rows(client, population, civil_headers)
    assert refused.status_code == 403 and refused.json()["error"]["details"]["reason"] == "no_grant"


def test_a_token_that_expires_by_the_clock_is_refused_though_it_was_kept(
    client, city, db, monkeypatch
) -> None:
    population = loaded(client, db)
    granted(client, population, ["id_number", "region_code"])
    system, headers = system_token(db)
    assert rows(client, population, headers).status_code == 200
    token = db.scalar(select(SystemToken).where(SystemToken.system_id == system.id))
    assert token is not None
    after = token.expires_at + timedelta(seconds=1)
    monkeypatch.setattr("govshare.systems.service.utcnow", lambda: after)
    assert rows(client, population, headers).status_code == 401


def test_every_watched_table_renews_the_generation_and_a_tokens_last_use_does_not(city, db) -> None:
    names = inspect(db.connection()).get_table_names()
    assert set(generation.WATCHED) <= set(names)
    if db.get_bind().dialect.name == "postgresql":
        found = set(
            db.scalars(
                text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE '%_generation'")
            )
        )
        assert found == {f"{t}_generation" for t in generation.WATCHED}
    else:
        found = set(db.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        assert {f"{t}_generation_{s}" for t in generation.WATCHED for s in ("ins", "upd", "del")} <= found

    seen = {generation.current(db)}
    resource = db.scalar(select(Resource).limit(1))
    assert resource is not None
    resource.name = resource.name + "（改）"
    db.flush()
    seen.add(generation.current(db))
    token = db.scalar(select(SystemToken).limit(1))
    if token is None:
        system_token(db)
        token = db.scalar(select(SystemToken).limit(1))
        assert token is not None
        seen.add(generation.current(db))
    kept = generation.current(db)
    token.last_used_at, token.last_used_ip = utcnow(), "127.0.0.1"
    db.flush()
    assert generation.current(db) == kept  # every call writes these: they must not end what is kept
    token.revoked_at = utcnow()
    db.flush()
    seen.add(generation.current(db))
    assert len(seen) >= 3  # each change gave a value never seen before


def test_an_entry_is_used_only_under_the_value_it_was_built_under() -> None:
    cache: generation.Cache[str] = generation.Cache(size=2)
    cache.put("a", "k", "v")
    assert cache.get("a", "k") == "v"
    assert cache.get("b", "k") is None
    cache.put("b", "k2", "w")  # another value: the entries built under "a" are gone
    assert cache.get("a", "k") is None and cache.get("b", "k2") == "w"
    cache.put("b", "k3", "x")
    cache.put("b", "k4", "y")  # full: starts over rather than grow
    assert cache.get("b", "k4") == "y" and cache.get("b", "k2") is None
    generation.clear_all()
    assert cache.get("b", "k4") is None


@pytest.mark.parametrize("age", [generation.MAX_AGE_S + 1])
def test_entries_expire_with_age_whatever_happens(monkeypatch, age: float) -> None:
    import time

    cache: generation.Cache[str] = generation.Cache()
    start = time.monotonic()
    monkeypatch.setattr(generation.time, "monotonic", lambda: start)
    cache.put("a", "k", "v")
    monkeypatch.setattr(generation.time, "monotonic", lambda: start + age)
    assert cache.get("a", "k") is None


def test_the_page_size_is_written_into_the_page_statement(client, city, db) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL keeps the plan of a prepared statement with a fixed LIMIT; with the LIMIT a
    parameter it plans every execution afresh (rows._fixed)."""
    population = loaded(client, db)
    granted(client, population, ["id_number", "region_code"])
    _system, headers = system_token(db)
    with statements(db) as seen:
        assert rows(client, population, headers, limit=3).status_code == 200
        assert rows(client, population, headers, limit=3, region_code="130102").status_code == 200
    pages = [s for s in seen if "ORDER BY" in s and "_key" in s]
    assert len(pages) == 2 and all(re.search(r"\bLIMIT 4\b", s) for s in pages), pages
