"""Key rotation, on demand (`govshare keys rotate`) and by age (job `encryption.rotate_keys`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.audit.events import EventType
from govshare.audit.service import record
from govshare.authz import Actor
from govshare.catalog.models import Resource
from govshare.db import utcnow
from govshare.encryption import cells, keys
from govshare.encryption.models import DataKey
from govshare.exchange import store
from govshare.settings import get_settings


@dataclass(frozen=True)
class Rotated:
    resource_id: int
    version: int
    cells: int
    retired: int


def rotate_resource(db: Session, resource: Resource, *, actor: Actor) -> Rotated:
    """A new data key for the resource, every encrypted cell rewritten under it, the older versions
    erased; audited."""
    from govshare.exchange.access import published_items

    new = keys.rotate(db, resource.id)
    rewritten = 0
    if store.exists(db, resource.id):
        table = store.table_for(db, resource.id, published_items(db, resource), writing=True)
        rewritten = cells.reencrypt(db, table)
    rewritten += cells.reencrypt_quarantine(db, resource.id)  # quarantined rows hold cells too
    retired = keys.retire_older(db, resource.id, new.version)
    cells.forget(resource.id)
    record(
        db,
        EventType.data_key_rotated,
        actor=actor,
        obj=resource,
        details={"version": new.version, "cells": rewritten, "retired_versions": retired},
    )
    return Rotated(resource.id, new.version, rewritten, retired)


def due_for_rotation(db: Session) -> list[int]:
    """Resources whose current data key is older than `GOVSHARE_KEY_ROTATION_DAYS`."""
    limit = utcnow() - timedelta(days=get_settings().key_rotation_days)
    newest = (
        select(DataKey.resource_id, func.max(DataKey.created_at).label("at"))
        .where(DataKey.kind == "data", DataKey.destroyed_at.is_(None))
        .group_by(DataKey.resource_id)
        .subquery()
    )
    return list(db.scalars(select(newest.c.resource_id).where(newest.c.at < limit)))
