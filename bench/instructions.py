"""What one data API call and one raw query cost in machine instructions, as valgrind counts them.

Rates and CPU times on these shared machines move by a third within minutes and by half between
hours, so a change worth 5 % cannot be told from the noise by timing it. Instructions executed are
another matter: `valgrind --tool=callgrind` counts them whatever else the machine is doing, and the
same build makes the same count to within a fraction of a percent. So next to the timed runs, this
counts, in one Python process each:

- **API**: `n` calls of the data API's page (the benchmark's request, in turn over the nine
  districts) sent straight into the platform's ASGI application: every middleware, the routing,
  the token check, the hand-off to a worker thread, the grant, the query, masking, the audit
  events and the use record committed, the JSON body. Not counted: uvicorn's HTTP parsing and
  socket work (the `/healthz` floor of the timed runs covers those), and on PostgreSQL the work of
  the database's own processes.
- **raw**: `n` of the raw baseline's `SELECT`s on one connection, rows fetched, as the timed runs do.

Each is run twice, with `small` and `large` calls, and the per-call figure is the difference over
`large - small` calls: the interpreter's start, the imports and the first calls' cache fills
cancel out. The two kinds run side by side, one per core (valgrind runs a program on one core).

`python -m bench.instructions api|raw N` is what runs under valgrind; `count()` starts it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SMALL, LARGE = 20, 80


def available() -> bool:
    return shutil.which("valgrind") is not None


def count(url: str, workdir: Path, token: str, resource_id: int) -> dict[str, float]:
    """Instructions per API call and per raw query (millions), and their ratio."""
    env = {
        **os.environ,
        "GOVSHARE_DATABASE_URL": url,
        "GOVSHARE_DATA_DIR": str(workdir),
        "GOVSHARE_RUN_JOBS": "false",
        "GOVSHARE_BENCH_TOKEN": token,
        "GOVSHARE_BENCH_RESOURCE": str(resource_id),
        "PYTHONHASHSEED": "0",  # the same hashing, so the same dict and set work, in every run
    }
    runs = [(kind, n) for n in (SMALL, LARGE) for kind in ("api", "raw")]
    with ThreadPoolExecutor(2) as pool:
        counted = dict(zip(runs, pool.map(lambda run: _instructions(env, *run), runs), strict=True))
    per_call = {
        kind: (counted[kind, LARGE] - counted[kind, SMALL]) / (LARGE - SMALL) for kind in ("api", "raw")
    }
    return {
        "api_instructions_m": per_call["api"] / 1e6,
        "raw_instructions_m": per_call["raw"] / 1e6,
        "api_to_raw_instructions": per_call["api"] / per_call["raw"],
    }


def _instructions(env: dict[str, str], kind: str, n: int) -> int:
    with tempfile.TemporaryDirectory(prefix="govshare-callgrind-") as tmp:
        done = subprocess.run(
            [  # noqa: S607 (valgrind from the PATH, as `available` found it)
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/callgrind.out",
                sys.executable,
                "-m",
                "bench.instructions",
                kind,
                str(n),
            ],
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind of {kind} × {n} failed: {done.stderr[-2000:]}")
    return int(found.group(1))


def _api_calls(n: int) -> None:
    from bench.data_api import _paths
    from govshare.web.app import create_app

    app = create_app()
    paths = _paths(int(os.environ["GOVSHARE_BENCH_RESOURCE"]))
    bearer = f"Bearer {os.environ['GOVSHARE_BENCH_TOKEN']}".encode()
    headers = [(b"host", b"127.0.0.1"), (b"authorization", bearer)]

    async def call(target: str) -> None:
        path, _, query = target.partition("?")
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        if sent[0]["status"] != 200:
            raise RuntimeError(f"API answered {sent[0]['status']}: {sent[1].get('body', b'')[:200]!r}")

    async def calls() -> None:
        async with app.router.lifespan_context(app):
            for i in range(n):
                await call(paths[i % len(paths)])

    asyncio.run(calls())


def _raw_queries(n: int) -> None:
    from bench.data_api import _raw_run, _raw_sql
    from govshare.db import get_engine

    engine = get_engine()
    _raw_run(engine, _raw_sql(engine, int(os.environ["GOVSHARE_BENCH_RESOURCE"])), n, 0, [])


if __name__ == "__main__":
    kind, calls = sys.argv[1], int(sys.argv[2])
    (_api_calls if kind == "api" else _raw_queries)(calls)
