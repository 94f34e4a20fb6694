"""Test data for analysis: a population of 40 people pushed by the police, and grants to civil affairs."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from tests.exchange.test_ingest import csv_body, idn, line, push
from tests.helpers import login
from tests.sharing.test_requests import BASIS, PURPOSE

NAMES = ["张伟", "李娜", "王芳", "赵敏", "刘洋", "陈静", "杨帆", "黄磊"]
# 24 people in 130102, 14 in 130104, 2 in 130105: the last region is a small cell.
REGIONS = ["130102"] * 24 + ["130104"] * 14 + ["130105"] * 2


def population_rows() -> list[str]:
    rows = []
    for i, region in enumerate(REGIONS):
        number = idn(region, f"19{60 + i % 40:02d}0{1 + i % 9}1{i % 9}", f"{100 + i:03d}")
        rows.append(line(number, NAMES[i % len(NAMES)], gender="男" if i % 2 else "女", mobile=f"139{i:08d}"))
    return rows


def loaded(client: TestClient, db: Session) -> Resource:
    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert population is not None
    response = push(client, login(client, "police_admin"), population.id, csv_body(*population_rows()))
    assert response.status_code == 201 and response.json()["accepted"] == len(REGIONS), response.text
    return population


def granted(
    client: TestClient, resource: Resource, items: list[str], user: str = "civil_user", purpose: str = PURPOSE
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/requests",
        json={
            "resource_id": resource.id,
            "items": items,
            "purpose": purpose,
            "basis": BASIS,
            "duration_days": 30,
        },
        headers=login(client, user),
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["grant"])


def run(client: TestClient, headers: dict[str, str], sql: str, purpose: str = PURPOSE) -> Any:
    return client.post("/api/v1/analysis/queries", json={"sql": sql, "purpose": purpose}, headers=headers)
