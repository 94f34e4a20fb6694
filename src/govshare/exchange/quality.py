"""Quality rules (S15): each row is checked item by item and normalised to the item's type.

The rules follow from the catalog: a business-key item is required; a 字符型 item's length is a
maximum; numbers, dates (YYYY-MM-DD or YYYYMMDD), date-times and booleans must parse; items bound to
a standard data element get its check — 公民身份号码 the GB 11643 check digit, 统一社会信用代码 the
GB 32100 check character, 手机号码 the mobile number pattern; 性别 accepts 男/女 or the GB/T 2261.1
codes 1/2. A row that fails any rule is quarantined with every reason found, never dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from govshare.errors import Invalid
from govshare.identifiers import credit_code_valid, id_number_valid

MOBILE = re.compile(r"^1[3-9]\d{9}$")
GENDERS = {"男": "男", "女": "女", "1": "男", "2": "女"}
TRUE = {"是", "true", "t", "yes", "y", "1"}
FALSE = {"否", "false", "f", "no", "n", "0"}

Parse = Callable[[str], Any]


class Refused(ValueError):
    """A value broke a rule; the message (Chinese) says which and how to fix it."""


def _date(value: str) -> date:
    # The two common shapes without strptime (it dominates ingest time otherwise).
    try:
        if len(value) == 10 and value[4] == value[7] and value[4] in "-/":
            return date(int(value[:4]), int(value[5:7]), int(value[8:10]))
        if len(value) == 8 and value.isdigit():
            return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        raise Refused("不是有效的日期（格式应为 YYYY-MM-DD 或 YYYYMMDD）") from None
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise Refused("日期格式应为 YYYY-MM-DD 或 YYYYMMDD")


def _datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("/", "-"))
    except ValueError:
        raise Refused("时间格式应为 YYYY-MM-DD HH:MM:SS") from None


_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")


def _decimal(value: str) -> Decimal:
    if "," in value:  # only as a thousands separator: "12,5" is not 125
        if not _GROUPED.fullmatch(value.strip()):
            raise Refused("数字中的逗号只能作千位分隔符（如 1,234.50）；小数点请用“.”")
        value = value.replace(",", "")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise Refused("应为数字") from None
    if not number.is_finite():
        raise Refused("应为数字")
    return number


def _fits(integer_digits: int, places: int) -> Parse:
    """A decimal parser for a NUMERIC column: at most `integer_digits` before the point and
    `places` after it (the database would refuse the first and silently round the second)."""

    def parse(value: str) -> Decimal:
        number = _decimal(value)
        if number and number.adjusted() >= integer_digits:
            raise Refused(f"数值过大（整数部分最多 {integer_digits} 位）")
        _sign, digits, exponent = number.as_tuple()
        assert isinstance(exponent, int)  # finite: checked by _decimal
        if exponent < -places:
            written = "".join(map(str, digits)).rstrip("0")
            if len(digits) - len(written) < -exponent - places:
                raise Refused(f"小数最多 {places} 位")
        return number

    return parse


BIGINT = 2**63


def _integer(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise Refused("应为整数") from None
    if not -BIGINT <= number < BIGINT:
        raise Refused("整数超出范围（最多 18 位）")
    return number


def _float(value: str) -> float:
    number = float(_decimal(value))
    if not math.isfinite(number):
        raise Refused("数值超出范围")
    return number


def _boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise Refused("应为“是”或“否”")


def _id_number(value: str) -> str:
    value = value.upper()
    if not id_number_valid(value):
        raise Refused("不是有效的公民身份号码（18 位，校验码按 GB 11643 计算）")
    return value


def _credit_code(value: str) -> str:
    value = value.upper()
    if not credit_code_valid(value):
        raise Refused("不是有效的统一社会信用代码（18 位，校验码按 GB 32100 计算）")
    return value


def _mobile(value: str) -> str:
    if not MOBILE.match(value):
        raise Refused("不是有效的手机号码（11 位，以 13–19 开头）")
    return value


def _gender(value: str) -> str:
    try:
        return GENDERS[value]
    except KeyError:
        raise Refused("性别应为 男、女 或代码 1、2（GB/T 2261.1）") from None


# The exchange store's columns (store.column_type): N is NUMERIC(38, 10), Y NUMERIC(20, 2).
TYPE_PARSERS: dict[str, Parse] = {
    "N": _fits(28, 10),
    "Y": _fits(18, 2),
    "D": _date,
    "T": _datetime,
    "L": _boolean,
    "I": _integer,
    "B": _float,
    "F": _float,
}
# Checks of standard data elements (by element code, or by the item's title when it has none).
ELEMENT_CHECKS: dict[str, Parse] = {"DE0001": _id_number, "DE0002": _credit_code, "DE0006": _mobile}
TITLE_CHECKS: dict[str, Parse] = {
    "公民身份号码": _id_number,
    "统一社会信用代码": _credit_code,
    "手机号码": _mobile,
    "性别": _gender,
}


@dataclass(frozen=True)
class ItemRule:
    name: str
    title: str
    required: bool
    max_length: int | None
    parse: Parse | None
    check: Parse | None
    extra: tuple[Parse, ...] = ()  # the provider's own rules, on the parsed value


def rules_for(items: list[dict[str, Any]], extra: dict[str, list[Parse]] | None = None) -> list[ItemRule]:
    rules = []
    for item in items:
        check = ELEMENT_CHECKS.get(item.get("element") or "") or TITLE_CHECKS.get(item["title"])
        rules.append(
            ItemRule(
                name=item["name"],
                title=item["title"],
                required=bool(item.get("is_key")),
                max_length=item.get("length") if item["data_type"] == "C" else None,
                parse=TYPE_PARSERS.get(item["data_type"]),
                check=check,
                extra=tuple((extra or {}).get(item["name"], ())),
            )
        )
    return rules


def converter(data_type: str, length: int | None) -> Parse:
    """Text to a value of an item's type, for carrying stored values over when a new catalog version
    changes the item's type (`store.ensure_table`): the type's parser, or the length limit of 字符型.
    Raises `Refused` for a value that does not fit."""
    parse = TYPE_PARSERS.get(data_type)
    if parse is not None:
        return parse
    limit = length if data_type == "C" else None

    def text(value: str) -> str:
        if limit is not None and len(value) > limit:
            raise Refused(f"长度 {len(value)} 超过目录规定的 {limit}")
        return value

    return text


def as_text(value: Any) -> str:
    """A stored value written back as the text a provider would send, so that `converter` (and the
    parsers it uses) reads it: ISO dates, plain decimals without trailing zeros, 是/否."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text
    return str(value)


