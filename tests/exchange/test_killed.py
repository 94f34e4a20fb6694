"""A batch whose process is killed half-way changes nothing (issue 4: "all or nothing").

`govshare ingest` runs as a real process on a database of its own (a SQLite file in a temporary data
directory, or, under `GOVSHARE_TEST_DATABASE_URL`, a fresh PostgreSQL database), is killed with
SIGKILL once its progress bar shows that chunks of rows have been written, and the store, the
manifests and the quarantine must be exactly as before; the same command then loads everything.
"""

from __future__ import annotations

import os
import pty
import re
import select as io_select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, Table, create_engine, func, make_url, select, text
from sqlalchemy.orm import Session

from govshare.crypto import sm3_hex
from govshare.exchange import store
from govshare.identifiers import id_number_check_char

RESOURCE = "101/000001"  # 人口基础信息 of the demo city
ROWS = 60_000  # several seconds of work: long enough to be killed in the middle
HEADER = "id_number,name,gender,birth_date,mobile,address,region_code"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def write_people(path: Path, count: int, *, region: str, broken_every: int = 0) -> int:
    """`count` rows with distinct keys; every `broken_every`-th has a wrong check digit. Returns how
    many are broken."""
    broken = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        for n in range(count):
            born = date(1950, 1, 1) + timedelta(days=n // 1000)
            body = f"{region}{born:%Y%m%d}{n % 1000:03d}"
            check = id_number_check_char(body)
            if broken_every and n % broken_every == broken_every - 1:
                check = "0" if check != "0" else "1"
                broken += 1
            out.write(
                f"{body}{check},居民{n},男,{born.isoformat()},13912345678,河北省石家庄市长安区,{region}\n"
            )
    return broken


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    """The environment of a CLI with a demo city and no rows, and the URL of its database."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}
    environ.update(GOVSHARE_DATA_DIR=str(tmp_path / "data"), COLUMNS="160", TERM="xterm")
    base = os.environ.get("GOVSHARE_TEST_DATABASE_URL")
    if base:
        server = make_url(base)
        name = f"{server.database}_gs_killed_{os.getpid()}"
        url = server.set(database=name).render_as_string(hide_password=False)
        _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        environ["GOVSHARE_DATABASE_URL"] = url
    else:
        url = f"sqlite:///{tmp_path / 'data' / 'govshare.db'}"
    demo = subprocess.run(
        [sys.executable, "-m", "govshare", "demo", "--rows", "0"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr
    try:
        yield environ, url
    finally:
        if base:
            _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(base: str, *statements: str) -> None:
    engine = create_engine(make_url(base), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def ingest(environ: dict[str, str], file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "govshare", "ingest", str(file), "--resource", RESOURCE],
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )


def kill_mid_batch(environ: dict[str, str], file: Path) -> tuple[int, list[int]]:
    """Run the ingest on a terminal (so that it draws its progress bar), SIGKILL it as soon as the bar
    shows rows applied but not all of them; returns the bytes the bar showed and the helper processes
    that were checking rows for it at that moment."""
    total = file.stat().st_size
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "govshare", "ingest", str(file), "--resource", RESOURCE],
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    shown = b""
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            ready, _, _ = io_select.select([main], [], [], 0.2)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(main, 65536)
            except OSError:  # the process closed its terminal
                break
            shown += data
            progress = re.findall(r"(\d+)/(\d+)", ANSI.sub("", shown.decode(errors="replace")))
            done = [int(d) for d, t in progress if int(t) == total]
            if done and 0 < done[-1] < total:
                helpers = helpers_of(environ)
                process.send_signal(signal.SIGKILL)
                assert process.wait(timeout=30) == -signal.SIGKILL
                return done[-1], helpers
        process.kill()
        pytest.fail(
            f"the ingest ended or stalled before it showed progress: {shown.decode(errors='replace')}"
        )
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
            process.wait()


def state(engine: Engine) -> dict[str, object]:
    """What a batch would change: the store's rows (count and SM3 of every value in key order), the
    manifests, the quarantine, the audit chain."""
    with Session(engine) as db:
        resource_id = db.scalar(text("SELECT id FROM resources WHERE code = :c"), {"c": RESOURCE})
        located = store.table_for(db, resource_id, [])
        table = Table(located.name, MetaData(), schema=located.schema, autoload_with=db.connection())
        rows = db.execute(select(table).order_by(table.c._key)).all()
        return {
            "rows": len(rows),
            "live": sum(1 for r in rows if r._retired_at is None),
            "sm3": sm3_hex("\n".join(repr(tuple(r)) for r in rows).encode()),
            "batches": db.scalar(text("SELECT count(*) FROM batches")),
            "quarantined": db.scalar(text("SELECT count(*) FROM quarantined_rows")),
            "audit": db.scalar(text("SELECT count(*) FROM audit_events")),
            "columns": len(table.columns),
            "max_received": db.scalar(select(func.max(table.c._received_at))),
        }


def helpers_of(environ: dict[str, str]) -> list[int]:
    """Live helper processes (`exchange.reading`) started from `environ` (they inherit it)."""
    found = []
    marker = f"GOVSHARE_DATA_DIR={environ['GOVSHARE_DATA_DIR']}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if b"govshare.exchange.reading" in (proc / "cmdline").read_bytes() and marker in (
                proc / "environ"
            ).read_bytes().split(b"\0"):
                status = (proc / "status").read_text()
                if "State:\tZ" not in status:
                    found.append(int(proc.name))
        except OSError:  # gone meanwhile
            continue
    return found


@pytest.mark.parametrize("helper_mb", ["0", "1"], ids=["in-process", "helper-process"])
def test_a_killed_ingest_leaves_the_store_as_it_was(
    cli: tuple[dict[str, str], str], tmp_path: Path, helper_mb: str
) -> None:
    environ, url = cli
    environ["GOVSHARE_INGEST_HELPER_MIN_MB"] = helper_mb  # the body is about 6 MB
    first = tmp_path / "earlier.csv"
    write_people(first, 300, region="130104")
    loaded = ingest(environ, first)
    assert loaded.returncode == 0 and "入库 300 行" in loaded.stdout, loaded.stderr

    engine = create_engine(url)
    try:
        before = state(engine)
        assert (before["rows"], before["batches"], before["quarantined"]) == (300, 1, 0)
        big = tmp_path / "people.csv"
        broken = write_people(big, ROWS, region="130102", broken_every=100)
        shown, helpers = kill_mid_batch(environ, big)
        assert shown >= 1000  # at least one chunk of rows had been written when it was killed
        assert len(helpers) == (1 if helper_mb == "1" else 0)
        assert state(engine) == before
        deadline = time.monotonic() + 30  # an orphaned helper stops at its next write
        while helpers_of(environ) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert helpers_of(environ) == []

        again = ingest(environ, big)
        assert again.returncode == 0, again.stderr
        assert f"收到 {ROWS} 行，入库 {ROWS - broken} 行，隔离 {broken} 行" in again.stdout
        after = state(engine)
        assert (after["rows"], after["live"]) == (300 + ROWS - broken, 300 + ROWS - broken)
        assert (after["batches"], after["quarantined"]) == (2, broken)
    finally:
        engine.dispose()
