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


def _key(scope: str) -> bytes:
    return hmac_key(f"sharing-row-id/{scope}")[:16]


def row_id(org_id: int, key: str, *, export_id: int | None = None) -> str:
    """The identifier department `org_id` sees for the store row `key` (in the data API), or that the
    file of export `export_id` carries (its fingerprint: another key per export)."""
    scope = f"export/{export_id}" if export_id is not None else str(org_id)
    return sm4_blocks(_key(scope), bytes.fromhex(key)).hex()


def row_key(org_id: int, identifier: str, *, export_id: int | None = None) -> str | None:
    """The store row behind an identifier given to department `org_id` (or in export `export_id`'s
    file); None for anything that is not an identifier. An identifier of another department or
    export opens to a random value that matches no row."""
    if not _ROW_ID.fullmatch(identifier):
        return None
    scope = f"export/{export_id}" if export_id is not None else str(org_id)
    return sm4_blocks(_key(scope), bytes.fromhex(identifier), decrypt=True).hex()


class RowIds:
    """`row_id` for many rows of one department (or export): the key derived once, and a page of
    identifiers encrypted in one SM4 pass (the data API gives one per row it returns)."""

    def __init__(self, org_id: int, *, export_id: int | None = None) -> None:
        self.key = _key(f"export/{export_id}" if export_id is not None else str(org_id))

    def many(self, keys: list[str]) -> list[str]:
        if not keys:
            return []
        blob = sm4_blocks(self.key, bytes.fromhex("".join(keys))).hex()
        return [blob[i : i + 64] for i in range(0, len(blob), 64)]
