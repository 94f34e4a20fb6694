"""Output risk assessment of an analysis result before it may leave (S24).

Four checks, each giving entries {"name", "title", "passed", "detail", "column", "group"}; a
result is releasable when every entry passed. Values are judged, never column names:

1. `direct_identifiers`: a column holding any 18-digit ID number with a valid GB 11643 check
   character, mobile number (1[3-9] and 9 digits), bank card number (16–19 digits passing Luhn), or
   a partly hidden one (130102********7718, 139****5678, 622202*********0123: still one person per
   value, with region, birth order and gender digits left), or whose distinct text values are mostly
   Chinese personal names (2–4 Han characters starting with a common surname; masked names such
   as 张* do not count). Pseudonyms (keyed hashes written as letters a–p) are allowed.
2. `k_anonymity`: quasi-identifier columns are found by value — full dates or year-months, gender
   values, 6-digit 行政区划代码, age-like integers (0–120, not computed by an aggregate), addresses.
   Every combination of their values must stand for at least k people: in a row-level result the
   rows sharing it, in an aggregate the sum of its first count column (an aggregate over
   quasi-identifiers without a count column fails: its groups' sizes are unknown). k comes from the
   highest sensitivity level among the items the sources hold (settings `analysis_k_l1…l3`).
3. `small_cells`: in an aggregate, every count value (COUNT(...), SUM(1), or a column named like a
   count) must be 0 or at least the threshold (`analysis_small_cell`), naming each group below it.
   Off for sources whose highest level has k = 1.
4. `differencing`: against each earlier released result of the same analyst over the same set of
   sources, a group present in both (same group columns, same values; no group columns: the whole
   result) whose first count differs by more than 0 and less than k fails: subtracting one from the
   other would isolate those few people.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from govshare.analysis.sql import Output
from govshare.identifiers import id_number_valid

MAX_ENTRIES = 10  # failed entries shown per check; the count of the rest is said
TITLES = {
    "direct_identifiers": "直接标识符",
    "k_anonymity": "k-匿名",
    "small_cells": "小单元格抑制",
    "differencing": "差分攻击",
}

# Found anywhere in a value, not only as the whole value: 'x'||id_number is still an ID number.
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_CARD = re.compile(r"(?<!\d)\d{16,19}(?!\d)")
_ID_LIKE = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dXx])")
_MASKED_ID = re.compile(r"(?<!\d)\d{6}\*{5,8}\d{3}[\dXx]")
_MASKED_MOBILE = re.compile(r"(?<!\d)1\d{2}\*{4}\d{4}(?!\d)")
_MASKED_CARD = re.compile(r"(?<!\d)\d{6}\*{6,9}\d{4}(?!\d)")
_COMPOUND = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "慕容", "司徒", "令狐", "夏侯", "尉迟", "公孙")
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌"
    "毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦"
    "麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩"
    "明佘池查麻苑迟邝"
)
_HAN = re.compile(r"[\u4e00-\u9fff]{2,4}")
_NOT_A_NAME = re.compile(
    r"(省|市|区|县|镇|乡|村|局|委|办|厅|院|所|站|队|处|科|路|街|号|庄|中|学|业|类|型|级|期)$"
)
_FULL_DATE = re.compile(r"\d{4}[-/年]\d{1,2}([-/月]\d{1,2}日?)?([ T].*)?")
_REGION = re.compile(r"[1-8]\d{5}")
_GENDERS = frozenset({"男", "女", "男性", "女性", "未知", "未说明", "M", "F", "male", "female"})
_ADDRESS = re.compile(r"(省|市|区|县|镇|乡|街道|路|街|巷|村|号|小区|栋|室)")


@dataclass(frozen=True)
class Earlier:
    """An earlier released result of the same analyst over the same sources."""

    query_id: int
    columns: list[str]
    outputs: list[Output]
    rows: list[list[Any]]


def entry(
    name: str, passed: bool, detail: str, column: str | None = None, group: str | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "title": TITLES[name],
        "passed": passed,
        "detail": detail,
        "column": column,
        "group": group,
    }


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def looks_like_name(text: str) -> bool:
    if not _HAN.fullmatch(text) or _NOT_A_NAME.search(text):
        return False
    return text[:2] in _COMPOUND or text[0] in _SURNAMES


def _identifier_kind(text: str) -> str | None:
    """What direct identifier `text` is, if any."""
    if any(id_number_valid(m) for m in _ID_LIKE.findall(text)):
        return "身份证号"
    if _MOBILE.search(text):
        return "手机号码"
    if any(luhn(m) for m in _CARD.findall(text)):
        return "银行卡号"
    if _MASKED_ID.search(text):
        return "部分遮盖的身份证号"
    if _MASKED_MOBILE.search(text):
        return "部分遮盖的手机号码"
    if _MASKED_CARD.search(text):
        return "部分遮盖的银行卡号"
    return None


def direct_identifiers(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    failed = []
    for index, column in enumerate(columns):
        found: dict[str, int] = {}
        texts = {str(r[index]).strip() for r in rows if r[index] is not None}
        for text in texts:
            kind = _identifier_kind(text)
            if kind:
                found[kind] = found.get(kind, 0) + 1
        han = [t for t in texts if _HAN.fullmatch(t)]
        names = sum(1 for t in han if looks_like_name(t))
        if names and names * 2 >= len(texts):
            found["姓名"] = names
        if found:
            kinds = "、".join(f"{n} 个{k}" for k, n in found.items())
            failed.append(
                entry(
                    "direct_identifiers",
                    False,
                    f"列 {column} 含有 {kinds}：直接标识符（含部分遮盖的）不能带出分析。"
                    "请去掉该列，或改为汇总统计。",
                    column=column,
                )
            )
    if failed:
        return failed
    return [entry("direct_identifiers", True, "结果中未发现身份证号、手机号码、银行卡号或姓名。")]


def _quasi_kind(values: list[Any]) -> str | None:
    texts = [str(v).strip() for v in values if v is not None and str(v).strip() != ""]
    if not texts:
        return None
    share = 0.8 * len(texts)
    if all(t in _GENDERS for t in texts):
        return "性别"
    if sum(1 for t in texts if _REGION.fullmatch(t)) >= share:
        return "行政区划代码"
    if sum(1 for t in texts if _FULL_DATE.fullmatch(t)) >= share:
        return "日期（年月或年月日）"
    if all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 120 for v in values if v is not None):
        return "年龄"
    if sum(1 for t in texts if len(t) >= 6 and _ADDRESS.search(t)) >= share:
        return "地址"
    return None


def quasi_identifiers(
    columns: Sequence[str], outputs: Sequence[Output], rows: Sequence[Sequence[Any]]
) -> dict[int, str]:
    """{column index: kind} of the quasi-identifier columns (never a count or an aggregate)."""
    found = {}
    for index, _column in enumerate(columns):
        if index < len(outputs) and outputs[index].measure:
            continue
        kind = _quasi_kind([r[index] for r in rows])
        if kind:
            found[index] = kind
    return found


def _first_count(outputs: Sequence[Output], width: int) -> int | None:
    return next((i for i, o in enumerate(outputs[:width]) if o.count), None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def _group_text(columns: Sequence[str], indexes: Sequence[int], row: Sequence[Any]) -> str:
    return "，".join(f"{columns[i]}={row[i]}" for i in indexes) or "全部"


def _more(entries: list[dict[str, Any]], name: str, total: int) -> list[dict[str, Any]]:
    if total > MAX_ENTRIES:
        entries = entries[:MAX_ENTRIES]
        entries.append(entry(name, False, f"另有 {total - MAX_ENTRIES} 组同样未通过。"))
    return entries


def k_anonymity(
    columns: Sequence[str], outputs: Sequence[Output], rows: Sequence[Sequence[Any]], aggregate: bool, k: int
) -> list[dict[str, Any]]:
    name = "k_anonymity"
    if k <= 1:
        return [entry(name, True, "数据来源的最高级别不要求 k-匿名（k=1）。")]
    quasi = quasi_identifiers(columns, outputs, rows)
    if not quasi:
        return [entry(name, True, f"结果中没有准标识符列（出生日期、性别、行政区划、年龄、地址等），k={k}。")]
    indexes = sorted(quasi)
    described = "、".join(f"{columns[i]}（{quasi[i]}）" for i in indexes)
    count = _first_count(outputs, len(columns))
    if aggregate and count is None:
        return [
            entry(
                name,
                False,
                f"按准标识符 {described} 汇总的结果没有计数列，无法确认每组人数：请加上 COUNT(*)。",
                column=columns[indexes[0]],
            )
        ]
    sizes: dict[tuple[Any, ...], float] = {}
    sample: dict[tuple[Any, ...], Sequence[Any]] = {}
    for row in rows:
        key = tuple(row[i] for i in indexes)
        size = 1.0 if count is None else (_number(row[count]) or 0.0)
        sizes[key] = sizes.get(key, 0.0) + size
        sample.setdefault(key, row)
    small = [key for key, size in sizes.items() if size < k]
    if not small:
        return [entry(name, True, f"准标识符 {described} 的每种组合至少对应 {k} 人（k={k}）。")]
    failed = [
        entry(
            name,
            False,
            f"准标识符组合（{_group_text(columns, indexes, sample[key])}）"
            f"只对应 {sizes[key]:g} 人，少于 k={k}："
            "请概括这些列（如 substr(birth_date,1,4) 只取年份、按更大的行政区划汇总）或去掉它们后重试。",
            column=columns[indexes[0]],
            group=_group_text(columns, indexes, sample[key]),
        )
        for key in small[: MAX_ENTRIES + 1]
    ]
    return _more(failed, name, len(small))


def small_cells(
    columns: Sequence[str],
    outputs: Sequence[Output],
    rows: Sequence[Sequence[Any]],
    aggregate: bool,
    threshold: int,
) -> list[dict[str, Any]]:
    name = "small_cells"
    if not aggregate:
        return [entry(name, True, "结果不是汇总结果，不做小单元格检查（见 k-匿名检查）。")]
    if threshold <= 1:
        return [entry(name, True, "数据来源的最高级别不要求小单元格抑制。")]
    counts = [i for i, o in enumerate(outputs[: len(columns)]) if o.count]
    if not counts:
        return [entry(name, True, "汇总结果中没有计数列。")]
    groups = [i for i, o in enumerate(outputs[: len(columns)]) if not o.measure]
    failed: list[dict[str, Any]] = []
    total = 0
    for row in rows:
        for i in counts:
            value = _number(row[i])
            if value is not None and 0 < value < threshold:
                total += 1
                if len(failed) <= MAX_ENTRIES:
                    group = _group_text(columns, groups, row)
                    failed.append(
                        entry(
                            name,
                            False,
                            f"组（{group}）的 {columns[i]} 为 {value:g}，小于阈值 {threshold}："
                            "请合并小的分组（如按更大的区划或年龄段汇总）或用 HAVING COUNT(*) >= "
                            f"{threshold} 去掉它们后重试。",
                            column=columns[i],
                            group=group,
                        )
                    )
    if not failed:
        return [entry(name, True, f"所有计数均为 0 或不小于 {threshold}。")]
    return _more(failed, name, total)


def _groups(
    columns: Sequence[str], outputs: Sequence[Output], rows: Sequence[Sequence[Any]]
) -> dict[tuple[str, ...], tuple[float, str]]:
    """Each group's count and how it reads (`r=130102`), keyed by the group's values alone: renaming
    a column (or listing the group columns in another order) changes nothing."""
    count = _first_count(outputs, len(columns))
    if count is None:
        return {}
    keys = [i for i, o in enumerate(outputs[: len(columns)]) if not o.measure]
    found: dict[tuple[str, ...], tuple[float, str]] = {}
    for row in rows:
        key = tuple(sorted(str(row[i]) for i in keys))
        label = "，".join(f"{columns[i]}={row[i]}" for i in keys) or "全部"
        before = found.get(key, (0.0, label))[0]
        found[key] = (before + (_number(row[count]) or 0.0), label)
    return found


def differencing(
    columns: Sequence[str],
    outputs: Sequence[Output],
    rows: Sequence[Sequence[Any]],
    earlier: Sequence[Earlier],
    k: int,
) -> list[dict[str, Any]]:
    name = "differencing"
    if k <= 1:
        return [entry(name, True, "数据来源的最高级别不要求差分检查（k=1）。")]
    mine = _groups(columns, outputs, rows)
    if not mine or not earlier:
        return [entry(name, True, "没有可与本结果相减的本单位已发布结果。")]
    failed: list[dict[str, Any]] = []
    for before in earlier:
        theirs = _groups(before.columns, before.outputs, before.rows)
        for key, (now, group) in mine.items():
            if key not in theirs:
                continue
            then = theirs[key][0]
            diff = abs(now - then)
            if 0 < diff < k:
                failed.append(
                    entry(
                        name,
                        False,
                        f"与本单位已发布的第 {before.query_id} 号结果相比，组（{group}）的计数为 "
                        f"{now:g} 与 {then:g}，相差 {diff:g} 人，少于 k={k}：两个结果相减即可识别出这些人。"
                        "请扩大筛选范围或不发布本结果。",
                        group=group,
                    )
                )
    if not failed:
        return [entry(name, True, f"与本单位 {len(earlier)} 个已发布结果相比，没有相差少于 {k} 人的分组。")]
    return _more(failed, name, len(failed))


def assess(
    columns: Sequence[str],
    outputs: Sequence[Output],
    rows: Sequence[Sequence[Any]],
    *,
    aggregate: bool,
    k: int,
    small_cell: int,
    earlier: Sequence[Earlier],
) -> list[dict[str, Any]]:
    """Every check's entries, in the order of the module docstring."""
    return [
        *direct_identifiers(columns, rows),
        *k_anonymity(columns, outputs, rows, aggregate, k),
        *small_cells(columns, outputs, rows, aggregate, small_cell),
        *differencing(columns, outputs, rows, earlier, k),
    ]
