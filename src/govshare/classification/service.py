"""Reading and editing the classification scheme (S13): every logged-in person who reads the catalog
reads it; Bureau administrators edit a level's name and controls, audited with the content before
and after. Tightening or loosening 元数据受限 re-indexes catalog search, so a hidden item's title is
never findable."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.classification import scheme
from govshare.classification.models import ClassificationLevel
from govshare.classification.schemas import LevelIn
from govshare.db import utcnow
from govshare.errors import Conflict, NotFound

_FIELDS = (*scheme.CONTROLS, "max_grant_days", "label", "description")


def ensure_levels(db: Session) -> list[ClassificationLevel]:
    """The scheme's rows in display order, creating any missing one from `scheme.DEFAULTS`."""
    rows = {(r.dimension, r.code): r for r in db.scalars(select(ClassificationLevel))}
    for level in scheme.DEFAULTS:
        if (level.dimension, level.code) not in rows:
            row = ClassificationLevel(
                dimension=level.dimension,
                code=level.code,
                rank=level.rank,
                label=level.label,
                description=level.description,
                **{name: getattr(level.controls, name) for name in (*scheme.CONTROLS, "max_grant_days")},
            )
            db.add(row)
            rows[(level.dimension, level.code)] = row
    db.flush()
    return [rows[(d, c)] for d, codes in scheme.DIMENSIONS.items() for c in codes]


def list_levels(db: Session, *, actor: Actor) -> list[ClassificationLevel]:
    require(actor, Action.catalog_view)
    rows = {(r.dimension, r.code): r for r in db.scalars(select(ClassificationLevel))}
    if len(rows) < len(scheme.DEFAULTS):
        return ensure_levels(db)
    return [rows[(d, c)] for d, codes in scheme.DIMENSIONS.items() for c in codes]


def _content(row: ClassificationLevel) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _FIELDS}


def update_level(
    db: Session, *, actor: Actor, dimension: str, code: str, data: LevelIn
) -> ClassificationLevel:
    """Replace one level's name, description and controls (Bureau administrators)."""
    require(actor, Action.classification_manage)
    if code not in scheme.DIMENSIONS.get(dimension, ()):
        raise NotFound("找不到该级别。", f"Level {dimension}/{code} not found.")
    ensure_levels(db)
    row = db.scalar(
        select(ClassificationLevel).where(
            ClassificationLevel.dimension == dimension, ClassificationLevel.code == code
        )
    )
    assert row is not None
    if data.version is not None and data.version != row.version:
        raise Conflict(
            "该级别已被他人修改，请刷新页面后重新编辑。",
            "The level changed since it was loaded: reload.",
            details={"version": row.version},
        )
    before = _content(row)
    for name in _FIELDS:
        setattr(row, name, getattr(data, name))
    changed = {k: v for k, v in _content(row).items() if before[k] != v}
    if not changed:
        return row
    row.updated_by, row.updated_at = actor.user_id, utcnow()
    db.flush()
    scheme.forget(db)
    if "restricted" in changed:
        from govshare.catalog.service import reindex_all

        reindex_all(db)
    audit.record(
        db,
        EventType.classification_changed,
        actor=actor,
        obj=row,
        details={
            "dimension": dimension,
            "code": code,
            "before": {k: before[k] for k in changed},
            "after": changed,
        },
    )
    return row
