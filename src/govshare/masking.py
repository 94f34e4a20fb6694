"""Masking (脱敏, S23): rules that hide part of a value, and paths that say where in a JSON document
they apply. Reusable: API-service resources apply them to every answer; the sharing module adds the
Bureau's own rules on top.

Rules (what is kept; every hidden character becomes one `*`, except for addresses):

- `id_number`: the first 6 and last 4 characters, 130102198503177718 → 130102********7718
- `mobile`: the first 3 and last 4, 13912345678 → 139****5678
- `name`: the surname, compound ones (欧阳、司马、诸葛 …) whole, 欧阳娜娜 → 欧阳**, 张伟 → 张*
- `bank_card`: the first 6 and last 4, 6222021234567890123 → 622202*********0123
- `address`: up to the district or county, then a fixed `****`,
  河北省石家庄市长安区中山东路39号 → 河北省石家庄市长安区****
- `keep(first,last)`: the first and last characters given, keep(1,1) on 石家庄 → 石*庄
- `nullify`: the value becomes null
- `pseudonym`: a keyed HMAC-SM3 of the value (key derived from the master key), 32 hex digits: equal
  values give equal pseudonyms, so joins still work, but they cannot be reversed without the key

Spaces and hyphens are dropped from ID, mobile and card numbers first. A value too short to keep
anything (no more characters than those kept) is hidden whole, and an object or array where a text
rule applies becomes null: when in doubt, hide. null stays null.

Paths: names separated by dots, `[*]` after a name (or at the start) for every element of an array:
`data[*].sfzh`, `result.owner.mobile`, `[*].name`, `rows[*][*].phone`. A name is letters (Chinese
too), digits, `_` or `-`. A missing field is nothing to mask; a field of the wrong kind (an object
where the path expects an array, or a value where it expects an object) raises `ShapeError`, so
that a changed upstream format is refused instead of passing unmasked data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from govshare.crypto import hmac_sm3
from govshare.sealing import hmac_key

RULES: dict[str, str] = {
    "id_number": "公民身份号码（保留前 6 位和后 4 位）",
    "mobile": "手机号码（保留前 3 位和后 4 位）",
    "name": "姓名（保留姓氏）",
    "bank_card": "银行卡号（保留前 6 位和后 4 位）",
    "address": "地址（保留到区县）",
    "keep": "保留首尾 keep(前,后)",
    "nullify": "置空",
    "pseudonym": "假名化（带密钥 HMAC-SM3）",
}
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

_KEEP = re.compile(r"keep\((\d{1,3}),(\d{1,3})\)")
_NAME = r"[\w\-]+"
_SEGMENT = re.compile(rf"({_NAME})?((?:\[\*\])*)")
_NUMBER_NOISE = re.compile(r"[\s\-]")
# The administrative units an address is kept up to: province, city, then district or county.
_PROVINCE = re.compile(r"([\u4e00-\u9fff]{2,8}?)(?:省|自治区|特别行政区)")
_CITY = re.compile(r"([\u4e00-\u9fff]{2,9}?)(?:市|自治州|地区|盟)")
_COUNTY = re.compile(r"([\u4e00-\u9fff]{1,6}?)(?:区|县|旗|市)")
# Words that end like a unit but are places inside one (a residential compound, a campus …), and
# characters no province, city or county name has (before its suffix): such a match is not kept.
_NOT_COUNTY = ("小区", "社区", "园区", "校区", "景区", "街区", "厂区", "营区", "院区", "片区", "商区")
_NOT_UNIT = re.compile(r"[省市区县旗州盟街巷弄号村楼栋室]")
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
        return f"keep({self.first},{self.last})" if self.name == "keep" else self.name


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
    """A rule from its text: a name of `RULES` or `keep(first,last)`; raises MaskingError."""
    value = text.strip()
    if value in RULES and value != "keep":
        return Rule(value)
    match = _KEEP.fullmatch(re.sub(r"\s+", "", value))
    if match:
        first, last = int(match[1]), int(match[2])
        if first > MAX_KEEP or last > MAX_KEEP:
            raise MaskingError(f"keep(前,后) 保留的字符数不能超过 {MAX_KEEP}。")
        return Rule("keep", first, last)
    raise MaskingError(
        f"不认识的脱敏规则“{value}”，可用：{'、'.join(r for r in RULES if r != 'keep')}、keep(前,后)。"
    )


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
    return text[:surname] + "".join(c if c in "·• " else "*" for c in text[surname:])


def _unit(pattern: re.Pattern[str], text: str, start: int, *, county: bool = False) -> int:
    """Where the unit `pattern` finds at `start` ends, or `start` when there is none."""
    match = pattern.match(text, start)
    if match is None or _NOT_UNIT.search(match[1]) or (county and match[0].endswith(_NOT_COUNTY)):
        return start
    return match.end()


def _address(text: str) -> str:
    text = text.strip()
    end = _unit(_PROVINCE, text, 0)
    end = _unit(_CITY, text, end)
    end = _unit(_COUNTY, text, end, county=True)
    return text[:end] + ADDRESS_TAIL


def mask_value(rule: Rule, value: Any, *, key: bytes | None = None) -> Any:
    """`value` masked by `rule`; `key` is the pseudonym key (derived when not given)."""
    if value is None or rule.name == "nullify":
        return None
    if isinstance(value, dict | list):
        return None  # a text rule cannot hide part of a structure: hide all of it
    text = value if isinstance(value, str) else str(value)
    if rule.name == "pseudonym":
        return hmac_sm3(key if key is not None else pseudonym_key(), text.encode())[:32]
    if rule.name in ("id_number", "bank_card"):
        return _keep(_NUMBER_NOISE.sub("", text), 6, 4)
    if rule.name == "mobile":
        return _keep(_NUMBER_NOISE.sub("", text), 3, 4)
    if rule.name == "name":
        return _name(text)
    if rule.name == "address":
        return _address(text)
    if rule.name == "keep":
        return _keep(text, rule.first, rule.last)
    raise MaskingError(f"不认识的脱敏规则“{rule}”。")


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
