"""Finding the resource and batch a provision request is about, with the permission it needs."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, require
from govshare.catalog import service as catalog
from govshare.catalog.models import Resource, ResourceVersion
from govshare.errors import NotFound
from govshare.exchange.models import Batch


def provision_resource(db: Session, *, actor: Actor, resource_id: int, action: Action) -> Resource:
    """The entry, when `actor` may see it and take `action` on its data (NotFound, Forbidden otherwise)."""
    resource = catalog.get_resource(db, actor=actor, resource_id=resource_id)
    require(actor, action, resource)
    return resource


def published_items(db: Session, resource: Resource) -> list[dict[str, Any]]:
    """The items of the resource's published catalog version (none while it has no such version)."""
    if resource.published_version_id is None:
        return []
    version = db.get(ResourceVersion, resource.published_version_id)
    assert version is not None
    return version.items


def batch_of(db: Session, resource: Resource, batch_id: str) -> Batch:
    """A batch of `resource`; another resource's batch is as missing as an unknown one."""
    batch = db.get(Batch, batch_id)
    if batch is None or batch.resource_id != resource.id:
        raise NotFound("找不到该数据批次，请从资源的数据页重新进入。", f"Batch {batch_id} not found.")
    return batch
