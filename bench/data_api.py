"""The data API under a grant vs the same query in raw SQL, serially and at 16 concurrent clients.

A population resource holds `rows` rows (ingested as the ingest benchmark does, or reused when that
benchmark already filled it in this database); its provider declares 公民身份号码 and 行政区划代码
查询项, so the store indexes them. A consuming department's business system holds an unconditional
grant with the default masking profile. Each request asks for a page of 100 rows filtered on
行政区划代码 (one of nine districts, in turn):

- **raw SQL**: `SELECT <items> FROM <store table> WHERE region_code = ? AND _retired_at IS NULL
  ORDER BY _key LIMIT 100`, rows fetched, on connections of the same engine: serially on one, then
  from `clients` threads with one connection each for `seconds`, connected and warmed up before the
  clock starts, as the API's connections are (`_RawLoad`);
- **API**: `GET /api/v1/resources/{id}/rows?purpose=…&region_code=…&limit=100` with the system's
  token, against `govshare serve` in its own process (`--workers`), so the full path is measured:
  token check, grant lookup for the purpose, the query, masking every value, the audit events and
  the use record committed before the answer, JSON. Serially on one keep-alive connection, then
  from `clients` threads with one keep-alive connection each.

Reported: requests/s of both, serially and concurrently, their ratios, and the API's latency
percentiles under the concurrent load; then the floor of the stack, `/healthz` (one `SELECT 1`)
through the same server and client, serially and concurrently; then, under wrk, the stack's
ceiling: the raw query served over HTTP by the same server stack and nothing else (`bench/bare.py`).

Also, on Linux, what one call costs in CPU under the concurrent load: in the server's processes, in
the database's (PostgreSQL's backends serving the benchmark's database; SQLite runs inside the
server) and in the load generator; likewise one raw query and one `/healthz`. Rates on a shared
2-core machine move by a third within minutes; CPU per call moves far less, so it is the figure to
compare when judging a change. Steadier still: with valgrind installed, the machine instructions of
one call and of one raw query, counted in a process of their own (`bench/instructions.py`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine, select, text

PURPOSE = "基准测试：最低生活保障对象资格核查"
REGIONS = ["130102", "130104", "130105", "130108", "130109", "130110", "130111", "130121", "130123"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _population(engine: Engine, rows: int, workdir: Path) -> int:
    """The benchmark's population resource with `rows` rows (created and ingested if missing)."""
    from bench.ingest import _setup, write_csv
    from govshare.authz import Actor
    from govshare.catalog.models import Resource
    from govshare.db import unit_of_work
    from govshare.exchange.body import BatchRequest, from_file
    from govshare.exchange.ingest import ingest

    with engine.connect() as conn:
        found = conn.execute(select(Resource.id).where(Resource.code == "901/000001")).scalar()
    if found is not None:
        return int(found)
    resource_id = _setup(engine)
    path = workdir / "population.csv"
    write_csv(path, rows)
    with path.open("rb") as f, unit_of_work(engine) as db:
        ingest(
            db,
            actor=Actor.operator("bench"),
            req=BatchRequest(
                resource_id=resource_id, body=from_file(f), content_type="text/csv", source="cli"
            ),
        )
    path.unlink()
    return resource_id


def _declare_query_items(engine: Engine, resource_id: int, names: set[str]) -> str:
    """Declare `names` the resource's 查询项, as its provider would, and build their indexes (which
    ingest would do with the next batch)."""
    from govshare.catalog.models import Resource, ResourceVersion
    from govshare.db import unit_of_work
    from govshare.exchange import store

    with unit_of_work(engine) as db:
        resource = db.get(Resource, resource_id)
        assert resource is not None and resource.published_version_id is not None
        version = db.get(ResourceVersion, resource.published_version_id)
        assert version is not None
        version.items = [{**i, "queryable": i["name"] in names} for i in version.items]
        table = store.table_for(db, resource_id, version.items)
        store.ensure_query_indexes(db, table, version.items)
        store.analyze(db, table)
        return str(engine.dialect.identifier_preparer.format_table(table))


def _vacuumed(engine: Engine, table: str) -> None:
    """On PostgreSQL, vacuum the freshly loaded table now, as autovacuum would do soon after: not
    while the measurements run, taking CPU from them. (A table in service is vacuumed routinely.)"""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM (ANALYZE) {table}"))


