"""Tracing one row to where it came from (S14): given a business key, the batch that last wrote the
row, its source system and channel, when, the sync run if any, and whether it was retired — the
provenance only, never the row's values.

Knowing whether a key is in a resource is itself information about a person or a company, so only
those who supervise the resource's data (`provision_view`: the provider's data administrator and
security officer, the Bureau) may trace, and every trace is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor
from govshare.errors import Invalid
from govshare.exchange import store
from govshare.exchange.access import provision_resource, published_items
from govshare.exchange.keys import row_key
from govshare.exchange.models import Batch
from govshare.exchange.quality import check_row, rules_for
from govshare.systems.models import BusinessSystem


@dataclass(frozen=True)
class RowTrace:
    found: bool
    key: str
    batch_id: str | None = None
    received_at: datetime | None = None
    channel: str | None = None
    system: str | None = None
    sync_run_id: int | None = None
    catalog_version: int | None = None
    row_sm3: str | None = None
    retired_at: datetime | None = None
    retired_batch_id: str | None = None


def business_key(items: list[dict[str, Any]], key_values: dict[str, str]) -> str:
    """The store's `_key` of the row with these business-key values, checked as ingest checks them
    (Invalid, naming what is missing or wrong, otherwise)."""
    key_items = [i for i in items if i.get("is_key")]
    keys = [i["name"] for i in key_items]
    if not keys:
        raise Invalid("该资源没有业务主键，无法按行定位。", "The resource has no business key.")
    missing = [i["title"] for i in key_items if not str(key_values.get(i["name"], "")).strip()]
    if missing:
        raise Invalid(
            f"请填写业务主键：{'、'.join(missing)}。",
            "Give every business-key value.",
            details={"field": "key"},
        )
    values, reasons = check_row(rules_for(key_items), key_values)
    if reasons:
        raise Invalid(
            "；".join(f"{r['title']}：{r['reason']}" for r in reasons) + "。",
            "A key value is not valid.",
            details={"field": "key"},
        )
    return row_key(values, keys)


def trace(db: Session, *, actor: Actor, resource_id: int, key_values: dict[str, str]) -> RowTrace:
    """Where the row with these business-key values came from (`found` false when there is none)."""
    resource = provision_resource(db, actor=actor, resource_id=resource_id, action=Action.provision_view)
    key = business_key(published_items(db, resource), key_values)
    result = RowTrace(found=False, key=key)
    if store.exists(db, resource.id):
        table = store.table_for(db, resource.id, [])
        row = db.execute(
            select(
                table.c._batch_id,
                table.c._received_at,
                table.c._row_hash,
                table.c._retired_at,
                table.c._retired_batch_id,
            ).where(table.c._key == key)
        ).first()
        if row is not None:
            batch = db.get(Batch, row._batch_id)
            system = db.get(BusinessSystem, batch.system_id) if batch and batch.system_id else None
            result = RowTrace(
                found=True,
                key=key,
                batch_id=row._batch_id,
                received_at=row._received_at,
                channel=batch.source if batch else None,
                system=system.name if system else None,
                sync_run_id=batch.sync_run_id if batch else None,
                catalog_version=batch.version_number if batch else None,
                row_sm3=row._row_hash,
                retired_at=row._retired_at,
                retired_batch_id=row._retired_batch_id,
            )
    audit.record(
        db,
        EventType.row_traced,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={"key_sm3": key, "found": result.found, "batch_id": result.batch_id},
    )
    return result
