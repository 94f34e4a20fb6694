"""The pool hands out the connection returned last; PostgreSQL's pings a connection before use only
when it sat idle (`db._ping_when_idle`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from govshare import db


@pytest.fixture
def pooled(engine: Engine) -> Iterator[Engine]:
    """An engine of one pooled connection to the test database, made as production makes one."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite opens a file, there is no server to drop a connection")
    one = db.make_engine(engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    yield one
    one.dispose()


def test_the_connection_returned_last_is_handed_out_next(engine: Engine) -> None:
    """So a process keeps reusing the few connections it needs at a time (warm backends, warm page
    caches) instead of rotating through the whole pool."""
    several = db.make_engine(engine.url.render_as_string(hide_password=False), pool_size=3, max_overflow=0)
    try:
        first, second = several.raw_connection(), several.raw_connection()
        drivers = first.driver_connection, second.driver_connection
        first.close()
        second.close()  # returned last
        again = several.raw_connection()
        assert again.driver_connection is drivers[1]
        again.close()
    finally:
        several.dispose()
    assert db._in_memory("sqlite://") and db._in_memory("sqlite:///:memory:")
    assert not db._in_memory("sqlite:////tmp/x.db") and not db._in_memory("postgresql+psycopg://h/d")
    db.make_engine("sqlite://").dispose()  # an in-memory pool takes no queue options


def _backend(pooled: Engine) -> int:
    with pooled.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(engine: Engine, pid: int) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        conn.commit()


def test_a_connection_in_use_a_moment_ago_is_not_pinged(
    pooled: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[Any] = []
    real = pooled.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return bool(real(dbapi_connection))

    monkeypatch.setattr(pooled.dialect, "do_ping", counted)
    first = _backend(pooled)  # a new connection: not pinged
    assert _backend(pooled) == first  # returned a moment ago: not pinged either
    assert pings == []
    monkeypatch.setattr(db, "PING_IDLE_AFTER", 0.0)  # every connection counts as idle now
    assert _backend(pooled) == first
    assert len(pings) == 1


def test_an_idle_connection_the_database_dropped_is_replaced_before_use(
    engine: Engine, pooled: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped = _backend(pooled)
    _terminate(engine, dropped)
    monkeypatch.setattr(db, "PING_IDLE_AFTER", 0.0)
    replaced = _backend(pooled)  # the ping failed: the caller got a new connection, and no error
    assert replaced != dropped

    # Without the ping (the connection counts as in use a moment ago), the caller meets the error.
    _terminate(engine, replaced)
    monkeypatch.setattr(db, "PING_IDLE_AFTER", 3600.0)
    with pytest.raises(DBAPIError) as failed:
        _backend(pooled)
    assert failed.value.connection_invalidated
    assert _backend(pooled) not in (dropped, replaced)  # and the pool then opens a new one


def test_the_pool_holds_a_process_s_concurrent_requests_without_reopening_connections(engine: Engine) -> None:
    """Twelve requests at once, three times over, in one process: the connections of the first round
    serve the next two. With SQLAlchemy's default pool of five, seven would be opened and closed
    again in every round (on PostgreSQL, a backend process each)."""
    import threading

    from sqlalchemy import event

    from govshare.settings import get_settings

    settings = get_settings()
    assert settings.db_pool_size >= 12
    production = db.get_engine(settings)  # made with the configured pool, as the server makes it
    assert production.pool.size() == settings.db_pool_size  # type: ignore[attr-defined]
    opened: list[object] = []

    def counted(dbapi_connection: object, _record: object) -> None:
        opened.append(dbapi_connection)

    event.listen(production, "connect", counted)
    reading = db.reading_engine(production)  # read transactions: on SQLite, no write lock to queue for

    def request(together: threading.Barrier) -> None:
        with reading.connect() as conn:
            conn.execute(text("SELECT 1"))
            together.wait(timeout=30)  # all twelve hold a connection at once

    try:
        counts = []
        for _round in range(3):
            together = threading.Barrier(12)
            threads = [threading.Thread(target=request, args=(together,)) for _ in range(12)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not together.broken
            counts.append(len(opened))
        assert counts[0] <= 12 and counts[1] == counts[2] == counts[0]
    finally:
        event.remove(production, "connect", counted)
