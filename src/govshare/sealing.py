"""Secrets the platform must keep and use again (a source database's password), sealed with SM4-GCM.

Each purpose gets its own SM4 key, derived from the master key (`GOVSHARE_MASTER_KEY`) with
HMAC-SM3, and every sealed value is bound to the record it belongs to (the associated data), so a
sealed value copied onto another record does not open. A sealed value reads
`sm4gcm1:<key id>:<base64>`; the key id tells which master key sealed it.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from govshare.crypto import constant_time_equal, hmac_sm3, sm3_hex, sm4_gcm_decrypt, sm4_gcm_encrypt
from govshare.settings import get_settings

PREFIX = "sm4gcm1"


class SealError(ValueError):
    """A sealed value that cannot be opened with this master key (changed key, or tampered)."""


def _master() -> bytes:
    return bytes.fromhex(get_settings().secret("master_key"))


def key_id(master: bytes | None = None) -> str:
    return _key_id(master or _master())


def hmac_key(purpose: str) -> bytes:
    """A key for keyed digests (HMAC-SM3) derived from the master key, one per purpose."""
    return _derived(_master(), f"govshare/hmac/{purpose}")


def _key(master: bytes, purpose: str) -> bytes:
    return _derived(master, f"govshare/sm4/{purpose}")[:16]


# Derived keys are functions of the master key: kept per master key, so a new master key (a restore,
# a test's own) derives afresh, while the data API does not derive the same keys on every call.
@lru_cache(maxsize=64)
def _derived(master: bytes, label: str) -> bytes:
    return bytes.fromhex(hmac_sm3(master, label.encode()))


@lru_cache(maxsize=8)
def _key_id(master: bytes) -> str:
    return sm3_hex(b"govshare-key-id:" + master)[:8]


def seal(plaintext: str, *, purpose: str, context: str) -> str:
    master = _master()
    blob = sm4_gcm_encrypt(_key(master, purpose), plaintext.encode(), context.encode())
    return f"{PREFIX}:{key_id(master)}:{base64.b64encode(blob).decode()}"


def unseal(sealed: str, *, purpose: str, context: str) -> str:
    master = _master()
    try:
        prefix, kid, payload = sealed.split(":", 2)
        blob = base64.b64decode(payload, validate=True)
    except ValueError:
        raise SealError("not a sealed value") from None
    if prefix != PREFIX:
        raise SealError("not a sealed value")
    if not constant_time_equal(kid, key_id(master)):  # (any text: a caller's cursor)
        raise SealError("sealed with another master key")
    try:
        return sm4_gcm_decrypt(_key(master, purpose), blob, context.encode()).decode()
    except ValueError:
        raise SealError("sealed value does not open for this record") from None
