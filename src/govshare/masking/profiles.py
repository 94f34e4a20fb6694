"""Masking profiles (脱敏方案, S23): which rule each item of a resource gets, and the compiled row
masker that applies them to every delivered row.

A profile is a table the Bureau writes: for each sensitivity level that may be delivered (L1–L3)
and each kind of item (姓名, 证件号码, 电话号码, 银行卡号, 地址, 日期, 行政区划代码, 其他) one rule
or `as_is` (原样提供); plus rules per standard data element, which win over the table at every
level (the 关联分析 profile uses them so that an identifier is pseudonymised in every resource, so
joins still work whatever level each provider gave it). L4 items are never delivered: they are
dropped whatever the profile says (classification decides that, not masking).

An item's kind comes from its standard data element first (DE0001 公民身份号码 …), then its type
(D/T are dates), then its title and name (身份证/证件号码, 银行卡/账号, 手机/电话, 行政区划, 地址/
住址/坐落, 姓名 or a title for a person such as 法定代表人/联系人), else `other`.

This module needs no database: `RowMasker.compile(profile, items)` is the pure version of
`service.row_masker`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from govshare.masking.rules import (
    MaskingError,
    Rule,
    column_masker,
    parse_rule,
    pseudonym_key,
    value_masker,
)

AS_IS = "as_is"
AS_IS_LABEL = "原样提供"
DROPPED_LABEL = "不提供（L4 级数据不共享）"
LEVELS = ("L1", "L2", "L3")  # the levels a profile decides; L4 is never delivered
NEVER_DELIVERED = "L4"

KINDS: dict[str, str] = {
    "name": "姓名",
    "id_number": "证件号码",
    "mobile": "电话号码",
    "bank_card": "银行卡号/账号",
    "address": "地址",
    "date": "日期",
    "region": "行政区划代码",
    "other": "其他",
}

# Standard data elements whose kind is known (see the demo catalog's elements).
ELEMENT_KINDS: dict[str, str] = {
    "DE0001": "id_number",  # 公民身份号码
    "DE0004": "region",  # 行政区划代码
    "DE0005": "name",  # 姓名
    "DE0006": "mobile",  # 手机号码
    "DE0008": "id_number",  # 社会保障号码 (the holder's ID number)
}

# Title (Chinese) and field-name patterns, tried in this order: an ID or phone "of a person"
# (法定代表人身份证号, 联系人电话) is an ID or a phone, not a name.
_KIND_PATTERNS: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    (
        "id_number",
        re.compile(r"身份证|公民身份号码|证件号码|证件号|社会保障号码|社保卡号"),
        re.compile(r"(^|_)(id_?number|id_?card|id_?no|sfzh|zjhm|idcard)($|_)"),
    ),
    (
        "bank_card",
        re.compile(r"银行卡|银行账号|银行帐号|账号|帐号|卡号"),
        re.compile(r"(^|_)(bank_?card|card_?no|account_?no|yhkh|yhzh)($|_)"),
    ),
    (
        "mobile",
        re.compile(r"手机|电话|联系方式"),
        re.compile(r"(^|_)(mobile|phone|tel|telephone|sjhm|lxdh)($|_)"),
    ),
    (
        "region",
        re.compile(r"行政区划"),
        re.compile(r"(^|_)(region_?code|division_?code|xzqh|xzqhdm)($|_)"),
    ),
    (
        "address",
        re.compile(r"地址|住址|住所|居住地|户籍地|坐落"),
        re.compile(r"(^|_)(address|addr|dz|zz|jtzz)($|_)"),
    ),
    (
        "name",
        re.compile(r"姓名|^(?:(?:所有|法定代表|联系|负责|申请|经办|监护|当事)人|户主)$"),
        re.compile(r"^(name|xm|full_name|person_name)$"),
    ),
)
DATE_TYPES = frozenset({"D", "T"})


def kind_of(item: Mapping[str, Any]) -> str:
    """The kind of a catalog item (a dict with name, title, data_type, element …); see module doc."""
    element = item.get("element")
    if element and element in ELEMENT_KINDS:
        return ELEMENT_KINDS[element]
    if item.get("data_type") in DATE_TYPES:
        return "date"
    title = str(item.get("title") or "")
    name = str(item.get("name") or "").lower()
    for kind, title_pattern, _name_pattern in _KIND_PATTERNS:
        if title_pattern.search(title):
            return kind
    for kind, _title_pattern, name_pattern in _KIND_PATTERNS:
        if name_pattern.search(name):
            return kind
    return "other"


def parse_choice(text: str) -> Rule | None:
    """A profile cell: `as_is` (None) or a value rule; raises MaskingError."""
    value = text.strip()
    return None if value == AS_IS else parse_rule(value)


def label(rule: Rule | None) -> str:
    return AS_IS_LABEL if rule is None else rule.label


@dataclass(frozen=True)
class Profile:
    """A profile's content, checked: `levels[level][kind]` and `elements[code]` are rules (None: as is)."""

    code: str
    name: str
    levels: Mapping[str, Mapping[str, Rule | None]]
    elements: Mapping[str, Rule | None] = field(default_factory=dict)

    @classmethod
    def parse(
        cls, code: str, name: str, levels: Mapping[str, Mapping[str, str]], elements: Mapping[str, str]
    ) -> Profile:
        """Check the stored or submitted text; raises MaskingError naming the cell that is wrong.

        Every level of `LEVELS` needs a rule for every kind of `KINDS`: a profile never leaves an
        item to chance.
        """
        parsed: dict[str, dict[str, Rule | None]] = {}
        for level in LEVELS:
            row = levels.get(level)
            if not isinstance(row, Mapping):
                raise MaskingError(f"缺少 {level} 级数据的脱敏规则。")
            missing = [KINDS[k] for k in KINDS if k not in row]
            if missing:
                raise MaskingError(f"{level} 级缺少这些类别的规则：{'、'.join(missing)}。")
            unknown = [str(k) for k in row if k not in KINDS]
            if unknown:
                raise MaskingError(f"{level} 级有不认识的类别：{'、'.join(unknown)}。")
            parsed[level] = {}
            for kind in KINDS:
                try:
                    parsed[level][kind] = parse_choice(str(row[kind]))
                except MaskingError as exc:
                    raise MaskingError(f"{level} 级“{KINDS[kind]}”：{exc}") from None
        unknown_levels = [str(k) for k in levels if k not in LEVELS]
        if unknown_levels:
            raise MaskingError(
                f"不认识的级别：{'、'.join(unknown_levels)}（只能为 L1、L2、L3；L4 级数据一律不提供）。"
            )
        checked: dict[str, Rule | None] = {}
        for code_, text in elements.items():
            try:
                checked[code_] = parse_choice(str(text))
            except MaskingError as exc:
                raise MaskingError(f"数据元 {code_}：{exc}") from None
        return cls(code=code, name=name, levels=parsed, elements=checked)

    def rule_for(self, item: Mapping[str, Any]) -> Rule | None:
        """The rule of one item of level L1–L3 (None: as is)."""
        element = item.get("element")
        if element and element in self.elements:
            return self.elements[element]
        level = str(item.get("sensitivity") or "L1")
        return self.levels[level if level in self.levels else LEVELS[-1]][kind_of(item)]


