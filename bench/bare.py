"""The stack's ceiling: the raw baseline's page query served over HTTP, and nothing else.

`python -m bench.bare HOST PORT WORKERS` serves, in WORKERS processes behind `govshare.serving` (the
connections dealt to the workers as `govshare serve` deals them), the ASGI application `app` below:
each request runs the raw baseline's `SELECT` for the `region_code` of its query string on its
worker's one database connection, on the event loop, and answers the rows as JSON. No routing,
middleware, token, grant, masking, audit record, thread hand-off or ORM.

Under the same wrk load as the API, it shows the most that a Python server on this stack (uvicorn,
the same driver, the same two processes) gets out of this machine for the same query. The API's
distance from it is the platform's own work; raw SQL's distance from it is the difference between
16 threads of one process and two processes serving HTTP.

The database and the table come from the environment (`GOVSHARE_BARE_URL`, a SQLAlchemy URL, and
`GOVSHARE_BARE_TABLE`, quoted), as `bench.data_api` sets them. A benchmark instrument, not part of
the platform: it listens on the loopback address only and checks nobody.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from typing import Any
from urllib.parse import parse_qs

import orjson
import psycopg
from sqlalchemy import make_url

from bench.data_api import REGIONS, raw_query

_connection: Any = None
_sql = ""


def _connect() -> tuple[Any, str]:
    """The worker's connection, and the raw query in its driver's parameter style."""
    url, table = make_url(os.environ["GOVSHARE_BARE_URL"]), os.environ["GOVSHARE_BARE_TABLE"]
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database or "", isolation_level=None, check_same_thread=False)
        return connection, raw_query(table, "?")
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(dsn, autocommit=True, prepare_threshold=0), raw_query(table, "%s")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _connection, _sql
    if scope["type"] == "lifespan":
        message = await receive()
        if message["type"] == "lifespan.startup":
            _connection, _sql = _connect()
            await send({"type": "lifespan.startup.complete"})
            await receive()  # shutdown
            _connection.close()
            await send({"type": "lifespan.shutdown.complete"})
        return
    region = parse_qs(scope["query_string"].decode()).get("region_code", [REGIONS[0]])[0]
    rows = _connection.execute(_sql, (region,)).fetchall()
    body = orjson.dumps({"rows": rows}, default=str)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    from govshare import serving

    host, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    options = {"app": "bench.bare:app", "host": host, "port": port, "log_level": "warning"}
    if not serving.Workers(options, workers, serving.bound_socket(host, port)).run():
        raise SystemExit(1)


if __name__ == "__main__":
    main()
