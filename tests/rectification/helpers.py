"""Shared steps of the rectification tests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.rectification import detection
from govshare.rectification.models import Violation
from tests.helpers import actor

API = "/api/v1/rectification"


def detect(db: Session) -> detection.Detected:
    return detection.detect(db, actor=actor(db, "bureau_admin"))


def unresolved(db: Session, key: str) -> Violation | None:
    return db.scalar(select(Violation).where(Violation.dedupe_key == key, Violation.resolved_at.is_(None)))


def with_key(db: Session, key: str) -> list[Violation]:
    return list(db.scalars(select(Violation).where(Violation.dedupe_key == key).order_by(Violation.id)))


def manual(client, headers, org_id: int, summary: str = "未按规定报送年度共享工作总结") -> int:  # type: ignore[no-untyped-def]
    response = client.post(f"{API}/violations", json={"org_id": org_id, "summary": summary}, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])
