"""Sensitive-data discovery (S13): sample the values a batch delivers and recognise identifiers.

Recognised by value, not by column name: 公民身份号码 (GB 11643 check digit), 手机号码, 银行卡号 (16–19
digits passing the Luhn check), 统一社会信用代码 (GB 32100) and 住址 (a place with a street or
house number). When most sampled values of an item are of a kind whose sensitivity is higher than the
item's catalog level, the item is flagged for the provider and the Bureau to correct the catalog.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govshare.exchange.quality import MOBILE
from govshare.identifiers import credit_code_valid, id_number_valid

SAMPLE_ROWS = 200
SHARE = 0.5  # an item is of a kind when at least this share of its sampled values are
LEVELS = ("L1", "L2", "L3", "L4")
# A place (…区/县/镇/乡) followed by a road and a house number, or a village (…村).
_ADDRESS = re.compile(r"(省|市|区|县|镇|乡)[^，,；;。〔〕()（）]{0,20}?((路|街|道|巷|弄)\d{1,5}号|[^\d\s]村)")
_DIGITS = re.compile(r"^\d{16,19}$")


def luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _id(value: str) -> bool:
    return len(value) == 18 and id_number_valid(value.upper())


def _bank_card(value: str) -> bool:
    return bool(_DIGITS.match(value)) and value[0] in "3456" and not _id(value) and luhn(value)


@dataclass(frozen=True)
class Kind:
    label: str
    level: str
    test: Callable[[str], bool]


KINDS = [
    Kind("公民身份号码", "L3", _id),
    Kind("银行卡号", "L3", _bank_card),
    Kind("手机号码", "L3", lambda v: bool(MOBILE.match(v))),
    Kind("统一社会信用代码", "L1", lambda v: len(v) == 18 and credit_code_valid(v.upper())),
    Kind("住址", "L3", lambda v: bool(_ADDRESS.search(v))),
]


def discover(items: list[dict[str, Any]], samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each textual item, the kind most of its sampled values are, when that kind needs a higher
    sensitivity level than the catalog gives the item."""
    flags = []
    for item in items:
        if item["data_type"] not in ("C", "M"):
            continue
        values = [str(row[item["name"]]) for row in samples if row.get(item["name"]) not in (None, "")]
        if not values:
            continue
        for kind in KINDS:
            hits = sum(1 for v in values if kind.test(v))
            if hits / len(values) < SHARE:
                continue
            catalog_level = item.get("sensitivity") or "L1"
            if LEVELS.index(kind.level) > LEVELS.index(catalog_level):
                flags.append(
                    {
                        "item": item["name"],
                        "title": item["title"],
                        "detected": kind.label,
                        "catalog_level": catalog_level,
                        "suggested_level": kind.level,
                        "share": round(hits / len(values), 2),
                    }
                )
            break
    return flags
