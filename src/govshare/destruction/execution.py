"""Executing a destruction: the data removed from the exchange store, the quarantine, the file
storage, exports and caches, and the evidence of what was removed — computed before it is removed.

Digests (each one SM3, hex; recomputable from a backup taken before the destruction):
- store rows: SM3 over the lines `<_key>:<_row_hash>\\n` of the removed rows, in `_key` order
  (retired rows included: they are data too);
- quarantined rows: SM3 over the lines `<id>:<SM3 of the canonical JSON of the row's data>\\n`, in
  id order (canonical JSON: keys sorted, no spaces, UTF-8, as the audit chain writes it);
- files: each file's own SM3, read from the disk before it is overwritten and removed.

Rows are deleted, never retired. A whole resource's store table is dropped (on PostgreSQL this
frees its data files at once, where a DELETE leaves dead row versions until vacuum). Database
changes come first and irreversible ones (overwriting files) last, so an error rolls back everything
that can be; a file removed before a failed commit leaves the request pending, and running it again
completes it.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from sqlalchemy import ColumnElement, Table, delete, false, func, select, true, update
from sqlalchemy.orm import Session

from govshare import generation
from govshare.audit.service import canonical_json
from govshare.catalog.models import Resource
from govshare.crypto import sm3_hex
from govshare.destruction.models import DestructionRequest
from govshare.encryption import cells
from govshare.errors import Invalid
from govshare.exchange import store
from govshare.exchange.access import published_items
from govshare.exchange.files import storage_dir
from govshare.exchange.ingest import lock_batches
from govshare.exchange.models import Batch, QuarantinedRow, ResourceFile
from govshare.exchange.trace import business_key
from govshare.masking import service as masking
from govshare.settings import get_settings
from govshare.sharing.models import DataExport

KEY_CHUNK = 500
READ_CHUNK = 1024 * 1024


class Digest:
    """SM3 over lines fed one at a time (memory stays flat in the number of rows)."""

    def __init__(self) -> None:
        self._hash = hashes.Hash(hashes.SM3())
        self.count = 0

    def add(self, line: str) -> None:
        self._hash.update(f"{line}\n".encode())
        self.count += 1

    def hexdigest(self) -> str:
        return self._hash.finalize().hex()


def file_sm3(path: Path) -> str:
    digest = hashes.Hash(hashes.SM3())
    with path.open("rb") as f:
        while chunk := f.read(READ_CHUNK):
            digest.update(chunk)
    return digest.finalize().hex()


@dataclass
class Count:
    """How much data a request covers now."""

    rows: int = 0
    quarantined: int = 0
    files: int = 0
    exports: int = 0


@dataclass
class Removal:
    rows: int
    quarantined: int
    files: int
    evidence: dict[str, Any] = field(default_factory=dict)


# --- what a request covers -----------------------------------------------------------------------


def _conditions(table: Table, request: DestructionRequest) -> Iterator[ColumnElement[bool]]:
    """The store rows of the request, as one or more WHERE conditions (keys go in chunks, in key
    order, so digests over the chunks one after the other follow the global key order)."""
    match request.scope:
        case "resource":
            yield true()
        case "batches":
            yield table.c._batch_id.in_(request.batch_ids or [])
        case "keys":
            keys = sorted(request.row_keys or [])
            for i in range(0, len(keys), KEY_CHUNK):
                yield table.c._key.in_(keys[i : i + KEY_CHUNK])
        case "time_range":
            assert request.received_from is not None and request.received_until is not None
            yield (table.c._received_at >= request.received_from) & (
                table.c._received_at < request.received_until
            )
        case _:
            yield false()


def _quarantined(db: Session, request: DestructionRequest, resource: Resource) -> list[QuarantinedRow]:
    """The quarantined rows the request covers, in id order.

    By key: the quarantined rows of the resource whose business-key values, checked as ingest
    checks them, give one of the request's keys (a row whose key values do not even parse cannot
    be matched to a key). By time range: the rows of batches received in the range."""
    stmt = select(QuarantinedRow).where(QuarantinedRow.resource_id == resource.id).order_by(QuarantinedRow.id)
    match request.scope:
        case "resource":
            return list(db.scalars(stmt))
        case "batches":
            return list(db.scalars(stmt.where(QuarantinedRow.batch_id.in_(request.batch_ids or []))))
        case "time_range":
            return list(
                db.scalars(
                    stmt.join(Batch, Batch.id == QuarantinedRow.batch_id).where(
                        Batch.received_at >= request.received_from,
                        Batch.received_at < request.received_until,
                    )
                )
            )
        case "keys":
            wanted = set(request.row_keys or [])
            items = published_items(db, resource)
            found = []
            for row in db.scalars(stmt):
                if row.row_key is not None:  # recorded at quarantine (rows since 2026-11-30)
                    key = row.row_key
                else:  # an older row: its key values, encrypted ones opened first
                    data = cells.reveal(db, resource.id, row.data)
                    try:
                        key = business_key(items, {k: str(v) for k, v in data.items() if v is not None})
                    except Invalid:
                        continue
                if key in wanted:
                    found.append(row)
            return found
    return []


def _files(resource: Resource) -> list[Path]:
    folder = storage_dir(resource.id)
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def count(db: Session, request: DestructionRequest) -> Count:
    resource = db.get(Resource, request.resource_id)
    assert resource is not None
    result = Count()
    if store.exists(db, resource.id):
        table = store.table_for(db, resource.id, [])
        for condition in _conditions(table, request):
            result.rows += int(db.scalar(select(func.count()).select_from(table).where(condition)) or 0)
    result.quarantined = len(_quarantined(db, request, resource))
    if request.scope == "resource":
        result.files = len(_files(resource))
        result.exports = len(_open_exports(db, resource))
    return result


def _open_exports(db: Session, resource: Resource) -> list[DataExport]:
    return list(
        db.scalars(
            select(DataExport)
            .where(DataExport.resource_id == resource.id, DataExport.status.in_(("pending", "approved")))
            .order_by(DataExport.id)
        )
    )


# --- removing ------------------------------------------------------------------------------------


def remove(db: Session, request: DestructionRequest) -> Removal:
    """Remove what the request covers, in the caller's transaction, and return the evidence."""
    resource = db.get(Resource, request.resource_id)
    assert resource is not None
    lock_batches(db, resource.id)  # no batch of this resource runs while its data is destroyed
    evidence: dict[str, Any] = {"resource_id": resource.id, "resource": resource.name}
    rows = _store(db, request, resource, evidence)
    quarantined = _quarantine(db, request, resource, evidence)
    evidence["exports"] = _exports(db, request, resource)
    files = _stored_files(db, request, resource, evidence)
    # Nothing cached holds row values, but the cached Table of a dropped store table must not
    # outlive it, and compiled maskers are rebuilt from the rules on the next call anyway. Reading
    # plans name the store table: a new generation, once this commits, makes every process (this
    # one too) build them again.
    store._table.cache_clear()
    masking.clear_maskers()
    generation.renew(db)
    evidence["caches_cleared"] = ["store_tables", "maskers", "reading_plans"]
    return Removal(rows=rows, quarantined=quarantined, files=files, evidence=evidence)