Reason = dict[str, str]


class RowChecker:
    """`check_row` for many rows: the rules unpacked once, and applied item by item down a column
    (ingest checks every row of a batch; one loop per item costs less than one per value)."""

    def __init__(self, rules: list[ItemRule]) -> None:
        self.rules = [(r.name, r.title, r.required, r.check, r.max_length, r.parse, r.extra) for r in rules]

    def columns(self, raws: list[dict[str, Any]]) -> tuple[list[list[Any]], dict[int, list[Reason]]]:
        """Each rule's values for `raws`, in their item types and in row order (None where empty or
        refused), and the reasons, in rule order, of every row that broke a rule (by row index)."""
        failed: dict[int, list[Reason]] = {}
        columns = []
        for name, title, required, check, max_length, parse, extra in self.rules:
            given = [
                g.strip() if g.__class__ is str else "" if g is None else str(g).strip()
                for g in [raw.get(name) for raw in raws]
            ]
            column: list[Any] = [v or None for v in given]
            if required:
                missing = {"item": name, "title": title, "reason": "业务主键不能为空"}
                for i in [i for i, v in enumerate(given) if not v]:
                    failed.setdefault(i, []).append(dict(missing))
            if check is None and parse is None and not extra:  # text: only its length to check
                if max_length is not None:
                    for i in [i for i, v in enumerate(given) if len(v) > max_length]:
                        value = given[i]
                        failed.setdefault(i, []).append(
                            {
                                "item": name,
                                "title": title,
                                "reason": f"长度 {len(value)} 超过目录规定的 {max_length}",
                                "value": value[:100],
                            }
                        )
                        column[i] = None
                columns.append(column)
                continue
            for i, value in enumerate(given):
                if not value:
                    continue
                try:
                    if check is not None:
                        value = check(value)
                    if max_length is not None and len(value) > max_length:
                        raise Refused(f"长度 {len(value)} 超过目录规定的 {max_length}")
                    parsed = parse(value) if parse is not None else value
                    for extra_check in extra:
                        extra_check(parsed)
                    column[i] = parsed
                except Refused as exc:
                    failed.setdefault(i, []).append(
                        {"item": name, "title": title, "reason": str(exc), "value": value[:100]}
                    )
                    column[i] = None
            columns.append(column)
        return columns, failed

    def __call__(self, raw: dict[str, Any]) -> tuple[dict[str, Any], list[Reason]]:
        columns, failed = self.columns([raw])
        return {rule[0]: column[0] for rule, column in zip(self.rules, columns, strict=True)}, failed.get(
            0, []
        )


