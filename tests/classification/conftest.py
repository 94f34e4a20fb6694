"""Building blocks: levels set through the service as the Bureau would, and entries with items of a
chosen level."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.catalog.schemas import Item
from govshare.classification import service
from govshare.classification.schemas import LevelIn
from tests.catalog.conftest import published
from tests.helpers import actor


def set_level(db: Session, dimension: str, code: str, **changes: Any) -> None:
    """Change some controls of one level as the Bureau's administrator."""
    row = next(
        r
        for r in service.list_levels(db, actor=actor(db, "bureau_admin"))
        if (r.dimension, r.code) == (dimension, code)
    )
    values = {name: getattr(row, name) for name in LevelIn.model_fields if name != "version"}
    values.update(changes)
    service.update_level(
        db, actor=actor(db, "bureau_admin"), dimension=dimension, code=code, data=LevelIn(**values)
    )


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
