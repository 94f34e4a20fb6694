"""Real front-end databases for the sync tests: SQLite under the front-end directory, PostgreSQL and
MariaDB on this machine's services (URLs overridable with GOVSHARE_TEST_SOURCE_PG_URL and
GOVSHARE_TEST_MARIADB_URL), each with a table of people."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

from govshare.identifiers import id_number_check_char
from govshare.settings import get_settings

SOURCE_PG = os.environ.get("GOVSHARE_TEST_SOURCE_PG_URL", "postgresql://root@127.0.0.1:5432/test")
SOURCE_MARIADB = os.environ.get("GOVSHARE_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")
T0 = datetime(2026, 11, 1, 8, 0, 0)


def idn(n: int) -> str:
    body = f"130102{19700101 + (n % 28):08d}{n % 1000:03d}"
    return body + id_number_check_char(body)


def person(n: int, minutes: int, *, name: str | None = None, bad: bool = False) -> dict[str, Any]:
    number = idn(n)
    if bad:
        number = number[:17] + ("0" if number[17] != "0" else "1")
    return {
        "rk_id": n,
        "sfzh": number,
        "xm": name or f"人员{n}",
        "xb": "1" if n % 2 else "2",
        "csrq": f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
        "gxsj": T0 + timedelta(minutes=minutes),
    }


MAPPING = {"id_number": "sfzh", "name": "xm", "gender": "xb", "birth_date": "csrq"}
DDL = (
    "CREATE TABLE {t} (rk_id INTEGER PRIMARY KEY, sfzh VARCHAR(18), xm VARCHAR(50), xb VARCHAR(2), "
    "csrq VARCHAR(10), gxsj {ts})"
)


class Source:
    """A real front-end database with one table of people."""

    def __init__(self, url: str, engine_url: str, table: str, ts: str) -> None:
        self.url, self.table = url, table
        self.engine = create_engine(engine_url)
        with self.engine.begin() as conn:
            conn.execute(text(DDL.format(t=table, ts=ts)))

    def insert(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {self.table} (rk_id, sfzh, xm, xb, csrq, gxsj) "
                    "VALUES (:rk_id, :sfzh, :xm, :xb, :csrq, :gxsj)"
                ),
                rows,
            )

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(sql), params)

    def drop(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {self.table}"))
            conn.execute(text(f"DROP TABLE IF EXISTS {self.table}_gone"))
        self.engine.dispose()


def sqlite_source_db() -> Source:
    folder = get_settings().frontdb_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"qzk-{uuid.uuid4().hex[:8]}.db"
    return Source(f"sqlite:///{path}", f"sqlite:///{path}", "rk_jbxx", "TIMESTAMP")


def server_source(base: str, driver: str, ts: str) -> Source:
    table = f"rk_{uuid.uuid4().hex[:10]}"
    url = make_url(base)
    engine_url = url.set(drivername=driver).render_as_string(hide_password=False)
    try:
        return Source(base, engine_url, table, ts)
    except Exception as exc:  # the service is part of the test environment (README): say which is missing
        pytest.fail(f"source database {url.render_as_string()} is not reachable: {exc}")
