"""The hashes the exchange store matches rows by: a row's business key and its content.

Values are the items' parsed values (`quality.check_row`), written canonically (None as "",
date-times in ISO form) and joined by U+001F before SM3. Ingest stores them as `_key` and
`_row_hash`; tracing a row computes the same key from the values a person types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from govshare.crypto import sm3_hex, sm3_hex_texts


def canonical(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def row_key(values: dict[str, Any], keys: list[str]) -> str:
    """The store's `_key`: SM3 of the business-key values."""
    texts = [v if (v := values[k]).__class__ is str else canonical(v) for k in keys]
    return sm3_hex("\x1f".join(texts).encode())


def row_hash(values: dict[str, Any], names: list[str]) -> str:
    """The store's `_row_hash`: SM3 of every item's value (an unchanged row is not rewritten)."""
    # Most values are text already; the list (not a generator) is what str.join wants anyway.
    texts = [v if v.__class__ is str else canonical(v) for v in map(values.get, names)]
    return sm3_hex("\x1f".join(texts).encode())


def texts(column: list[Any]) -> list[str]:
    """`canonical` down a column (ingest hashes a chunk column by column)."""
    return [v if v.__class__ is str else canonical(v) for v in column]


def digests(columns: list[list[str]]) -> list[str]:
    """SM3 of each row of canonical text columns, as `row_key` and `row_hash` compute it for one row."""
    return sm3_hex_texts(columns[0] if len(columns) == 1 else map("\x1f".join, zip(*columns, strict=True)))
