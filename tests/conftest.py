"""Test infrastructure.

The database is migrated once per test process (SQLite file by default, or a PostgreSQL database
per xdist worker derived from `GOVSHARE_TEST_DATABASE_URL`) and the demo city is loaded into it
through the services, committed; every test runs inside a transaction
that is rolled back at the end, so tests never see each other's data. The app under test uses that
same transaction for its requests (commits become savepoint releases).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session

from govshare.authz import Actor
from govshare.db import SessionFactory, dispose_engines, make_engine, reads_first, transaction
from govshare.migrate import upgrade
from govshare.settings import get_settings
from govshare.users import passwords

# argon2id at its lowest cost in the test processes. Nearly every test logs people in, and the
# production profile (about a tenth of a second per verification, by design) would spend minutes of
# each CI pass hashing. Algorithm, code paths and rehash-on-login stay the same; the CLI, servers
# run as processes and the acceptance checks keep the production profile.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
passwords._DUMMY_HASH = passwords._hasher.hash("govshare-timing-equaliser")

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_DATA_DIR = Path(tempfile.mkdtemp(prefix=f"govshare-test-{WORKER}-"))
os.environ["GOVSHARE_DATA_DIR"] = str(_DATA_DIR)
os.environ.pop("GOVSHARE_ENV", None)
os.environ.pop("GOVSHARE_DATABASE_URL", None)
get_settings.cache_clear()


# Modules that never touch the database under test — pure functions, documents, or the CLI and the
# server run as processes on a SQLite data directory of their own — run in the SQLite pass only: the
# PostgreSQL pass would run the very same code again. A module listed here that asks for a database
# fixture is an error, so the list cannot hide a test that needs PostgreSQL.
NO_DATABASE = frozenset(
    {
        "tests/analysis/test_risk.py",
        "tests/demo/test_data.py",
        "tests/masking/test_profiles.py",
        "tests/masking/test_rules.py",
        "tests/protection/test_policy.py",
        "tests/security/test_tls.py",
        "tests/sharing/test_rowids.py",
        "tests/test_authz.py",
        "tests/test_cli.py",
        "tests/test_compliance_map.py",
        "tests/test_crypto.py",
        "tests/test_serving.py",
        "tests/test_identifiers.py",
        "tests/test_security_map.py",
        "tests/test_settings.py",
        "tests/test_workdays.py",
        "tests/web/test_admission.py",
    }
)
DATABASE_FIXTURES = frozenset(
    {"engine", "db", "app", "client", "city", "demo_city", "live_engine", "live_server"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.split("::")[0] in NO_DATABASE and DATABASE_FIXTURES & set(
            getattr(item, "fixturenames", ())
        ):
            raise pytest.UsageError(f"{item.nodeid} uses the database: remove its module from NO_DATABASE")
    if not os.environ.get("GOVSHARE_TEST_DATABASE_URL"):
        return
    kept = [i for i in items if i.nodeid.split("::")[0] not in NO_DATABASE]
    config.hook.pytest_deselected(items=[i for i in items if i.nodeid.split("::")[0] in NO_DATABASE])
    items[:] = kept


def _postgres_url(base: str, tag: str = "gs") -> str:
    """A fresh database for this worker (and process: runs may overlap) on the server of `base`;
    tests that need databases of their own give another `tag`."""
    url = make_url(base)
    name = f"{url.database}_{tag}_{WORKER}_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    target = make_url(url)
    base = os.environ["GOVSHARE_TEST_DATABASE_URL"]
    admin = create_engine(make_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def database_url() -> str:
    base = os.environ.get("GOVSHARE_TEST_DATABASE_URL")
    if base:
        return _postgres_url(base)
    return f"sqlite:///{_DATA_DIR / 'test.db'}"


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The test database: migrated and loaded with the demo city once per test process."""
    url = database_url()
    os.environ["GOVSHARE_DATABASE_URL"] = url
    get_settings.cache_clear()
    eng = make_engine(url)
    upgrade(eng)
    yield eng
    eng.dispose()
    dispose_engines()
    if eng.url.get_backend_name() == "postgresql":
        _drop_database(url)


@pytest.fixture(scope="session")
def demo_city(engine: Engine):  # type: ignore[no-untyped-def]
    from govshare.db import unit_of_work
    from govshare.demo import service as demo

    with unit_of_work(engine) as session:
        # No synthetic rows: tests push the rows they need (the CLI test loads a small city with rows).
        return demo.load(session, population=0)


@pytest.fixture(autouse=True)
def _nothing_kept_from_other_tests() -> None:
    """Each test starts with empty per-process caches (govshare.generation): tests roll back, and a
    store table one test created is not there in the next."""
    from govshare import generation

    generation.clear_all()


@pytest.fixture
def db(engine: Engine, demo_city) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    """A session whose every commit is a savepoint inside a transaction rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    session = SessionFactory(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def app(engine: Engine, db: Session):  # type: ignore[no-untyped-def]
    return app_within(engine, db)


def app_within(engine: Engine, db: Session):  # type: ignore[no-untyped-def]
    """The application, its every unit of work inside the test's transaction of `db`."""
    from govshare.web.app import create_app

    application = create_app(engine=engine, run_jobs=False)
    application.state.unit_of_work = lambda: transaction(db)
    application.state.reads_first = lambda deferred=None, inline=False: reads_first(
        engine, within=db, deferred=deferred, inline=inline
    )
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, client=("127.0.0.1", 50000)) as c:
        yield c


@pytest.fixture
def operator() -> Actor:
    return Actor.operator("cli:test")


@pytest.fixture
def city(demo_city, db: Session):  # type: ignore[no-untyped-def]
    """The demo city (built once per test process through the services; see `demo_city`).

    Every test sees it, since `db` depends on it; name `city` in a test that relies on it.
    """
    return demo_city


@contextlib.contextmanager
def settings_override(**values: object) -> Iterator[None]:
    """Temporarily set `GOVSHARE_*` settings for code that reads `get_settings()`."""
    saved = {k: os.environ.get(f"GOVSHARE_{k.upper()}") for k in values}
    for key, value in values.items():
        os.environ[f"GOVSHARE_{key.upper()}"] = str(value)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(f"GOVSHARE_{key.upper()}", None)
            else:
                os.environ[f"GOVSHARE_{key.upper()}"] = value
        get_settings.cache_clear()