def _consumer(engine: Engine, resource_id: int) -> str:
    """A consuming department, its business system's token and an unconditional grant for PURPOSE."""
    from bench.ingest import department
    from govshare.authz import Actor
    from govshare.catalog.models import Resource, ResourceVersion
    from govshare.db import unit_of_work, utcnow
    from govshare.sharing.models import Grant, ShareRequest
    from govshare.systems import service as systems
    from govshare.systems.schemas import SystemCreate
    from govshare.workdays import today

    now = utcnow()
    with unit_of_work(engine) as db:
        resource = db.get(Resource, resource_id)
        assert resource is not None and resource.published_version_id is not None
        version = db.get(ResourceVersion, resource.published_version_id)
        assert version is not None
        provider, names = resource.org_id, [i["name"] for i in version.items]
        org = department(db, "benchcivil", "基准民政局", "民政", "11130100000103580")
        _system, token, _row = systems.create_system(
            db,
            actor=Actor.operator("bench"),
            data=SystemCreate(
                org_id=org, code="bench-assist", name="基准救助系统", allowed_cidrs=["127.0.0.0/8"]
            ),
        )
        request = ShareRequest(
            resource_id=resource_id,
            provider_org_id=provider,
            org_id=org,
            route="unconditional",
            items=names,
            purpose=PURPOSE,
            basis="基准",
            duration_days=30,
            filed_on=today(),
            status="granted",
        )
        db.add(request)
        db.flush()
        db.add(
            Grant(
                request_id=request.id,
                resource_id=resource_id,
                provider_org_id=provider,
                org_id=org,
                items=names,
                purpose=PURPOSE,
                basis="基准",
                valid_until=now + timedelta(days=30),
                status="active",
            )
        )
    return token


def _store_table(engine: Engine, resource_id: int) -> str:
    """The quoted name of the resource's store table."""
    from sqlalchemy.orm import Session

    from govshare.exchange import store

    with engine.connect() as conn:
        table = store.table_for(Session(bind=conn), resource_id, [])
    return f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'


def raw_query(table: str, placeholder: str) -> str:
    """The raw baseline's page query on the quoted `table`, with `placeholder` for the district
    (the items the API delivers too, masked, with its row id)."""
    return (
        "SELECT _key, id_number, name, gender, birth_date, mobile, address, region_code "
        f"FROM {table} WHERE region_code = {placeholder} AND _retired_at IS NULL ORDER BY _key LIMIT 100"
    )


def _raw_sql(engine: Engine, resource_id: int) -> Any:
    return text(raw_query(_store_table(engine, resource_id), ":r"))


def _raw_run(engine: Engine, sql: Any, n: int, offset: int, out: list[float]) -> None:
    """`n` raw page queries on one connection of its own, in a read transaction (no write lock on
    SQLite); their latencies go to `out`."""
    from govshare.db import reading_engine

    with reading_engine(engine).connect() as conn:
        for i in range(5):  # warm up
            conn.execute(sql, {"r": REGIONS[i % 9]}).all()
        for i in range(n):
            start = time.perf_counter()
            assert len(conn.execute(sql, {"r": REGIONS[(i + offset) % 9]}).all()) == 100
            out.append(time.perf_counter() - start)


class _RawLoad:
    """`clients` threads sending the raw page query, each on a connection of its own, measured in
    the steady state as wrk measures the API: every connection is opened and its first queries run
    before the clock starts, and the clock stops after a set time, not when the slowest thread
    ends its share. (Counting a fixed number of queries from the threads' start, as the rounds
    before 2026-11-29 22:30 did, put 16 connections' set-up and the last threads' tail inside the
    measurement, and understated raw SQL's rate by a sixth to a fifth.)"""

    def __init__(self, engine: Engine, sql: Any, clients: int) -> None:
        self.engine, self.sql = engine, sql
        self.start = threading.Barrier(clients + 1)
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.failed: list[BaseException] = []
        self.threads = [threading.Thread(target=self._client, args=(c,)) for c in range(clients)]
        for thread in self.threads:
            thread.start()

    def _client(self, offset: int) -> None:
        from govshare.db import reading_engine

        try:
            with reading_engine(self.engine).connect() as conn:
                for i in range(5):  # warm up
                    conn.execute(self.sql, {"r": REGIONS[(i + offset) % 9]}).all()
                self.start.wait()
                i = offset
                while not self.stop.is_set():
                    began = time.perf_counter()
                    assert len(conn.execute(self.sql, {"r": REGIONS[i % 9]}).all()) == 100
                    if not self.stop.is_set():  # a query that ended after the clock stopped is not counted
                        self.latencies.append(time.perf_counter() - began)
                    i += 1
        except threading.BrokenBarrierError:
            return
        except BaseException as exc:  # reported by `run`, which would otherwise wait for this thread
            self.failed.append(exc)
            self.start.abort()

    def run(self, seconds: float) -> Load:
        """Release the connected threads, stop them after `seconds`; what they did meanwhile."""
        with contextlib.suppress(threading.BrokenBarrierError):  # a client failed: reported below
            self.start.wait()
        began = time.perf_counter()
        if not self.failed:
            time.sleep(seconds)
        self.stop.set()
        elapsed = time.perf_counter() - began
        for thread in self.threads:
            thread.join()
        if self.failed:
            raise RuntimeError(f"raw SQL failed: {self.failed[0]!r}") from self.failed[0]
        return Load.of(elapsed, self.latencies[:])


