"""Encrypted cells of the exchange store, and their blind indexes.

An item whose level the classification scheme marks 须加密存储 is stored as text
`gs1:<key version>:<base64(nonce ‖ ciphertext ‖ tag)>`: SM4-GCM under the resource's data key, with
the resource and item as associated data (a cell copied into another column or resource does not
open). Beside it, the column `_bi_<item>` holds HMAC-SM3 of the value's text under the resource's
index key: equal values have equal digests, so equality and IN filters, the `unique` rule and
查询项 indexes work without decrypting, while the digest reveals nothing without the key.

`EncryptedText` does the work as the column's type: values are encrypted when bound and decrypted
(and parsed back to the item's type) when read, so the store's readers and writers keep using the
item's column. The keys come from a small cache that `prepare` fills from the database
(the type has no session), per thread and refreshed on every `store.table_for`.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

from sqlalchemy import Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from govshare.crypto import hmac_sm3, sm4_gcm_decrypt, sm4_gcm_encrypt
from govshare.encryption import keys
from govshare.exchange.quality import as_text, converter

PREFIX = "gs1"
BLIND_PREFIX = "_bi_"


def encrypted_items(db: Session, items: list[dict[str, Any]]) -> set[str]:
    """The items the Bureau's classification scheme requires to be stored encrypted (须加密存储: by
    default 核心数据 and L4)."""
    from govshare.classification import scheme

    loaded = scheme.load(db)
    return {str(i["name"]) for i in items if loaded.of_item(i).encrypted}


def blind_column(name: str) -> str:
    from govshare.crypto import sm3_hex
    from govshare.exchange.store import MAX_IDENTIFIER

    column = BLIND_PREFIX + name
    if len(column) > MAX_IDENTIFIER:
        column = f"{BLIND_PREFIX}{name[:40]}_{sm3_hex(name.encode())[:12]}"
    return column


# The keys of the resources the current thread's transaction works on, as `prepare` read them from
# that transaction: a key made in a transaction that then rolls back is never used by another.
_local = threading.local()


def prepare(db: Session, resource_id: int, *, create: bool = False) -> None:
    """Load the resource's keys for the work this thread does next in `db`'s transaction (making
    them on the first write when `create`). One small query; unwrapping is cached."""
    table = getattr(_local, "keys", None)
    if table is None:
        table = _local.keys = {}
    table[resource_id] = keys.ring(db, resource_id, create=create)


def forget(resource_id: int | None = None) -> None:
    table = getattr(_local, "keys", {})
    if resource_id is None:
        table.clear()
    else:
        table.pop(resource_id, None)


def _keys(resource_id: int) -> keys.Ring:
    found: keys.Ring | None = getattr(_local, "keys", {}).get(resource_id)
    if found is None:
        raise RuntimeError(f"keys of resource {resource_id} not loaded: call cells.prepare first")
    return found


def _aad(resource_id: int, item: str) -> bytes:
    return f"govshare/cell/{resource_id}/{item}".encode()


def encrypt(resource_id: int, item: str, text: str) -> str:
    key = _keys(resource_id).current
    if key is None:
        raise RuntimeError(f"resource {resource_id} has no data key yet: prepare(create=True) before writing")
    blob = sm4_gcm_encrypt(key.secret, text.encode(), _aad(resource_id, item))
    return f"{PREFIX}:{key.version}:{base64.b64encode(blob).decode()}"


def version_of(stored: str) -> int:
    prefix, version, _ = stored.split(":", 2)
    if prefix != PREFIX:
        raise ValueError("not an encrypted cell")
    return int(version)


def decrypt(resource_id: int, item: str, stored: str) -> str:
    found = _keys(resource_id)
    version = version_of(stored)
    key = found.versions.get(version)
    if key is None:
        raise keys.KeysDestroyed()
    blob = base64.b64decode(stored.split(":", 2)[2])
    return sm4_gcm_decrypt(key.secret, blob, _aad(resource_id, item)).decode()


def blind(resource_id: int, value: Any) -> str | None:
    """The blind index of a value (of any of the item's types): equal values, equal digests."""
    if value is None:
        return None
    index = _keys(resource_id).index
    if index is None:
        raise RuntimeError(f"resource {resource_id} has no index key yet")
    text = value if isinstance(value, str) else as_text(value)
    return hmac_sm3(index.secret, text.encode())


class EncryptedText(TypeDecorator[Any]):
    """An encrypted item's column: binds the item's values as encrypted text, reads them back
    decrypted and typed."""

    impl = Text
    cache_ok = True

    def __init__(self, resource_id: int, item: str, data_type: str, length: int | None) -> None:
        super().__init__()
        self.resource_id = resource_id
        self.item = item
        self.data_type = data_type
        self.length = length

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return encrypt(self.resource_id, self.item, value if isinstance(value, str) else as_text(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        text = decrypt(self.resource_id, self.item, value)
        return converter(self.data_type, self.length)(text)


def reveal(db: Session, resource_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """A quarantined row's fields for its provider: encrypted items decrypted (a destroyed key
    leaves the marker 已销毁)."""
    if not any(isinstance(v, str) and v.startswith(PREFIX + ":") for v in data.values()):
        return data
    prepare(db, resource_id)
    out = dict(data)
    for name, value in data.items():
        if isinstance(value, str) and value.startswith(PREFIX + ":"):
            try:
                out[name] = decrypt(resource_id, name, value)
            except (keys.KeysDestroyed, ValueError, RuntimeError):
                out[name] = "（密钥已销毁）"
    return out


def reencrypt_quarantine(db: Session, resource_id: int) -> int:
    """Rewrite the encrypted values of the resource's quarantined rows under its current data key
    (the caller has rotated it), so that erasing the older versions leaves them readable; returns
    the number of values rewritten. A value whose key is destroyed already stays as it is."""
    from sqlalchemy import select

    from govshare.exchange.models import QuarantinedRow

    prepare(db, resource_id)
    current = _keys(resource_id).current
    assert current is not None
    rewritten = 0
    for row in db.scalars(select(QuarantinedRow).where(QuarantinedRow.resource_id == resource_id)):
        data = dict(row.data)
        for name, value in row.data.items():
            if not (isinstance(value, str) and value.startswith(PREFIX + ":")):
                continue
            try:
                if version_of(value) != current.version:
                    data[name] = encrypt(resource_id, name, decrypt(resource_id, name, value))
                    rewritten += 1
            except (keys.KeysDestroyed, ValueError):
                continue
        if data != row.data:
            row.data = data
    db.flush()
    return rewritten


def reencrypt(db: Session, table: Any) -> int:
    """Rewrite every encrypted cell of a store `table` under the resource's current data key (the
    caller has rotated it); returns the number of cells rewritten. Reads go on meanwhile: a row is
    readable under its old key version until its new cell commits."""
    from sqlalchemy import Column, MetaData, String, Table, bindparam, update

    from govshare.exchange import store

    encrypted_columns = [c.name for c in table.columns if isinstance(c.type, EncryptedText)]
    if not encrypted_columns:
        return 0
    resource_id = table.columns[encrypted_columns[0]].type.resource_id
    current = _keys(resource_id).current
    assert current is not None
    raw = Table(
        table.name,
        MetaData(),
        Column("_key", String(64), primary_key=True),
        *(Column(n, Text) for n in encrypted_columns),
        schema=table.schema,
    )
    rewritten = 0
    for name in encrypted_columns:
        column = raw.c[name]
        write = update(raw).where(raw.c._key == bindparam("k")).values({name: bindparam("v")})
        for rows in store.by_key(db, raw.c._key, column):
            stale = [(k, v) for k, v in rows if version_of(v) != current.version]
            if stale:
                fresh = [
                    {"k": k, "v": encrypt(resource_id, name, decrypt(resource_id, name, v))} for k, v in stale
                ]
                db.execute(write, fresh)
                rewritten += len(stale)
    return rewritten
