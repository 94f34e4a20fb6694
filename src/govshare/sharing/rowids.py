"""Row identifiers for consumers (`_row_id`).

The exchange store keys rows by `_key`, an unkeyed SM3 of the business key: shown to a consumer it
would reveal masked ID numbers to a dictionary attack (their structure leaves few candidates). A
consumer sees instead the `_key` encrypted with SM4 under a key derived from the master key for its
own department: stable across pages, the change feed and feedback, different for every department
(two copies cannot be linked by it), and only the platform can turn it back into the row.
"""

from __future__ import annotations

import re

from govshare.crypto import sm4_blocks
from govshare.sealing import hmac_key

_ROW_ID = re.compile(r"[0-9a-f]{64}")


def _key(org_id: int) -> bytes:
    return hmac_key(f"sharing-row-id/{org_id}")[:16]


def row_id(org_id: int, key: str) -> str:
    """The identifier department `org_id` sees for the store row `key`."""
    return sm4_blocks(_key(org_id), bytes.fromhex(key)).hex()


def row_key(org_id: int, identifier: str) -> str | None:
    """The store row behind an identifier department `org_id` was given (None for anything else)."""
    if not _ROW_ID.fullmatch(identifier):
        return None
    return sm4_blocks(_key(org_id), bytes.fromhex(identifier), decrypt=True).hex()
