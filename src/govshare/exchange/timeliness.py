"""Timeliness (M13 ¶2, M24(2)): each published 库表 resource's last successful batch against its
update cycle; late and never-provided resources are listed for the provider and the Bureau."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, visible
from govshare.catalog.models import Resource
from govshare.catalog.vocab import UpdateCycle
from govshare.db import utcnow
from govshare.exchange.models import Batch
from govshare.orgs.models import Organisation


@dataclass(frozen=True)
class Timeliness:
    resource_id: int
    code: str
    name: str
    provider: str
    update_cycle: str
    last_update: datetime | None
    due: datetime | None
    late: bool
    days_late: int


def timeliness(
    db: Session, *, actor: Actor, now: datetime | None = None, late_only: bool = False
) -> list[Timeliness]:
    """Published 库表 resources the actor may supervise (its department's, or all for the Bureau)."""
    now = now or utcnow()
    last = (
        select(Batch.resource_id, func.max(Batch.finished_at).label("last"))
        .where(Batch.accepted > 0)
        .group_by(Batch.resource_id)
        .subquery()
    )
    stmt = visible(
        actor,
        Action.provision_view,
        select(Resource, Organisation.name, last.c.last)
        .join(Organisation, Organisation.id == Resource.org_id)
        .outerjoin(last, last.c.resource_id == Resource.id)
        .where(Resource.status == "published", Resource.provision_method == "table")
        .order_by(Resource.code),
        Resource,
    )
    rows = []
    for resource, provider, last_update in db.execute(stmt):
        days = UpdateCycle(resource.update_cycle).days
        if last_update is not None and last_update.tzinfo is None:  # an aggregate skips the column type
            last_update = last_update.replace(tzinfo=UTC)
        due = last_update + timedelta(days=days) if last_update is not None and days is not None else None
        late = last_update is None or (due is not None and due < now)
        days_late = (now - due).days if due is not None and due < now else 0
        if late_only and not late:
            continue
        rows.append(
            Timeliness(
                resource.id,
                resource.code,
                resource.name,
                provider,
                resource.update_cycle,
                last_update,
                due,
                late,
                days_late,
            )
        )
    return rows