class RowMasker:
    """Masks delivered rows for one set of items: compiled once, then called per row.

    `masker(row)` returns a new dict holding the delivered items only (dropped L4 items and keys of
    the row that are no item are left out, as are items the row lacks); a masked item's value goes
    through its rule (None stays None). `rules` says, in Chinese, what each item's consumer gets;
    `dropped` names the L4 items.
    """

    __slots__ = ("_columns", "_masked", "_names", "dropped", "profile_code", "rules")

    def __init__(
        self,
        profile_code: str,
        plan: Sequence[tuple[str, Rule | None]],
        rules: dict[str, str],
        dropped: set[str],
        *,
        key: bytes | None = None,
    ) -> None:
        self.profile_code = profile_code
        self.rules = rules
        self.dropped = dropped
        self._names = tuple(name for name, _ in plan)
        self._masked = tuple((name, value_masker(rule, key=key)) for name, rule in plan if rule is not None)
        self._columns = {name: column_masker(rule, key=key) for name, rule in plan if rule is not None}

    @classmethod
    def compile(cls, profile: Profile, items: Sequence[Mapping[str, Any]]) -> RowMasker:
        """The masker for `items` under `profile`, without a database (raises MaskingError for an
        item of an unknown sensitivity level: it is not delivered by guess)."""
        plan: list[tuple[str, Rule | None]] = []
        rules: dict[str, str] = {}
        dropped: set[str] = set()
        for item in items:
            name = str(item["name"])
            level = str(item.get("sensitivity") or "L1")
            if level == NEVER_DELIVERED:
                dropped.add(name)
                rules[name] = DROPPED_LABEL
                continue
            if level not in LEVELS:
                raise MaskingError(f"信息项 {name} 的敏感级别“{level}”无法识别，应为 L1 至 L4。")
            rule = profile.rule_for(item)
            rules[name] = label(rule)
            plan.append((name, rule))
        pseudonyms = any(rule is not None and rule.name == "pseudonym" for _, rule in plan)
        return cls(profile.code, plan, rules, dropped, key=pseudonym_key() if pseudonyms else None)

    def masks(self, name: str) -> bool:
        """Whether item `name` goes through a rule (its masked values are then text or null)."""
        return name in self._columns

    def column(self, name: str, values: Sequence[Any]) -> list[Any]:
        """The values of item `name` of many rows, masked as `__call__` masks them one row at a
        time (a page is masked column by column: one rule lookup per item, not per value)."""
        masker = self._columns.get(name)
        return list(values) if masker is None else masker(values)

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        out = {name: row[name] for name in self._names if name in row}
        for name, masker in self._masked:
            value = out.get(name)
            if value is not None:
                out[name] = masker(value)
        return out


