"""Masking (脱敏, S23): rules that hide part of a value, and paths that say where in a JSON document
they apply. Reusable: API-service resources apply them to every answer; the sharing module adds the
Bureau's own rules on top.

Rules (what is kept; every hidden character becomes one `*`, except for addresses):

- `id_number`: the first 6 and last 4 characters, 130102198503177718 → 130102********7718; the
  15-digit IDs of the first generation are treated alike (130102850317771 → 130102*****7771)
- `mobile`: the first 3 and last 4, 13912345678 → 139****5678; a leading +86 / 0086 is dropped
- `name`: the surname, compound ones (欧阳、司马、诸葛 …) whole, 欧阳娜娜 → 欧阳**, 张伟 → 张*
- `bank_card`: the first 6 and last 4, 6222021234567890123 → 622202*********0123
- `address`: up to the district or county, then a fixed `****`,
  河北省石家庄市长安区中山东路39号 → 河北省石家庄市长安区****
- `keep(first,last)`, also written `mask(first,last)`: the first and last characters given, the
  middle replaced by `*`, keep(1,1) on 石家庄 → 石*庄
- `date_year` / `date_month`: a date generalised to its year or month, 2026-11-27 → 2026 / 2026-11
- `region(n)`: a 行政区划代码 cut to its first n digits (2: province, 4: city) and padded with 0,
  region(4) on 130102 → 130100
- `nullify`: the value becomes null
- `pseudonym`: a keyed HMAC-SM3 of the value (key derived from the master key), its first 32 hex
  digits written as the letters a–p (0 → a … f → p): equal values give equal pseudonyms, so joins
  still work, but they cannot be reversed without the key; written with letters, a pseudonym never
  looks like an ID, mobile or card number to a checker scanning delivered data

Spaces and hyphens are dropped from ID, mobile and card numbers first. A value too short to keep
anything (no more characters than those kept) is hidden whole, and an object or array where a text
rule applies becomes null: when in doubt, hide. null stays null. Values that are not text (numbers,
Decimal, dates, booleans) are written as text first (`str`, ISO dates) and then masked; the date
rules read `date`/`datetime` values and ISO-like text (2026-11-27, 2026/11/27, 20261127,
2026年11月27日, with or without a time) and give null for anything else, and `region(n)` gives null
for anything but 6, 9 or 12 digits.

Paths: names separated by dots, `[*]` after a name (or at the start) for every element of an array:
`data[*].sfzh`, `result.owner.mobile`, `[*].name`, `rows[*][*].phone`. A name is letters (Chinese
too), digits, `_` or `-`. A missing field is nothing to mask; a field of the wrong kind (an object
where the path expects an array, or a value where it expects an object) raises `ShapeError`, so
that a changed upstream format is refused instead of passing unmasked data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac

from govshare.sealing import hmac_key

RULES: dict[str, str] = {
    "id_number": "公民身份号码（保留前 6 位和后 4 位）",
    "mobile": "手机号码（保留前 3 位和后 4 位）",
    "name": "姓名（保留姓氏）",
    "bank_card": "银行卡号（保留前 6 位和后 4 位）",
    "address": "地址（保留到区县）",
    "keep": "保留首尾 keep(前,后)，中间以 * 替换",
    "date_year": "日期（只保留年份）",
    "date_month": "日期（只保留年月）",
    "region": "行政区划代码（保留前 n 位，其余补 0）region(n)",
    "nullify": "置空",
    "pseudonym": "假名化（带密钥 HMAC-SM3）",
}
# Rules written with arguments; the others are written as their bare name.
WITH_ARGUMENTS = frozenset({"keep", "region"})
REGION_LEVELS = (2, 4)
MAX_KEEP = 50
MAX_PATH = 200
MAX_STEPS = 16
EACH = None  # the `[*]` step

COMPOUND_SURNAMES = frozenset(
    {
        *("欧阳", "司马", "诸葛", "上官", "皇甫", "令狐", "慕容", "尉迟", "长孙", "宇文", "司徒"),
        *("夏侯", "东方", "公孙", "轩辕", "司空", "端木", "独孤", "南宫", "西门", "百里", "呼延"),
        *("万俟", "闻人", "东郭", "钟离", "澹台", "公冶", "太叔", "申屠", "赫连", "濮阳", "单于"),
    }
)

_KEEP = re.compile(r"(?:keep|mask)\((\d{1,3}),(\d{1,3})\)")
_REGION = re.compile(r"region\((\d{1,3})\)")
_REGION_CODE = re.compile(r"\d{6}|\d{9}|\d{12}")
# Year and month at the start of a date written as text: 2026-11-27, 2026/11, 20261127, 2026年11月.
_YEAR_MONTH = re.compile(r"(\d{4})(?:[-/.年](\d{1,2})(?!\d)|(\d{2})(?=\d{2}(?:\D|$)|$))?")
_NAME = r"[\w\-]+"
_SEGMENT = re.compile(rf"({_NAME})?((?:\[\*\])*)")
_NUMBER_NOISE = re.compile(r"[\s\-]")
_HEX_AS_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")
_PHONE_NOISE = re.compile(r"[\s\-()（）]")
# The administrative units an address is kept up to: province, city, then district or county, each
# a name of Chinese characters and its suffix, the shortest name that has one. A name holds none of
# the characters no province, city or county name has (`NOT_IN_NAMES`, nor 自治州): where the
# shortest candidate would, that unit is not kept and the next one is looked for in its place. A
# district ending like a place inside one (小区, 社区, 园区 … `NOT_COUNTY_ENDINGS` + 区) is no district.
NOT_IN_NAMES = "省市区县旗盟街巷弄号村楼栋室"
NOT_COUNTY_ENDINGS = "小社园校景街厂营院片商"


def _chinese_except(excluded: str) -> str:
    """A character class (without brackets) of the CJK Unified Ideographs but `excluded`."""
    ranges, start = [], 0x4E00
    for point in sorted({ord(c) for c in excluded}):
        if start < point:
            ranges.append(f"{chr(start)}-{chr(point - 1)}")
        start = point + 1
    ranges.append(f"{chr(start)}-{chr(0x9FFF)}")
    return "".join(ranges)


_NAME_CHAR = f"(?:[{_chinese_except(NOT_IN_NAMES + '自')}]|自(?!治州))"
# 路 begins county names (唐山市路南区, 路北区; 台州市路桥区) but is never inside one: inside, it is a
# road (仙桃市钱沟路二区…, 辛集市教育路东方超市), and the road is not kept.
_INNER_CHAR = f"(?:[{_chinese_except(NOT_IN_NAMES + '自路')}]|自(?!治州))"
# One match from the start of the address, each unit optional: a unit that is not there costs no
# backtracking into the ones before, since everything after it is optional too. An autonomous
# county or banner may have a long name (围场满族蒙古族自治县, 莫力达瓦达斡尔族自治旗).
_ADDRESS_UNITS = re.compile(
    f"(?:{_NAME_CHAR}{{2,8}}?(?:省|自治区|特别行政区))?"
    f"(?:{_NAME_CHAR}{{2,9}}?(?:市|自治州|地区|盟))?"
    f"(?:{_NAME_CHAR}{{2,12}}?自治[县旗]"
    f"|{_NAME_CHAR}{_INNER_CHAR}{{0,5}}?(?:(?<![{NOT_COUNTY_ENDINGS}])区|县|旗|市))?"
)
ADDRESS_TAIL = "****"


class MaskingError(ValueError):
    """A rule or path that cannot be used; the message (Chinese) says what is wrong."""


class ShapeError(ValueError):
    """A document whose shape contradicts a path: masking cannot be guaranteed, so refuse it."""


@dataclass(frozen=True)
class Rule:
    name: str
    first: int = 0
    last: int = 0

    def __str__(self) -> str:
        if self.name == "keep":
            return f"keep({self.first},{self.last})"
        if self.name == "region":
            return f"region({self.first})"
        return self.name

    @property
    def label(self) -> str:
        """What the rule does, in Chinese, for the people who receive the data."""
        if self.name == "keep":
            return f"保留前 {self.first} 位和后 {self.last} 位，中间以 * 替换"
        if self.name == "region":
            return (
                f"行政区划代码保留前 {self.first} 位（{'省级' if self.first == 2 else '地市级'}），其余补 0"
            )
        return RULES[self.name]


Step = str | None


@dataclass(frozen=True)
class Mask:
    """A rule at a path, both checked."""

    path: str
    rule: Rule
    steps: tuple[Step, ...]

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "rule": str(self.rule)}


def parse_rule(text: str) -> Rule:
    """A rule from its text: a name of `RULES`, `keep(first,last)` (or `mask(first,last)`) or
    `region(n)`; raises MaskingError."""
    value = text.strip()
    if value in RULES and value not in WITH_ARGUMENTS:
        return Rule(value)
    compact = re.sub(r"\s+", "", value)
    match = _KEEP.fullmatch(compact)
    if match:
        first, last = int(match[1]), int(match[2])
        if first > MAX_KEEP or last > MAX_KEEP:
            raise MaskingError(f"keep(前,后) 保留的字符数不能超过 {MAX_KEEP}。")
        return Rule("keep", first, last)
    match = _REGION.fullmatch(compact)
    if match:
        if int(match[1]) not in REGION_LEVELS:
            raise MaskingError("region(n) 的 n 只能是 2（保留到省级）或 4（保留到地市级）。")
        return Rule("region", int(match[1]))
    names = "、".join(r for r in RULES if r not in WITH_ARGUMENTS)
    raise MaskingError(f"不认识的脱敏规则“{value}”，可用：{names}、keep(前,后)、region(2 或 4)。")


def parse_path(text: str) -> tuple[Step, ...]:
    """The steps of a path (a name, or `None` for `[*]`); raises MaskingError."""
    path = text.strip()
    if not path or len(path) > MAX_PATH:
        raise MaskingError(f"脱敏路径不能为空，也不能超过 {MAX_PATH} 个字符。")
    steps: list[Step] = []
    for index, segment in enumerate(path.split(".")):
        match = _SEGMENT.fullmatch(segment)
        name, arrays = (match[1], match[2]) if match else (None, "")
        if match is None or (name is None and (index > 0 or not arrays)):
            raise MaskingError(
                f"脱敏路径“{path}”写法不正确：用点分隔字段名，数组的每个元素写 [*]，"
                "例如 data[*].sfzh、result.owner.mobile。"
            )
        if name is not None:
            steps.append(name)
        steps.extend([EACH] * (len(arrays) // 3))
    if len(steps) > MAX_STEPS:
        raise MaskingError(f"脱敏路径“{path}”层级太深（最多 {MAX_STEPS} 层）。")
    return tuple(steps)


def compile_masks(entries: Iterable[Mapping[str, Any]]) -> list[Mask]:
    """Check `[{path, rule}]`; raises MaskingError naming the entry (1-based) that is wrong."""
    masks: list[Mask] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        try:
            steps = parse_path(str(entry.get("path", "")))
            rule = parse_rule(str(entry.get("rule", "")))
        except MaskingError as exc:
            raise MaskingError(f"第 {number} 条脱敏配置：{exc}") from None
        path = str(entry["path"]).strip()
        if path in seen:
            raise MaskingError(f"第 {number} 条脱敏配置：路径“{path}”重复配置。")
        seen.add(path)
        masks.append(Mask(path, rule, steps))
    return masks


def pseudonym_key() -> bytes:
    return hmac_key("masking-pseudonym")


def _keep(text: str, first: int, last: int) -> str:
    if len(text) <= first + last:
        return "*" * len(text)
    return text[:first] + "*" * (len(text) - first - last) + text[len(text) - last :]


def _name(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    # A two-character name is a one-character surname and given name (司马 may be 司 + 马).
    surname = 2 if len(text) > 2 and text[:2] in COMPOUND_SURNAMES else 1
    if len(text) <= surname:
        return "*" * len(text)
    given = text[surname:]
    if given.isalpha():  # the common case: no separator to keep
        return text[:surname] + "*" * len(given)
    return text[:surname] + "".join(c if c in "·• " else "*" for c in given)


def _card(text: str) -> str:
    """An identity or bank card number: the first 6 and last 4 characters, without spaces or dashes."""
    return _keep(text if text.isalnum() else _NUMBER_NOISE.sub("", text), 6, 4)


def _address(text: str) -> str:
    text = text.strip()
    found = _ADDRESS_UNITS.match(text)
    return text[: found.end() if found else 0] + ADDRESS_TAIL


def _mobile(text: str) -> str:
    digits = text if text.isdigit() else _PHONE_NOISE.sub("", text)
    if len(digits) == 11 and digits[0] == "1":  # the common case: no country code to take off
        return _keep(digits, 3, 4)
    for prefix in ("+86", "0086", "86"):
        rest = digits.removeprefix(prefix)
        if rest != digits and len(rest) == 11 and rest.startswith("1"):
            return _keep(rest, 3, 4)
    return _keep(digits, 3, 4)


def _year_month(value: Any) -> tuple[int, int | None] | None:
    """The year and (when written) month of a date, a datetime or ISO-like text; None otherwise."""
    if isinstance(value, date):  # datetime is a date too
        return value.year, value.month
    if isinstance(value, bool | float | dict | list):
        return None
    match = _YEAR_MONTH.match(str(value).strip())
    if match is None:
        return None
    month_text = match[2] or match[3]
    month = int(month_text) if month_text else None
    rest = str(value).strip()[match.end() :]
    if month is None and rest[:1].isdigit():  # 2026123: not a date we can read
        return None
    if month is not None and not 1 <= month <= 12:
        return None
    return int(match[1]), month


def _iso(value: Any) -> bool:
    """Whether `value` is text that starts as an ISO date, 2026-11-27… (the common case, read fast)."""
    return (
        isinstance(value, str)
        and len(value) >= 10
        and value[4] == "-"
        and value[7] == "-"
        and value[:4].isdigit()
        and value[5:7].isdigit()
        and "01" <= value[5:7] <= "12"
        and (len(value) == 10 or not value[10].isdigit())
        and value[8:10].isdigit()
    )


def _date_year(value: Any) -> str | None:
    if _iso(value):
        return str(value[:4])
    parts = _year_month(value)
    return None if parts is None else f"{parts[0]:04d}"


def _date_month(value: Any) -> str | None:
    if _iso(value):
        return str(value[:7])
    parts = _year_month(value)
    return None if parts is None or parts[1] is None else f"{parts[0]:04d}-{parts[1]:02d}"


def _region(digits: int) -> Callable[[Any], Any]:
    def region(value: Any) -> str | None:
        text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
        if not _REGION_CODE.fullmatch(text):
            return None
        return text[:digits] + "0" * (len(text) - digits)

    return region


def _text(function: Callable[[str], Any]) -> Callable[[Any], Any]:
    """A text rule for any value: structures hidden whole, other values written as text first."""

    def masked(value: Any) -> Any:
        if isinstance(value, str):
            return function(value)
        if isinstance(value, dict | list):
            return None  # a text rule cannot hide part of a structure: hide all of it
        return function(value.isoformat() if isinstance(value, date) else str(value))

    return masked


def _pseudonym(key: bytes) -> Callable[[str], str]:
    keyed = hmac.HMAC(key, hashes.SM3())  # keyed once; each value continues from a copy

    def pseudonym(text: str) -> str:
        mac = keyed.copy()
        mac.update(text.encode())
        return mac.finalize()[:16].hex().translate(_HEX_AS_LETTERS)

    return pseudonym


def _nothing(_value: Any) -> None:
    return None


def _text_rule(rule: Rule, key: bytes | None) -> Callable[[str], Any] | None:
    """What a text rule does to text (None for the rules that are not text rules)."""
    name = rule.name
    if name == "pseudonym":
        return _pseudonym(key if key is not None else pseudonym_key())
    if name == "keep":
        first, last = rule.first, rule.last
        return lambda text: _keep(text, first, last)
    return _TEXT_FUNCTIONS.get(name)


_TEXT_FUNCTIONS: dict[str, Callable[[str], Any]] = {
    "id_number": _card,
    "bank_card": _card,
    "mobile": _mobile,
    "name": _name,
    "address": _address,
}


def value_masker(rule: Rule, *, key: bytes | None = None) -> Callable[[Any], Any]:
    """One function that masks a value by `rule`, for masking many values (compile once).

    The function expects a value that is not None (callers skip nulls); `key` is the pseudonym key
    (derived when not given).
    """
    text = _text_rule(rule, key)
    if text is not None:
        return _text(text)
    if rule.name == "region":
        return _region(rule.first)
    other = _OTHER_FUNCTIONS.get(rule.name)
    if other is None:
        raise MaskingError(f"不认识的脱敏规则“{rule}”。")
    return other


_OTHER_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "nullify": _nothing,
    "date_year": _date_year,
    "date_month": _date_month,
}


Column = Callable[[Sequence[Any]], list[Any]]
DATES_KEPT = 100_000  # distinct dates a date column masker remembers (three centuries of days)


def column_masker(rule: Rule, *, key: bytes | None = None) -> Column:
    """One function that masks a column of values by `rule` (None stays None), as `value_masker`
    masks each value: a page of rows is masked item by item.

    Text, the usual case, goes straight to the rule without `_text`'s checks, and the commonest
    shapes are done inline (an 18-character ID number, an 11-digit mobile, a `date`): the same
    results (`tests/masking/test_rules.py` compares both ways), a third of the time."""
    name = rule.name
    if name == "pseudonym" and key is None:
        key = pseudonym_key()  # derived once for both functions
    each = value_masker(rule, key=key)
    if name == "nullify":
        return lambda values: [None] * len(values)
    if name in ("id_number", "bank_card"):
        return lambda values: [
            None
            if v is None
            else v[:6] + "*" * (len(v) - 10) + v[-4:]
            if v.__class__ is str and len(v) > 10 and v.isalnum()
            else each(v)
            for v in values
        ]
    if name == "mobile":
        return lambda values: [
            None
            if v is None
            else v[:3] + "****" + v[7:]
            if v.__class__ is str and len(v) == 11 and v.isdigit()
            else each(v)
            for v in values
        ]
    if name == "date_year" or name == "date_month":
        width = 4 if name == "date_year" else 7
        # A date's year or month, once per distinct date: birth dates, the commonest dates masked,
        # take a few tens of thousands of values, and a lookup costs a tenth of `isoformat`.
        kept: dict[date, str] = {}
        known = kept.get

        def remembered(day: date) -> str:
            masked = day.isoformat()[:width]
            if len(kept) < DATES_KEPT:
                kept[day] = masked
            return masked

        return lambda values: [
            None if v is None else (known(v) or remembered(v)) if v.__class__ is date else each(v)
            for v in values
        ]
    text = _text_rule(rule, key)
    if text is not None:
        return lambda values: [
            None if v is None else text(v) if v.__class__ is str else each(v) for v in values
        ]
    return lambda values: [None if v is None else each(v) for v in values]


def mask_value(rule: Rule, value: Any, *, key: bytes | None = None) -> Any:
    """`value` masked by `rule`; `key` is the pseudonym key (derived when not given)."""
    if value is None:
        return None
    return value_masker(rule, key=key)(value)


def _walk(node: Any, steps: tuple[Step, ...], rule: Rule, key: bytes | None, path: str) -> Any:
    """`node` with the rule applied at `steps` below it (containers are changed in place)."""
    if not steps:
        return mask_value(rule, node, key=key)
    if node is None:
        return None
    step, rest = steps[0], steps[1:]
    if step is EACH:
        if not isinstance(node, list):
            raise ShapeError(f"路径 {path} 处应为数组，实际为 {type(node).__name__}")
        for index, item in enumerate(node):
            node[index] = _walk(item, rest, rule, key, path)
        return node
    if not isinstance(node, dict):
        raise ShapeError(f"路径 {path} 处应为对象，实际为 {type(node).__name__}")
    if step in node:
        node[step] = _walk(node[step], rest, rule, key, path)
    return node


def apply(document: Any, masks: Iterable[Mask]) -> Any:
    """`document` (parsed JSON, changed in place) with every mask applied; raises ShapeError."""
    masks = list(masks)
    key = pseudonym_key() if any(m.rule.name == "pseudonym" for m in masks) else None
    for mask in masks:
        document = _walk(document, mask.steps, mask.rule, key, mask.path)
    return document
