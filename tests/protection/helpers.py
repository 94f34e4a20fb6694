"""Shared steps of the protection tests: start the scanner at the chain's current end, set a rule's
thresholds through the service, scan, and cause real refusals through the API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit.models import AuditHead
from govshare.protection import detection, rules
from govshare.protection.models import Alert
from tests.helpers import actor


def start_at_end(db: Session) -> None:
    """Move the watermark to the chain's end: the demo city's events are not this test's."""
    head = db.get(AuditHead, 1)
    assert head is not None
    detection.watermark(db).last_seq = head.last_seq
    db.flush()


def set_rule(db: Session, code: str, enabled: bool = True, **params: int) -> None:
    current = rules.effective(db)[code]
    rules.update_rule(
        db,
        actor=actor(db, "bureau_admin"),
        code=code,
        enabled=enabled,
        params=params,
        version=current.version,
    )
    db.commit()


def scan(db: Session) -> detection.ScanResult:
    result = detection.scan(db)
    db.commit()
    return result


def alerts(db: Session, rule: str | None = None) -> list[Alert]:
    stmt = select(Alert).order_by(Alert.id)
    if rule:
        stmt = stmt.where(Alert.rule == rule)
    return list(db.scalars(stmt))


def denied(client: TestClient, headers: dict[str, str], times: int) -> None:
    """Real denied calls: a business user asks for the audit log, which only auditors read."""
    for _ in range(times):
        response = client.get("/api/v1/audit/events", headers=headers)
        assert response.status_code == 403, response.text


def body(response: Any) -> Any:
    assert response.status_code < 400, response.text
    return response.json()