def _threads(target: Any, clients: int, args: Any) -> tuple[float, list[float]]:
    """Seconds for `clients` threads running `target(*args(c), latencies)`, and the latencies."""
    latencies: list[float] = []
    threads = [threading.Thread(target=target, args=(*args(c), latencies)) for c in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _processes() -> dict[int, tuple[int, str, float]]:
    """Every process's parent, command line and user and system CPU seconds so far, from /proc
    (empty where there is none)."""
    found: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it ended meanwhile
            continue
        found[int(entry.name)] = (int(fields[1]), command, (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS)
    return found


def _backend_database(command: str) -> str | None:
    """The database a PostgreSQL backend serves, from its title: `postgres: [<cluster>:] <user>
    <database> <client> <state>` (Debian names the cluster, `15/main:`); None for other processes."""
    words = command.split()
    if words[:1] != ["postgres:"]:
        return None
    words = words[2:] if len(words) > 1 and words[1].endswith(":") else words[1:]
    return words[1] if len(words) > 2 else None


def _measured(server_pid: int, database: str | None) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each process of the server (it and its descendants) and of each
    PostgreSQL backend serving `database` (autovacuum and the other databases' backends are not
    ours)."""
    table = _processes()
    tree, grew = {server_pid}, True
    while grew:
        more = {pid for pid, (parent, _command, _cpu) in table.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return {
        "server": {pid: table[pid][2] for pid in tree if pid in table},
        "database": {
            pid: cpu
            for pid, (_parent, command, cpu) in table.items()
            if database and _backend_database(command) == database
        },
    }


def _cpu_per_call(server_pid: int, database: str | None, run: Any) -> tuple[Load, dict[str, float]]:
    """`run()`'s load, and the CPU milliseconds per call it cost the server, the database (None:
    SQLite, inside the server) and the load generator (this process, and wrk when it ran); no
    figures where /proc cannot tell. A process that started meanwhile counts whole; one that ended
    is not counted."""
    if not Path(f"/proc/{server_pid}/stat").exists():
        return run(), {}
    before, client = _measured(server_pid, database), _own_cpu()
    result = run()
    after, client = _measured(server_pid, database), _own_cpu() - client
    spent = {
        part: sum(seconds - before[part].get(pid, 0.0) for pid, seconds in after[part].items())
        for part in after
    }
    figures = {"server_cpu_ms": spent["server"], "client_cpu_ms": client}
    if database:
        figures["database_cpu_ms"] = spent["database"]
    return result, {name: seconds * 1000 / result.calls for name, seconds in figures.items()}


def _own_cpu() -> float:
    """CPU seconds of this process and of its children that have ended (wrk's runs)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class Load:
    """What a concurrent run measured: calls, seconds, and latency percentiles in milliseconds."""

    def __init__(self, calls: int, seconds: float, percentiles: dict[int, float]) -> None:
        self.calls, self.seconds, self.percentiles = calls, seconds, percentiles

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    @classmethod
    def of(cls, seconds: float, latencies: list[float]) -> Load:
        ordered = sorted(latencies)
        return cls(
            len(ordered),
            seconds,
            {p: ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 for p in (50, 95, 99)},
        )


def _thread_load(target: Any, clients: int, args: Any) -> Load:
    return Load.of(*_threads(target, clients, args))


# wrk's Lua: the paths in turn on each connection; at the end, the counts and percentiles as JSON.
_WRK_SCRIPT = """
local paths = {%(paths)s}
local i = 0
%(headers)s
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"calls":%%d,"us":%%d,"bad_status":%%d,"failed":%%d,"p50":%%d,"p95":%%d,"p99":%%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def _wrk_load(port: int, paths: list[str], headers: dict[str, str], clients: int, seconds: float) -> Load:
    """`clients` keep-alive connections sending `paths` in turn for `seconds`, from wrk: a load
    generator in C on one thread, which leaves the server nearly all of the two cores (the
    standard library's client takes about a tenth of a call's CPU in Python)."""
    quoted = ", ".join(json.dumps(p) for p in paths)
    header_lines = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % {"paths": quoted, "headers": header_lines})
    try:
        done = subprocess.run(
            [  # noqa: S607 (wrk from the PATH, as `shutil.which` found it)
                "wrk",
                "-t1",
                f"-c{clients}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}/",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(script.name).unlink()
    found = json.loads(done.stdout.strip().splitlines()[-1])
    if found["bad_status"] or found["failed"]:
        raise RuntimeError(f"wrk: {found['bad_status']} answers not 2xx, {found['failed']} failed")
    return Load(found["calls"], found["us"] / 1e6, {p: found[f"p{p}"] / 1000 for p in (50, 95, 99)})


def _serve(url: str, workdir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GOVSHARE_DATABASE_URL": url,
        "GOVSHARE_DATA_DIR": str(workdir),
        "GOVSHARE_RUN_JOBS": "false",
    }
    command = [sys.executable, "-m", "govshare", "serve", "--port", str(port), "--workers", str(workers)]
    return _started("govshare serve", command, env, f"http://127.0.0.1:{port}/healthz")


def _serve_bare(url: str, table: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """`bench.bare` on `port` with `workers` processes, once it answers."""
    env = {**os.environ, "GOVSHARE_BARE_URL": url, "GOVSHARE_BARE_TABLE": table}
    command = [sys.executable, "-m", "bench.bare", "127.0.0.1", str(port), str(workers)]
    return _started("bench.bare", command, env, f"http://127.0.0.1:{port}/?region_code={REGIONS[0]}")


def _started(name: str, command: list[str], env: dict[str, str], probe: str) -> subprocess.Popen[bytes]:
    """`command` started (from the project's root) and answering 200 at `probe` within a minute."""
    server = subprocess.Popen(
        command,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(probe, timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"{name} did not start: {server.stderr.read().decode() if server.stderr else ''}")


def _get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    conn.request("GET", path, headers=headers)
    answer = conn.getresponse()
    return answer.status, answer.read()


def _paths(resource_id: int) -> list[str]:
    """A page of 100 rows in each district, in turn."""
    return [
        f"/api/v1/resources/{resource_id}/rows?"
        + urlencode({"purpose": PURPOSE, "region_code": region, "limit": 100})
        for region in REGIONS
    ]


def _client_run(port: int, token: str, resource_id: int, n: int, offset: int, out: list[float]) -> None:
    """`n` data API pages on one keep-alive connection. The standard library's client: the load
    generator shares the two cores with the server, and it costs a fraction of httpx per request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    paths = _paths(resource_id)
    try:
        for i in range(n):
            start = time.perf_counter()
            status, body = _get(conn, paths[(i + offset) % 9], headers)
            out.append(time.perf_counter() - start)
            if status != 200 or len(json.loads(body)["rows"]) != 100:
                raise RuntimeError(f"API answered {status}: {body[:200]!r}")
    finally:
        conn.close()


def _floor_run(port: int, n: int, _offset: int, out: list[float]) -> None:
    """`n` calls of `/healthz` (one `SELECT 1`, nothing else) on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for _ in range(n):
            start = time.perf_counter()
            status, _body = _get(conn, "/healthz", {})
            out.append(time.perf_counter() - start)
            if status != 200:
                raise RuntimeError(f"/healthz answered {status}")
    finally:
        conn.close()


def bench_data_api(
    engine: Engine,
    url: str,
    rows: int,
    requests: int,
    clients: int,
    workers: int,
    seconds: float = 10.0,
    instructions: bool = True,
) -> dict[str, Any]:
    """See the module's docstring. The concurrent API and `/healthz` runs use wrk for `seconds` when it
    is installed (`scripts/ensure-system-packages wrk`), else `clients` threads of the standard
    library's client for `requests` calls in all. With `instructions` and valgrind installed, the
    machine instructions of a call and of a raw query are counted too (`bench.instructions`)."""
    from bench import instructions as counting
    from govshare.db import make_engine
    from govshare.model_registry import load_models

    load_models()
    workdir = Path(os.environ["GOVSHARE_DATA_DIR"])
    resource_id = _population(engine, rows, workdir)
    _vacuumed(engine, _declare_query_items(engine, resource_id, {"id_number", "region_code"}))
    token = _consumer(engine, resource_id)
    table = _store_table(engine, resource_id)
    sql = text(raw_query(table, ":r"))
    database = engine.url.database if engine.dialect.name == "postgresql" else None
    raw_serial: list[float] = []
    start = time.perf_counter()
    _raw_run(engine, sql, requests, 0, raw_serial)
    raw_s = time.perf_counter() - start
    per_client = max(1, requests // clients)
    pool = make_engine(url, pool_size=clients, max_overflow=0)  # one connection per client thread
    raw_load = _RawLoad(pool, sql, clients)
    # Raw SQL's CPU: this process's (the driver, and SQLite itself) and the database's processes'.
    raw, raw_cpu = _cpu_per_call(os.getpid(), database, lambda: raw_load.run(seconds))
    pool.dispose()
    wrk = shutil.which("wrk") is not None
    bearer = {"Authorization": f"Bearer {token}"}

    def api_load() -> Load:
        if wrk:
            return _wrk_load(port, _paths(resource_id), bearer, clients, seconds)
        return _thread_load(_client_run, clients, lambda c: (port, token, resource_id, per_client, c))

    def floor_load() -> Load:
        if wrk:
            return _wrk_load(port, ["/healthz"], {}, clients, seconds)
        return _thread_load(_floor_run, clients, lambda c: (port, per_client, c))

    port = _free_port()
    server = _serve(url, workdir, port, workers)
    try:
        _client_run(port, token, resource_id, 10, 0, [])  # warm up
        serial: list[float] = []
        start = time.perf_counter()
        _client_run(port, token, resource_id, requests, 0, serial)
        api_s = time.perf_counter() - start
        if wrk:  # every connection's first calls, and the workers' caches, before the measurement
            _wrk_load(port, _paths(resource_id), bearer, clients, 2)
        api, cpu = _cpu_per_call(server.pid, database, api_load)
        # The floor: what the same server and client manage for a route that does nothing.
        floor_serial: list[float] = []
        start = time.perf_counter()
        _floor_run(port, requests, 0, floor_serial)
        floor_s = time.perf_counter() - start
        floor, floor_cpu = _cpu_per_call(server.pid, database, floor_load)
    finally:
        server.terminate()
        server.wait(30)
    bare_figures: dict[str, float] = {}
    if wrk:  # the stack's ceiling for the same query (bench/bare.py), under the same load
        bare_port, paths = _free_port(), _paths(resource_id)
        bare_server = _serve_bare(url, table, bare_port, workers)
        try:
            _wrk_load(bare_port, paths, {}, clients, 2)
            bare, bare_cpu = _cpu_per_call(
                bare_server.pid, database, lambda: _wrk_load(bare_port, paths, {}, clients, seconds)
            )
        finally:
            bare_server.terminate()
            bare_server.wait(30)
        bare_figures = {
            "bare_concurrent_rps": bare.rate,
            "bare_p99_ms": bare.percentiles[99],
            "api_to_bare": api.rate / bare.rate,
            **{f"bare_{name}": value for name, value in bare_cpu.items()},
        }
    counted = {}
    if instructions and counting.available():
        counted = counting.count(url, workdir, token, resource_id)
    return {
        "rows": rows,
        "requests": requests,
        "load_generator": f"wrk, {seconds:.0f} s" if wrk else f"{clients} threads of http.client",
        "raw_rps": requests / raw_s,
        "api_rps": requests / api_s,
        "api_to_raw": (requests / api_s) / (requests / raw_s),
        "raw_median_ms": statistics.median(raw_serial) * 1000,
        "serial_median_ms": statistics.median(serial) * 1000,
        "clients": clients,
        "workers": workers,
        "raw_concurrent_rps": raw.rate,
        "concurrent_rps": api.rate,
        "concurrent_api_to_raw": api.rate / raw.rate,
        "p50_ms": api.percentiles[50],
        "p95_ms": api.percentiles[95],
        "p99_ms": api.percentiles[99],
        "floor_rps": requests / floor_s,
        "floor_median_ms": statistics.median(floor_serial) * 1000,
        "floor_concurrent_rps": floor.rate,
        "floor_p99_ms": floor.percentiles[99],
        "api_to_floor": (requests / api_s) / (requests / floor_s),
        **cpu,
        **{f"floor_{name}": value for name, value in floor_cpu.items()},
        **({"raw_cpu_ms": raw_cpu["server_cpu_ms"] + raw_cpu.get("database_cpu_ms", 0.0)} if raw_cpu else {}),
        **bare_figures,
        **counted,
        "autogroup": _autogroup(),
    }


def _autogroup() -> str:
    """The kernel's automatic process grouping, which shapes PostgreSQL's tail on a shared machine
    (`govshare.startup.host_advice`): "on", "off", or "n/a" where the kernel has none."""
    from govshare.startup import process_grouping

    return {True: "on", False: "off", None: "n/a"}[process_grouping()]
