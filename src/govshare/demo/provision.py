"""The demo city's data: every published 库表 entry of the demo catalog filled with synthetic rows,
pushed by its department's business system through the same ingest path as real batches — except
one, which the platform pulls from a front-end SQLite database (前置库) through a sync, so that the
demo shows both ways of providing data."""

from __future__ import annotations

import contextlib
import csv
import io
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.authz import Actor
from govshare.catalog.models import Resource
from govshare.demo.data import demo_row_counts, rows_for
from govshare.exchange import sync
from govshare.exchange.body import BatchRequest, from_file
from govshare.exchange.ingest import ingest
from govshare.settings import get_settings
from govshare.systems.models import BusinessSystem

SYNCED = "个体工商户登记信息"  # provided through a front-end database sync in the demo
FRONTDB_TABLE = "qzk_gtgsh"


def load_data(db: Session, *, population: int, progress: Callable[[str], None] = lambda _m: None) -> int:
    """Ingest synthetic rows into each published 库表 entry; `population` sizes 人口基础信息 (and the
    entries about people in proportion). Returns the number of rows accepted."""
    counts = demo_row_counts(population)
    accepted = 0
    resources = db.scalars(
        select(Resource)
        .where(
            Resource.status == "published", Resource.provision_method == "table", Resource.name.in_(counts)
        )
        .order_by(Resource.id)
    )
    for resource in list(resources):
        system = db.scalar(select(BusinessSystem).where(BusinessSystem.org_id == resource.org_id).limit(1))
        assert system is not None, resource.org_id
        actor = Actor(
            kind="system", name=f"system:{system.code}", system_id=system.id, org_id=resource.org_id
        )
        progress(f"{resource.name}（{counts[resource.name]} 行）")
        rows = rows_for(resource.name, counts[resource.name], population=population)
        if resource.name == SYNCED:
            accepted += _sync_from_frontdb(db, resource, system, rows)
            continue
        with tempfile.TemporaryFile() as file:
            text = io.TextIOWrapper(file, encoding="utf-8", newline="")
            writer: csv.DictWriter[str] | None = None
            for row in rows:
                if writer is None:
                    writer = csv.DictWriter(text, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
            text.flush()
            text.detach()
            file.seek(0)
            batch, _ = ingest(
                db,
                actor=actor,
                req=BatchRequest(
                    resource_id=resource.id, body=from_file(file), content_type="text/csv", source="demo"
                ),
            )
        accepted += batch.accepted
    return accepted


def _sync_from_frontdb(
    db: Session, resource: Resource, system: BusinessSystem, rows: Iterator[dict[str, str]]
) -> int:
    """Write the rows into a front-end SQLite database with an update-time watermark, register it as
    the resource's sync source and run the sync once (each page in a savepoint of the demo's unit of
    work). Returns the rows accepted."""
    folder = get_settings().frontdb_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"demo-{system.code}.db"
    path.unlink(missing_ok=True)
    start = datetime(2026, 11, 1, 8, 0, 0)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        columns: list[str] | None = None
        for n, row in enumerate(rows):
            if columns is None:
                columns = list(row)
                names = ", ".join(f'"{c}" TEXT' for c in columns)
                conn.execute(f'CREATE TABLE {FRONTDB_TABLE} ({names}, "gxsj" TEXT NOT NULL)')
            marks = ", ".join("?" for _ in range(len(columns) + 1))
            values = [row[c] for c in columns] + [str(start + timedelta(seconds=n))]
            conn.execute(f"INSERT INTO {FRONTDB_TABLE} VALUES ({marks})", values)  # noqa: S608  # own names  # nosec B608
        conn.commit()
    operator = Actor.operator("demo")
    sync.save_source(
        db,
        actor=operator,
        resource_id=resource.id,
        data=sync.SourceIn(
            url=f"sqlite:///{path}", system_id=system.id, table=FRONTDB_TABLE, watermark_column="gxsj"
        ),
    )
    run = sync.request_run(db, actor=operator, resource_id=resource.id, trigger="manual")

    @contextlib.contextmanager
    def savepoint() -> Iterator[Session]:
        with db.begin_nested():
            yield db

    done = sync.execute(savepoint, run.id)
    if done.status != "succeeded":
        raise RuntimeError(f"demo sync of {resource.name} failed: {done.error}")
    return done.accepted
