"""The demo city's data: every published 库表 entry of the demo catalog filled with synthetic rows,
pushed by its department's business system through the same ingest path as real batches."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.authz import Actor
from govshare.catalog.models import Resource
from govshare.demo.data import demo_row_counts, rows_for
from govshare.exchange.ingest import BatchRequest, from_file, ingest
from govshare.systems.models import BusinessSystem


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
        with tempfile.TemporaryFile() as file:
            text = io.TextIOWrapper(file, encoding="utf-8", newline="")
            writer: csv.DictWriter[str] | None = None
            for row in rows_for(resource.name, counts[resource.name], population=population):
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