def _table(l1: dict[str, str], l2: dict[str, str], l3: dict[str, str]) -> dict[str, dict[str, str]]:
    return {"L1": l1, "L2": l2, "L3": l3}


_ALL_AS_IS = dict.fromkeys(KINDS, AS_IS)
_KIND_RULES = {
    "name": "name",
    "id_number": "id_number",
    "mobile": "mobile",
    "bank_card": "bank_card",
    "address": "address",
}
_STANDARD_L2 = {**_KIND_RULES, "date": "date_month", "region": AS_IS, "other": AS_IS}
_STANDARD_L3 = {**_KIND_RULES, "date": "date_year", "region": "region(4)", "other": "keep(1,1)"}
_STRICT = {
    "name": "pseudonym",
    "id_number": "pseudonym",
    "mobile": "pseudonym",
    "bank_card": "pseudonym",
    "address": "nullify",
    "date": "nullify",
    "region": "nullify",
    "other": "nullify",
}
_LINKED_IDS = {"id_number": "pseudonym", "mobile": "pseudonym", "bank_card": "pseudonym"}
# Open data goes to anyone: people's names and identifiers are pseudonymised even at L1, and above
# L1 everything is as strict as `strict` (only openable items, L1 in the default scheme, are opened).
_OPEN_L1 = {**_ALL_AS_IS, **dict.fromkeys(("name", "id_number", "mobile", "bank_card"), "pseudonym")}
_OPEN_L1["address"] = "address"
OPEN_PROFILE = "open"


@dataclass(frozen=True)
class Builtin:
    code: str
    name: str
    description: str
    levels: dict[str, dict[str, str]]
    elements: dict[str, str]


DEFAULT_PROFILE = "standard"
BUILTIN_PROFILES: tuple[Builtin, ...] = (
    Builtin(
        DEFAULT_PROFILE,
        "标准脱敏",
        "默认方案。L1 级原样提供；L2、L3 级按类别脱敏（证件号码、手机号码、银行卡号保留首尾，姓名保留姓氏，"
        "地址保留到区县；日期 L2 保留年月、L3 只保留年份；行政区划代码 L2 原样、L3 保留到地市；其他 L2 原样、"
        "L3 保留首尾各 1 位）；L4 级不提供。",
        _table(dict(_ALL_AS_IS), dict(_STANDARD_L2), dict(_STANDARD_L3)),
        {},
    ),
    Builtin(
        "strict",
        "严格脱敏",
        "L1 级原样提供；L1 以上的姓名、证件号码、手机号码、银行卡号一律假名化，其余一律置空；L4 级不提供。",
        _table(dict(_ALL_AS_IS), dict(_STRICT), dict(_STRICT)),
        {},
    ),
    Builtin(
        "linkage",
        "关联分析",
        "用于跨资源关联分析：公民身份号码、手机号码、社会保障号码在任何级别都假名化（同一号码在不同资源中"
        "得到相同的假名，可关联但不可还原），L2、L3 级的证件号码、手机号码、银行卡号假名化，其余按标准脱敏；"
        "L4 级不提供。",
        _table(dict(_ALL_AS_IS), {**_STANDARD_L2, **_LINKED_IDS}, {**_STANDARD_L3, **_LINKED_IDS}),
        {"DE0001": "pseudonym", "DE0006": "pseudonym", "DE0008": "pseudonym"},
    ),
    Builtin(
        OPEN_PROFILE,
        "开放数据脱敏",
        "向社会开放的数据默认使用本方案：任何级别的姓名、证件号码、手机号码、银行卡号一律假名化，L1 级地址"
        "保留到区县，其余 L1 级原样；L2、L3 级同严格脱敏（标识假名化，其余置空）；L4 级不提供。",
        _table(dict(_OPEN_L1), dict(_STRICT), dict(_STRICT)),
        {"DE0001": "pseudonym", "DE0005": "pseudonym", "DE0006": "pseudonym", "DE0008": "pseudonym"},
    ),
)


def builtin(code: str) -> Builtin | None:
    return next((b for b in BUILTIN_PROFILES if b.code == code), None)
