"""Benchmarks of the platform's hot paths, each as a ratio against a raw baseline run alongside.

These machines are noisy, so absolute times mean little: every figure is paired with a baseline
measured in the same process, on the same database, right before it.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, text

ROUNDS = 3


def _best(fn: Callable[[], None], rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_audit(engine: Engine, n: int) -> dict[str, float]:
    """Audit append (head lock, SM3 chain, insert) vs a raw per-row INSERT; verification vs a raw read."""
    from govshare.audit import service as audit
    from govshare.audit.events import EventType
    from govshare.authz import Actor
    from govshare.db import unit_of_work

    actor = Actor(kind="user", name="bench", user_id=1, org_id=1, ip="127.0.0.1")
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE IF NOT EXISTS bench_raw (id INTEGER PRIMARY KEY, payload TEXT, h TEXT)")
        )

    # Events arrive one at a time, so the baseline inserts one row per statement too.
    def raw_insert() -> None:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM bench_raw"))
            for i in range(n):
                conn.execute(
                    text("INSERT INTO bench_raw (id, payload, h) VALUES (:id, :p, :h)"),
                    {"id": i, "p": json.dumps({"i": i}), "h": "0" * 64},
                )

    def chained_append() -> None:
        with unit_of_work(engine) as db:
            for i in range(n):
                audit.record(
                    db,
                    EventType.user_updated,
                    actor=actor,
                    object_type="users",
                    object_id=i,
                    details={"i": i},
                )

    raw = _best(raw_insert)
    chained = _best(chained_append)

    def raw_read() -> None:
        with engine.connect() as conn:
            for _ in conn.execute(text("SELECT * FROM audit_events ORDER BY seq")):
                pass

    def verify() -> None:
        with unit_of_work(engine) as db:
            report = audit.verify_chain(db)
            assert report.ok, report.problems[:3]

    with engine.connect() as conn:
        events = int(conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one())
    read = _best(raw_read)
    verified = _best(verify)
    return {
        "append_events_per_s": n / chained,
        "append_raw_rows_per_s": n / raw,
        "append_ratio": chained / raw,
        "verify_events_per_s": events / verified,
        "verify_raw_rows_per_s": events / read,
        "verify_ratio": verified / read,
    }


def _own_database(base: str) -> str:
    """A fresh database `<name>_gs_bench` on the server of `base` (never the given database itself)."""
    from sqlalchemy import create_engine, make_url

    url = make_url(base)
    if url.get_backend_name() != "postgresql":
        return base
    name = f"{url.database}_gs_bench"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_database(base: str, name: str) -> None:
    from sqlalchemy import create_engine, make_url

    admin = create_engine(make_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000, help="events appended per round")
    parser.add_argument("--entries", type=int, default=100_000, help="catalog entries to search over")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per catalog query")
    parser.add_argument("--rows", type=int, default=1_000_000, help="population rows ingested")
    parser.add_argument("--requests", type=int, default=2000, help="data API requests per measurement")
    parser.add_argument("--clients", type=int, default=16, help="concurrent data API clients")
    parser.add_argument("--workers", type=int, default=2, help="govshare serve worker processes")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="length of each concurrent data API run under wrk"
    )
    parser.add_argument(
        "--no-instructions",
        action="store_true",
        help="skip counting the data API's machine instructions under valgrind (about 3 minutes)",
    )
    parser.add_argument(
        "--only",
        choices=["audit", "catalog", "ingest", "data_api"],
        default=None,
        help="run one benchmark (default: all)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GOVSHARE_BENCH_DATABASE_URL"),
        help="database to use (default: a temporary SQLite file)",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="govshare-bench-"))
    # Its SQLite database of a million rows takes 600 MB: gone when the run ends, however it ends.
    atexit.register(shutil.rmtree, workdir, True)
    os.environ["GOVSHARE_DATA_DIR"] = str(workdir)
    from govshare.db import make_engine
    from govshare.migrate import upgrade
    from govshare.settings import get_settings

    get_settings.cache_clear()
    url = _own_database(args.database_url) if args.database_url else f"sqlite:///{workdir / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    print(f"database: {engine.url.get_backend_name()}")
    if args.only in (None, "audit"):
        result = bench_audit(engine, args.events)
        r = result
        print(
            f"audit append : {r['append_events_per_s']:9.0f} events/s  "
            f"raw insert {r['append_raw_rows_per_s']:9.0f} rows/s  ratio {r['append_ratio']:.1f}x"
        )
        print(
            f"audit verify : {r['verify_events_per_s']:9.0f} events/s  "
            f"raw read   {r['verify_raw_rows_per_s']:9.0f} rows/s  ratio {r['verify_ratio']:.1f}x"
        )
        print(json.dumps({k: round(v, 2) for k, v in result.items()}))
    if args.only in (None, "catalog"):
        from bench.catalog import bench_catalog

        print(f"catalog search over {args.entries} entries, median of {args.runs} runs (page of 20 + count)")
        rows = bench_catalog(engine, args.entries, args.runs)
        for row in rows:
            print(
                f"  {row['label']:<12} {row['query']:<10} {row['matches']:>7} hits  "
                f"search {row['search_ms']:7.1f} ms (p95 {row['search_p95_ms']:7.1f})  "
                f"raw scan {row['raw_ms']:7.1f} ms  ratio {row['ratio']:5.2f}x  "
                f"with facets {row['facets_ms']:7.1f} ms ({row['facets_ratio']:.1f}x)"
            )
        print(
            json.dumps(
                [{k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()} for r in rows],
                ensure_ascii=False,
            )
        )
    if args.only in (None, "ingest"):
        from bench.ingest import bench_ingest

        r = bench_ingest(engine, args.rows)
        print(
            f"ingest       : {r['ingest_rows_per_s']:9.0f} rows/s  "
            f"raw insert {r['raw_rows_per_s']:9.0f} rows/s  "
            f"ratio {r['ratio']:.1f}x  (keyed raw insert {r['keyed_raw_rows_per_s']:.0f} rows/s, "
            f"ratio {r['keyed_ratio']:.1f}x; {r['accepted']} accepted, {r['quarantined']} quarantined; "
            f"max RSS growth {r['ingest_rss_growth_mb']:.0f} MB vs {r['raw_rss_growth_mb']:.0f} MB; "
            f"helper process peak {r['helper_peak_rss_mb']:.0f} MB)"
        )
        print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}))
    if args.only in (None, "data_api"):
        from bench.data_api import bench_data_api

        r = bench_data_api(
            engine,
            engine.url.render_as_string(hide_password=False),
            args.rows,
            args.requests,
            args.clients,
            args.workers,
            args.seconds,
            instructions=not args.no_instructions,
        )
        print(
            f"data API     : load generator {r['load_generator']}; "
            f"serial {r['api_rps']:7.0f} req/s (median {r['serial_median_ms']:.1f} ms), "
            f"raw SQL {r['raw_rps']:7.0f} q/s (median {r['raw_median_ms']:.2f} ms), "
            f"API/raw {r['api_to_raw']:.2f}; {r['clients']} clients: API on {r['workers']} workers "
            f"{r['concurrent_rps']:.0f} req/s, raw SQL {r['raw_concurrent_rps']:.0f} q/s, "
            f"API/raw {r['concurrent_api_to_raw']:.2f}; API p50 {r['p50_ms']:.1f} ms, "
            f"p95 {r['p95_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; the /healthz floor: serial "
            f"{r['floor_rps']:.0f} req/s (median {r['floor_median_ms']:.1f} ms), {r['clients']} clients "
            f"{r['floor_concurrent_rps']:.0f} req/s, p99 {r['floor_p99_ms']:.1f} ms; "
            f"API/floor {r['api_to_floor']:.2f}"
            + (
                f"; CPU per call at {r['clients']} clients: server {r['server_cpu_ms']:.2f} ms, "
                + (f"database {r['database_cpu_ms']:.2f} ms, " if "database_cpu_ms" in r else "")
                + f"load generator {r['client_cpu_ms']:.2f} ms "
                f"(raw SQL {r['raw_cpu_ms']:.2f} ms a query; /healthz: server "
                f"{r['floor_server_cpu_ms']:.2f} ms"
                + (f", database {r['floor_database_cpu_ms']:.2f} ms" if "floor_database_cpu_ms" in r else "")
                + ")"
                if "server_cpu_ms" in r
                else ""
            )
            + (
                f"; instructions (valgrind): API call {r['api_instructions_m']:.2f} M, raw query "
                f"{r['raw_instructions_m']:.2f} M, API/raw {r['api_to_raw_instructions']:.1f}"
                if "api_instructions_m" in r
                else "; instructions not counted (valgrind not installed, or --no-instructions)"
            )
            + (
                f"; the stack's ceiling (bench/bare.py, the raw query over HTTP): {r['clients']} clients "
                f"{r['bare_concurrent_rps']:.0f} req/s, p99 {r['bare_p99_ms']:.1f} ms, API/ceiling "
                f"{r['api_to_bare']:.2f}"
                + (
                    f", server {r['bare_server_cpu_ms']:.2f} ms a request"
                    + (
                        f", database {r['bare_database_cpu_ms']:.2f} ms"
                        if "bare_database_cpu_ms" in r
                        else ""
                    )
                    if "bare_server_cpu_ms" in r
                    else ""
                )
                if "bare_concurrent_rps" in r
                else ""
            )
            + f"; kernel.sched_autogroup_enabled: {r['autogroup']}"
        )
        print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}))
    engine.dispose()
    if args.database_url and engine.url.get_backend_name() == "postgresql":
        _drop_database(args.database_url, engine.url.database or "")
