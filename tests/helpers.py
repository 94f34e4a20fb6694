"""Helpers shared by tests: log in through the real API, find demo objects."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from govshare.auth import service as auth
from govshare.authz import Actor
from govshare.demo.city import DEMO_PASSWORD
from govshare.orgs.models import Organisation
from govshare.users.models import User


def bearer(token: str) -> dict[str, str]:
    """Headers that present `token` (a person's or a business system's) to the API."""
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    """Bearer headers for `username`, obtained through POST /api/v1/auth/login."""
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def actor(db: Session, username: str) -> Actor:
    user = db.scalar(select(User).where(User.username == username))
    assert user is not None, username
    return auth.actor_for(db, user, ip="127.0.0.1")


def user_id(db: Session, username: str) -> int:
    user = db.scalar(select(User).where(User.username == username))
    assert user is not None, username
    return user.id


def org(db: Session, code: str) -> Organisation:
    found = db.scalar(select(Organisation).where(Organisation.code == code))
    assert found is not None, code
    return found


@contextlib.contextmanager
def own_database(directory: Path, tag: str) -> Iterator[Engine]:
    """A database of its own with the demo city committed in it (no population rows), for tests of
    what commits and closes as the server does: a PostgreSQL database named with `tag` when the
    suite runs on PostgreSQL (dropped at the end), else a SQLite file in `directory`."""
    from govshare.db import make_engine, unit_of_work
    from govshare.demo import service as demo
    from govshare.migrate import upgrade
    from tests.conftest import _drop_database, _postgres_url

    base = os.environ.get("GOVSHARE_TEST_DATABASE_URL")
    url = _postgres_url(base, tag) if base else f"sqlite:///{directory / f'{tag}.db'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        with unit_of_work(engine) as session:
            demo.load(session, population=0)
        yield engine
    finally:
        engine.dispose()
        if base:
            _drop_database(url)


def race(
    engine: Engine,
    monkeypatch: Any,
    where: Any,
    name: str,
    *works: Callable[[Session], Any],
) -> list[Any]:
    """Run each work in a unit of work of its own, in threads, all held at their first call of
    `where.name` until every one has reached it (at most 3 s); returns each result or exception."""
    barrier = threading.Barrier(len(works), timeout=3)
    original = getattr(where, name)
    local = threading.local()

    def held(*args: Any, **kwargs: Any) -> Any:
        if not getattr(local, "waited", True):
            local.waited = True
            # SQLite: the other one waits for our commit, and the barrier times out.
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(where, name, held)
    outcomes: list[Any] = [None] * len(works)

    def run(i: int, work: Callable[[Session], Any]) -> None:
        local.waited = False
        try:
            from govshare.db import unit_of_work

            with unit_of_work(engine) as db:
                outcomes[i] = work(db)
        except BaseException as exc:  # reported to the test
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(works)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    monkeypatch.setattr(where, name, original)
    return outcomes
