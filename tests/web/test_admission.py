"""The data API's admission: at most N calls of a process at once, the rest in order of arrival."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

from govshare.web.middleware import Admission, give_turn

DATA_API = re.compile(r"/api/v1/resources/\d+/(rows|changes)")


def _run(slots: int, paths: list[str], *, give_up: bool = False) -> tuple[int, list[int]]:
    """The most requests the inner app ran at once, and the order in which they started (with
    `give_up`, each gives up its turn halfway, and runs on)."""
    running = 0
    most = 0
    started: list[int] = []

    async def inner(scope: Any, _receive: Any, _send: Any) -> None:
        nonlocal running, most
        started.append(scope["n"])
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        if give_up:
            give_turn(scope)
            give_turn(scope)  # once is all it gives
            await asyncio.sleep(0.01)
        running -= 1

    admission = Admission(inner, pattern=DATA_API, slots=slots)

    async def main() -> None:
        calls = []
        for n, path in enumerate(paths):
            calls.append(asyncio.create_task(admission({"type": "http", "path": path, "n": n}, None, None)))
            await asyncio.sleep(0)  # they arrive one after another
        await asyncio.gather(*calls)

    # In a thread of its own: the browser tests' driver may hold an event loop in this one.
    runner = threading.Thread(target=asyncio.run, args=(main(),))
    runner.start()
    runner.join(10)
    return most, started


def test_data_api_calls_run_at_most_n_at_once_in_order_of_arrival() -> None:
    most, started = _run(2, [f"/api/v1/resources/{n}/rows" for n in range(8)])
    assert most == 2
    assert started == list(range(8))
    most, _ = _run(1, ["/api/v1/resources/7/changes"] * 4)
    assert most == 1


def test_a_call_that_gave_up_its_turn_runs_on_beside_the_next() -> None:
    most, started = _run(1, [f"/api/v1/resources/{n}/rows" for n in range(6)], give_up=True)
    assert most == 2  # one working, one finishing: never more, however often a turn is given up
    assert started == list(range(6))
    give_turn({"type": "http", "path": "/catalog"})  # not admitted: nothing to give up


def test_other_routes_are_not_held_back() -> None:
    most, _ = _run(1, ["/api/v1/resources/7", "/catalog", "/api/v1/resources/7/batches", "/healthz"])
    assert most == 4


def test_the_setting_reaches_the_app(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from govshare.settings import Settings
    from govshare.web.app import create_app

    monkeypatch.setenv("GOVSHARE_DATA_API_CONCURRENCY", "3")
    app = create_app(Settings(), run_jobs=False)
    found = [m for m in app.user_middleware if m.cls is Admission]
    assert len(found) == 1 and found[0].kwargs["slots"] == 3
    assert found[0].kwargs["pattern"].fullmatch("/api/v1/resources/12/rows")


def test_admission_covers_exactly_the_data_routes() -> None:
    """The admission's path pattern and the routes marked `@own_unit` (the data API) must not drift
    apart: every such route is admitted in turn, and no other route is held back."""
    from govshare.settings import Settings
    from govshare.web.app import create_app
    from govshare.web.deps import has_own_unit
    from tests.web.test_routes import _api_routes

    app = create_app(Settings(), run_jobs=False)
    pattern = next(m for m in app.user_middleware if m.cls is Admission).kwargs["pattern"]
    held = {}
    for route in _api_routes(app):
        sample = re.sub(r"\{[^}]+\}", "12", route.path)
        held[route.path] = (bool(pattern.fullmatch(sample)), has_own_unit(route.endpoint))
    assert sum(marked for _, marked in held.values()) == 2
    assert {path: h for path, h in held.items() if h[0] != h[1]} == {}
