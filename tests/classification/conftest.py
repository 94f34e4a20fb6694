"""Building blocks: levels set through the service as the Bureau would, and entries with items of a
chosen level."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.catalog.schemas import Item
from govshare.classification.schemas import LevelIn
from tests.catalog.conftest import published
from tests.helpers import login


def set_level(client: TestClient, dimension: str, code: str, **changes: Any) -> None:
    """Change some controls of one level as the Bureau's administrator does, through the API (so the
    change is committed like any request's, whatever later requests of the test roll back)."""
    admin = login(client, "bureau_admin")
    levels = client.get("/api/v1/classification/levels", headers=admin).json()
    level = next(lv for lv in levels if (lv["dimension"], lv["code"]) == (dimension, code))
    body = {name: level[name] for name in LevelIn.model_fields}
    response = client.put(
        f"/api/v1/classification/levels/{dimension}/{code}", json={**body, **changes}, headers=admin
    )
    assert response.status_code == 200, response.text


SECRET_TITLE = "核心调度参数甲"


def graded(db: Session, org_code: str = "civil", **overrides: Any) -> Resource:
    """A published entry of `org_code` with one item of each kind: plain (L1), personal (L2), core
    (restricted by default: its title is `SECRET_TITLE`) and L4."""
    items = [
        Item(name="visit_no", title="走访编号", data_type="C", length=20, is_key=True),
        Item(name="person_name", title="走访对象姓名", data_type="C", length=50, sensitivity="L2"),
        Item(name="dispatch", title=SECRET_TITLE, data_type="C", length=20, importance="core"),
        Item(name="diagnosis", title="诊断结论", data_type="C", length=200, sensitivity="L4"),
    ]
    return published(db, org_code, **{"items": items, **overrides})
