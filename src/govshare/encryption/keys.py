"""Per-resource keys: create, find, rotate, destroy.

Key-encryption key of resource r = first 16 bytes of HMAC-SM3(master-derived key, vault secret of
r ‖ r). A data key (16 random bytes, SM4) is stored wrapped under it with SM4-GCM, bound to its
resource, kind and version as associated data. Losing either the master key or the vault secret
makes the resource's keys unusable; destroying the vault secret is how keys are destroyed.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.crypto import hmac_sm3, sm4_gcm_decrypt, sm4_gcm_encrypt
from govshare.db import utcnow
from govshare.encryption import vault
from govshare.encryption.models import DataKey
from govshare.errors import Conflict
from govshare.sealing import hmac_key


class KeysDestroyed(Conflict):
    default_zh = "该资源的加密密钥已销毁，加密存储的数据无法再读取。"
    default_en = "The resource's encryption keys have been destroyed; its encrypted data cannot be read."


@dataclass(frozen=True)
class Key:
    resource_id: int
    kind: str
    version: int
    secret: bytes


def _aad(resource_id: int, kind: str, version: int) -> bytes:
    return f"govshare/data-key/{resource_id}/{kind}/v{version}".encode()


def _kek(resource_id: int, *, create: bool = False) -> bytes | None:
    secret = vault.secret(resource_id, create=create)
    if secret is None:
        return None
    return bytes.fromhex(hmac_sm3(hmac_key("data-key-kek"), secret + str(resource_id).encode()))[:16]


def _unwrap(row: DataKey, kek: bytes | None) -> Key:
    """The key of `row`, opened with its resource's key-encryption key (`_kek`)."""
    if row.wrapped is None or row.destroyed_at is not None or kek is None:
        raise KeysDestroyed()
    return Key(
        row.resource_id,
        row.kind,
        row.version,
        _open(kek, row.wrapped, row.resource_id, row.kind, row.version),
    )


@lru_cache(maxsize=1024)
def _open(kek: bytes, wrapped: str, resource_id: int, kind: str, version: int) -> bytes:
    return sm4_gcm_decrypt(kek, base64.b64decode(wrapped), _aad(resource_id, kind, version))


def _rows(db: Session, resource_id: int, kind: str) -> list[DataKey]:
    return list(
        db.scalars(
            select(DataKey)
            .where(DataKey.resource_id == resource_id, DataKey.kind == kind)
            .order_by(DataKey.version.desc())
        )
    )


def _create(db: Session, resource_id: int, kind: str, version: int) -> DataKey:
    kek = _kek(resource_id, create=True)
    assert kek is not None
    row = DataKey(
        resource_id=resource_id,
        kind=kind,
        version=version,
        wrapped=base64.b64encode(
            sm4_gcm_encrypt(kek, os.urandom(16), _aad(resource_id, kind, version))
        ).decode(),
        created_at=utcnow(),
    )
    db.add(row)
    db.flush()
    return row


def all_rows(db: Session, resource_id: int) -> list[DataKey]:
    """Every key row of the resource, newest version first."""
    return list(
        db.scalars(select(DataKey).where(DataKey.resource_id == resource_id).order_by(DataKey.version.desc()))
    )


@dataclass(frozen=True)
class Ring:
    """The usable keys of a resource: the data key new cells are written with, every data-key
    version cells may have been written with, and the blind-index key."""

    current: Key | None
    versions: dict[int, Key]
    index: Key | None


def ring(db: Session, resource_id: int, *, create: bool = False) -> Ring:
    """The resource's keys (one query); with `create`, a first data and index key are made when
    none is usable — also after the keys were destroyed, under a new vault secret."""
    rows = all_rows(db, resource_id)
    live = {
        kind: [r for r in rows if r.kind == kind and r.destroyed_at is None] for kind in ("data", "index")
    }
    if create:
        for kind in ("data", "index"):
            if not live[kind]:
                top = max((r.version for r in rows if r.kind == kind), default=0)
                live[kind] = [_create(db, resource_id, kind, top + 1)]
    data, index = live["data"], live["index"]
    kek = _kek(resource_id) if data or index else None  # one read of the vault for all of them
    versions = {r.version: _unwrap(r, kek) for r in data}
    return Ring(
        current=versions[data[0].version] if data else None,
        versions=versions,
        index=_unwrap(index[0], kek) if index else None,
    )


def rotate(db: Session, resource_id: int) -> Key:
    """A new data-key version for new writes; the previous ones stay readable until every cell has
    been re-encrypted (`cells.reencrypt`), then they are erased (`retire_older`)."""
    rows = _rows(db, resource_id, "data")
    created = _create(db, resource_id, "data", (rows[0].version if rows else 0) + 1)
    return _unwrap(created, _kek(resource_id))


def retire_older(db: Session, resource_id: int, version: int) -> int:
    """Mark data keys older than `version` retired and erase them (nothing is written with them
    any more); returns how many."""
    now = utcnow()
    count = 0
    for row in _rows(db, resource_id, "data"):
        if row.version < version and row.retired_at is None:
            row.retired_at, row.wrapped = now, None
            row.destroyed_at = now
            row.destroyed_by = "rotation"
            count += 1
    return count


def destroy(db: Session, resource_id: int, *, by: str) -> int:
    """Destroy every key of the resource: the wrapped keys are erased and the vault secret is
    overwritten and removed, so cells encrypted under them — here and in every backup — can never
    be read again. Returns the number of key versions destroyed."""
    now = utcnow()
    count = 0
    for row in db.scalars(select(DataKey).where(DataKey.resource_id == resource_id)):
        if row.destroyed_at is None:
            count += 1
        row.wrapped, row.destroyed_at, row.destroyed_by = (
            None,
            row.destroyed_at or now,
            row.destroyed_by or by,
        )
    db.flush()
    vault.destroy(resource_id)
    _open.cache_clear()
    return count
