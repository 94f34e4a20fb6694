"""Fixtures of the exchange tests: real front-end databases (see `frontdb`) and demo objects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.systems.models import BusinessSystem
from tests.conftest import settings_override
from tests.exchange.frontdb import SOURCE_MARIADB, SOURCE_PG, Source, server_source, sqlite_source_db


@pytest.fixture(autouse=True)
def local_sources_allowed() -> Iterator[None]:
    """The test databases run on this machine, which a sync source may not be by default."""
    with settings_override(sync_allowed_networks='["127.0.0.0/8", "::1/128"]'):
        yield


@pytest.fixture
def sqlite_source() -> Iterator[Source]:
    source = sqlite_source_db()
    yield source
    source.engine.dispose()


@pytest.fixture
def pg_source() -> Iterator[Source]:
    source = server_source(SOURCE_PG, "postgresql+psycopg", "TIMESTAMP")
    yield source
    source.drop()


@pytest.fixture
def mariadb_source() -> Iterator[Source]:
    source = server_source(SOURCE_MARIADB, "mysql+pymysql", "DATETIME")
    yield source
    source.drop()


@pytest.fixture
def population(db: Session) -> Resource:
    resource = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert resource is not None
    return resource


@pytest.fixture
def hukou(db: Session) -> BusinessSystem:
    system = db.scalar(select(BusinessSystem).where(BusinessSystem.code == "police-hukou"))
    assert system is not None
    return system
