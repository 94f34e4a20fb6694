"""Building blocks for catalog tests: a valid entry of a department, and walking it through review."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog import service
from govshare.catalog.models import CatalogClass, Resource
from govshare.catalog.schemas import Item, ResourceCreate, ReviewDecision, SecrecyReview
from govshare.catalog.vocab import ClassKind
from tests.helpers import actor, org


def department_class(db: Session, org_code: str) -> str:
    """The code of the 部门 sub-class of a demo department."""
    code = db.scalar(
        select(CatalogClass.code).where(
            CatalogClass.kind == ClassKind.department.value, CatalogClass.lead_org_id == org(db, org_code).id
        )
    )
    assert code is not None
    return code


def entry(db: Session, org_code: str = "civil", **overrides: Any) -> ResourceCreate:
    """A valid unconditional 库表 entry in the department's own sub-class."""
    values: dict[str, Any] = {
        "category": department_class(db, org_code),
        "name": "困难群众走访记录",
        "summary": "社区工作人员走访困难群众的记录，每月汇总。",
        "update_cycle": "monthly",
        "items": [
            Item(name="visit_no", title="走访编号", data_type="C", length=20, is_key=True),
            Item(name="visited_on", title="走访日期", data_type="D"),
            Item(name="note", title="走访情况", data_type="M"),
        ],
    }
    values.update(overrides)
    return ResourceCreate.model_validate(values)


SECRECY = SecrecyReview(reviewer="周丽华（安全管理员）", reviewed_on=date(2026, 11, 20), conclusion="passed")


def submit(db: Session, resource_id: int, org_code: str = "civil") -> None:
    service.record_secrecy(db, actor=actor(db, f"{org_code}_security"), resource_id=resource_id, data=SECRECY)
    service.submit(db, actor=actor(db, f"{org_code}_admin"), resource_id=resource_id)


def approve(db: Session, resource_id: int) -> None:
    service.review(
        db,
        actor=actor(db, "bureau_reviewer"),
        resource_id=resource_id,
        data=ReviewDecision(decision="approve", comment="同意发布。"),
    )


def published(db: Session, org_code: str = "civil", **overrides: Any) -> Resource:
    """A new entry of `org_code`, compiled, reviewed and published."""
    resource = service.create_resource(
        db, actor=actor(db, f"{org_code}_admin"), data=entry(db, org_code, **overrides)
    )
    submit(db, resource.id, org_code)
    approve(db, resource.id)
    db.refresh(resource)
    return resource


@pytest.fixture
def civil_admin(db: Session):  # type: ignore[no-untyped-def]
    return actor(db, "civil_admin")
