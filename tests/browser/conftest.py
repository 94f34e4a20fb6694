"""A live GovShare and a headless Chromium for browser tests.

Each test process (xdist worker) builds its own fresh database, separate from the unit tests' one
(a SQLite file in a temp dir, or `<db>_gs_browser_<worker>` on the PostgreSQL server named by
`GOVSHARE_TEST_DATABASE_URL`), migrates it, loads the demo city through the services and serves the
real app with uvicorn on 127.0.0.1 from a background thread. Requests commit for real, so tests
that change state must use people no other test relies on.

One Chromium per process; every test gets a new browser context (no cookies carried over) and a
page whose requests, console errors and uncaught exceptions are recorded in `watch`.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from sqlalchemy import Engine, create_engine, make_url, text

from govshare.db import make_engine, unit_of_work
from govshare.demo import service as demo
from govshare.migrate import upgrade
from tests.browser.ui import PageWatch

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Short enough that a broken page fails the test quickly, long enough for a loaded CI machine.
TIMEOUT_MS = 10_000


def _fresh_postgres(base: str) -> tuple[str, str]:
    """Recreate this worker's browser database; returns its URL and its name."""
    url = make_url(base)
    name = f"{url.database}_gs_browser_{WORKER}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


def _drop_postgres(base: str, name: str) -> None:
    admin = create_engine(make_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def live_engine() -> Iterator[Engine]:
    """A database of its own, migrated and holding the demo city, committed."""
    base = os.environ.get("GOVSHARE_TEST_DATABASE_URL")
    if base:
        url, pg_name = _fresh_postgres(base)
    else:
        folder = Path(tempfile.mkdtemp(prefix=f"govshare-browser-{WORKER}-"))
        url, pg_name = f"sqlite:///{folder / 'browser.db'}", ""
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(engine) as db:
        demo.load(db, population=0)  # no synthetic rows: the tests push what they need
    yield engine
    engine.dispose()
    if base:
        _drop_postgres(base, pg_name)


@pytest.fixture(scope="session")
def live_server(live_engine: Engine) -> Iterator[str]:
    """Base URL (`http://127.0.0.1:<port>`) of the app served by uvicorn in a background thread."""
    from govshare.web.app import create_app

    app = create_app(engine=live_engine, run_jobs=False)
    # Bind before starting so the port is ours: no race with another worker picking the same one.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn")
    thread.start()
    base = f"http://127.0.0.1:{port}"
    _wait_until_healthy(base, thread)
    yield base
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _wait_until_healthy(base: str, thread: threading.Thread, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    last: object = None
    while time.monotonic() < deadline:
        if not thread.is_alive():
            pytest.fail("the live GovShare server thread stopped during start-up (see captured logs)")
        try:
            response = httpx2.get(f"{base}/healthz", timeout=2)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx2.HTTPError as exc:
            last = exc
        time.sleep(0.05)
    pytest.fail(f"the live GovShare server at {base} did not become healthy: {last}")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium; a missing browser fails (CI installs it), never skips."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: browser tests need Debian's chromium and fonts-noto-cjk. "
            "Run `scripts/ensure-system-packages browser` (or `make test`), then run the tests again."
        )
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    """A fresh browser profile per test, so no session cookie leaks from one test to the next."""
    ctx = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai")
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def page(context: BrowserContext, watch: PageWatch, live_server: str) -> Iterator[Page]:
    """A tab in a fresh context; after the test, any foreign request or unexpected error fails it."""
    tab = context.new_page()
    tab.on("request", watch.on_request)
    tab.on("console", watch.on_console)
    tab.on("pageerror", watch.on_page_error)
    yield tab
    problems = watch.problems(live_server)
    if problems:
        pytest.fail("the page misbehaved:\n" + "\n".join(problems), pytrace=False)
