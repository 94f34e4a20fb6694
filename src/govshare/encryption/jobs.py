"""Data keys older than the setting are rotated, one resource per transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from govshare.authz import Actor
from govshare.catalog.models import Resource
from govshare.db import unit_of_work
from govshare.encryption import service
from govshare.jobs import job


@job("encryption.rotate_keys", every=lambda: timedelta(days=1))
def rotate_keys(db: Session) -> str:
    due = service.due_for_rotation(db)
    engine = db.get_bind()
    assert isinstance(engine, Engine)
    done = 0
    for resource_id in due:
        # Each resource in its own short transaction: writers of other resources never wait long.
        with unit_of_work(engine) as each:
            resource = each.get(Resource, resource_id)
            if resource is not None:
                service.rotate_resource(each, resource, actor=Actor.operator("scheduler"))
                done += 1
    return f"轮换 {done} 个资源的数据密钥"
