"""Open-data test helpers: open resources of the demo catalog with rows pushed through the API."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.demo.data import rows_for
from tests.exchange.test_ingest import push
from tests.helpers import login

ENTERPRISES = "企业登记信息"  # open (无条件开放), market
EQUIPMENT = "特种设备登记信息"  # conditional (有条件开放), market
CLOSED = "人口基础信息"  # closed


def resource(db: Session, name: str) -> Resource:
    found = db.scalar(select(Resource).where(Resource.name == name))
    assert found is not None, name
    return found


def loaded(
    client, db: Session, name: str = ENTERPRISES, n: int = 12
) -> tuple[Resource, list[dict[str, str]]]:  # type: ignore[no-untyped-def]
    """The entry `name` with `n` demo rows pushed by its department; the rows as pushed."""
    entry = resource(db, name)
    rows = list(rows_for(name, n, population=50))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    response = push(client, login(client, "market_admin"), entry.id, out.getvalue().encode())
    assert response.status_code == 201 and response.json()["accepted"] == n, response.text
    client.cookies.clear()
    return entry, rows
