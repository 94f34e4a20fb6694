"""Catalog supervision (M10 ¶3, M11, M24(1)): how far each department's catalog has come.

For each government body: entries compiled, published, pending review, returned and not yet
revised (with the oldest one's age), drafts, published entries not reviewed for longer than the
configured period, and whether it has no catalog at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, require
from govshare.catalog.models import Resource, ResourceVersion
from govshare.catalog.vocab import EntryStatus, VersionState
from govshare.db import utcnow
from govshare.orgs.models import Organisation, OrgKind
from govshare.settings import get_settings
from govshare.workdays import BEIJING, Calendar, today


@dataclass
class DepartmentCatalog:
    org_id: int
    name: str
    compiled: int = 0
    published: int = 0
    pending: int = 0
    returned: int = 0
    oldest_returned_days: int | None = None
    drafts: int = 0
    stale: int = 0
    retired: int = 0

    @property
    def no_catalog(self) -> bool:
        return self.published == 0

    @property
    def problems(self) -> list[str]:
        found = []
        if self.compiled == 0:
            found.append("未编制目录")
        elif self.no_catalog:
            found.append("无已发布目录")
        if self.returned:
            found.append(f"{self.returned} 条退回未修改")
        if self.stale:
            found.append(f"{self.stale} 条长期未更新")
        return found


def department_catalogs(db: Session, *, actor: Actor, on: date | None = None) -> list[DepartmentCatalog]:
    """One row per active government body (not the Bureau, not enterprises), worst first."""
    require(actor, Action.catalog_supervise)
    on = on or today()
    stale_before: datetime = utcnow() - timedelta(days=get_settings().catalog_stale_days)
    rows = {
        org_id: DepartmentCatalog(org_id, name)
        for org_id, name in db.execute(
            select(Organisation.id, Organisation.name)
            .where(
                Organisation.is_active.is_(True),
                Organisation.kind.in_([OrgKind.department.value, OrgKind.district.value]),
            )
            .order_by(Organisation.id)
        )
    }
    for org_id, status, count in db.execute(
        select(Resource.org_id, Resource.status, func.count()).group_by(Resource.org_id, Resource.status)
    ):
        row = rows.get(org_id)
        if row is None:
            continue
        if status != EntryStatus.retired.value:
            row.compiled += count
        if status == EntryStatus.published.value:
            row.published += count
        elif status == EntryStatus.retired.value:
            row.retired += count
    for org_id, state, count in db.execute(
        select(Resource.org_id, ResourceVersion.state, func.count())
        .join(ResourceVersion, ResourceVersion.id == Resource.working_version_id)
        .group_by(Resource.org_id, ResourceVersion.state)
    ):
        row = rows.get(org_id)
        if row is None:
            continue
        if state == VersionState.submitted.value:
            row.pending += count
        elif state == VersionState.returned.value:
            row.returned += count
        elif state == VersionState.draft.value:
            row.drafts += count
    calendar = Calendar.load(db)  # the Bureau's holiday table counts, where it loaded a year
    for org_id, oldest in db.execute(
        select(Resource.org_id, func.min(ResourceVersion.reviewed_at))
        .join(ResourceVersion, ResourceVersion.id == Resource.working_version_id)
        .where(ResourceVersion.state == VersionState.returned.value)
        .group_by(Resource.org_id)
    ):
        if org_id in rows and oldest is not None:
            rows[org_id].oldest_returned_days = calendar.working_days_between(
                oldest.astimezone(BEIJING).date(), on
            ).days
    for org_id, count in db.execute(
        select(Resource.org_id, func.count())
        .where(Resource.status == EntryStatus.published.value, Resource.reviewed_at < stale_before)
        .group_by(Resource.org_id)
    ):
        if org_id in rows:
            rows[org_id].stale += count
    return sorted(rows.values(), key=lambda r: (-len(r.problems), r.published, r.org_id))