def _store(db: Session, request: DestructionRequest, resource: Resource, evidence: dict[str, Any]) -> int:
    digest = Digest()
    name = store.table_for(db, resource.id, [])
    label = f"{name.schema}.{name.name}" if name.schema else name.name
    if not store.exists(db, resource.id):
        evidence["store"] = {"table": label, "rows": 0, "digest": digest.hexdigest(), "dropped": False}
        return 0
    table = name
    conditions = list(_conditions(table, request))
    for condition in conditions:
        for key, row_hash in db.execute(
            select(table.c._key, table.c._row_hash).where(condition).order_by(table.c._key)
        ):
            digest.add(f"{key}:{row_hash}")
    removed = 0
    if request.scope == "resource":
        table.drop(db.connection())
        removed = digest.count
    else:
        for condition in conditions:
            result = db.execute(delete(table).where(condition))
            removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    # The resource's row lock keeps ingest out, so what was digested is exactly what was deleted.
    assert removed == digest.count, (removed, digest.count)
    evidence["store"] = {
        "table": label,
        "rows": removed,
        "digest": digest.hexdigest(),
        "dropped": request.scope == "resource",
    }
    return removed


def _quarantine(
    db: Session, request: DestructionRequest, resource: Resource, evidence: dict[str, Any]
) -> int:
    found = _quarantined(db, request, resource)
    digest = Digest()
    for row in found:
        digest.add(f"{row.id}:{sm3_hex(canonical_json(row.data).encode())}")
    ids = [row.id for row in found]
    for i in range(0, len(ids), KEY_CHUNK):
        db.execute(
            delete(QuarantinedRow).where(QuarantinedRow.id.in_(ids[i : i + KEY_CHUNK])),
            execution_options={"synchronize_session": False},
        )
    for row in found:
        db.expunge(row)
    evidence["quarantine"] = {"rows": len(found), "digest": digest.hexdigest()}
    return len(found)


def _exports(db: Session, request: DestructionRequest, resource: Resource) -> dict[str, Any]:
    """A whole resource's pending and approved exports can no longer be downloaded. Export files
    are generated from the store at each download and never kept, so after a partial destruction
    no export can contain the removed rows either."""
    if request.scope != "resource":
        return {"closed": [], "note": "exports are generated from the store at download"}
    closed = _open_exports(db, resource)
    if closed:
        db.execute(
            update(DataExport)
            .where(DataExport.id.in_([e.id for e in closed]))
            .values(status="destroyed", lock_version=DataExport.lock_version + 1),
            execution_options={"synchronize_session": False},
        )
        for export in closed:
            db.expire(export)
    return {"closed": [e.id for e in closed]}


def _stored_files(
    db: Session, request: DestructionRequest, resource: Resource, evidence: dict[str, Any]
) -> int:
    """A whole resource's stored files: each recorded with its SM3, its record deleted, then the
    file overwritten and removed (the folder too). Partial scopes have no files (file resources are
    destroyed whole)."""
    if request.scope != "resource":
        evidence["files"] = []
        return 0
    data_dir = get_settings().data_dir
    paths = _files(resource)
    listed = [
        {"path": str(p.relative_to(data_dir)), "size": p.stat().st_size, "sm3": file_sm3(p)} for p in paths
    ]
    records = db.scalars(select(ResourceFile).where(ResourceFile.resource_id == resource.id)).all()
    on_disk = {f["path"] for f in listed}
    listed += [
        {"path": r.path, "size": r.size_bytes, "sm3": r.sm3, "missing": True}
        for r in records
        if r.path not in on_disk
    ]
    db.execute(
        delete(ResourceFile).where(ResourceFile.resource_id == resource.id),
        execution_options={"synchronize_session": False},
    )
    for record in records:
        db.expunge(record)
    db.flush()
    for path in paths:
        _overwrite(path)
    shutil.rmtree(storage_dir(resource.id), ignore_errors=True)
    evidence["files"] = sorted(listed, key=lambda f: str(f["path"]))
    return len(paths)


def _overwrite(path: Path) -> None:
    """Overwrite the file with random bytes, sync, then remove it."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        left = size
        while left > 0:
            n = min(left, READ_CHUNK)
            f.write(secrets.token_bytes(n))
            left -= n
        f.flush()
        os.fsync(f.fileno())
    path.unlink()