def check_row(rules: list[ItemRule], raw: dict[str, Any]) -> tuple[dict[str, Any], list[Reason]]:
    """The row's values in their item types, and the reasons it breaks rules (empty when clean)."""
    return RowChecker(rules)(raw)


# --- the provider's own rules (exchange.rules keeps them; ingest runs them here) -------------------


@dataclass(frozen=True)
class ProviderRule:
    """A provider-defined rule as ingest needs it (`exchange.models.QualityRule` minus the database),
    plain data that a helper process can receive."""

    item_name: str
    kind: str
    params: dict[str, Any]
    message: str | None


def bound_of(value: str | None, data_type: str) -> Any:
    if value is None or value == "":
        return None
    try:
        if data_type == "D":
            return date.fromisoformat(value)
        return Decimal(value)
    except (ValueError, InvalidOperation):
        raise Invalid(
            f"范围边界“{value}”应为{'日期 YYYY-MM-DD' if data_type == 'D' else '数字'}。",
            "Bad range bound.",
            details={"field": "rules"},
        ) from None


def checks_for(rules: list[ProviderRule], items: list[dict[str, Any]]) -> dict[str, list[Parse]]:
    """Per item, the checks the provider's rules add (run on the parsed value); `unique` rules are not
    checks of one value (see `rules.unique_items`)."""
    types = {i["name"]: i["data_type"] for i in items}
    checks: dict[str, list[Parse]] = {}
    for rule in rules:
        if rule.item_name in types and rule.kind != "unique":
            checks.setdefault(rule.item_name, []).append(_provider_check(rule, types[rule.item_name]))
    return checks


def _provider_check(rule: ProviderRule, data_type: str) -> Parse:
    p, message = rule.params, rule.message
    if rule.kind == "regex":
        pattern = re.compile(p["pattern"])

        def regex(value: Any) -> Any:
            if not pattern.fullmatch(str(value)):
                raise Refused(message or f"不符合规定的格式 {p['pattern']}")
            return value

        return regex
    if rule.kind == "enum":
        allowed = frozenset(p["values"])

        def enum(value: Any) -> Any:
            if str(value) not in allowed:
                shown = "、".join(sorted(allowed)[:10])
                raise Refused(message or f"不在规定的取值范围内（{shown}{'…' if len(allowed) > 10 else ''}）")
            return value

        return enum
    if rule.kind == "range":
        low, high = bound_of(p.get("min"), data_type), bound_of(p.get("max"), data_type)

        def in_range(value: Any) -> Any:
            comparable = value if data_type == "D" else Decimal(str(value))
            if (low is not None and comparable < low) or (high is not None and comparable > high):
                raise Refused(message or f"超出规定的区间 [{p.get('min') or '—'}, {p.get('max') or '—'}]")
            return value

        return in_range
    low_len, high_len = p.get("min"), p.get("max")

    def length(value: Any) -> Any:
        size = len(str(value))
        if (low_len is not None and size < low_len) or (high_len is not None and size > high_len):
            raise Refused(message or f"长度 {size} 不在规定的 {low_len or 0}–{high_len or '∞'} 之间")
        return value

    return length
