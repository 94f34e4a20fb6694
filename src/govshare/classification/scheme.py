"""The classification scheme as the platform reads it: the controls of each level, of an item (the
strictest of its importance and its sensitivity level) and of a resource (its highest item's), and
the checks that grants, deliveries, exports and open entries must pass (S13).

`DEFAULTS` is the one place the default scheme is written down; the migration seeds the table from
the same values, and `load` falls back to them only for a level whose row is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.vocab import Importance, Sensitivity
from govshare.classification.models import ClassificationLevel
from govshare.errors import Forbidden, Invalid

DIMENSIONS: dict[str, tuple[str, ...]] = {
    "importance": tuple(m.value for m in Importance),
    "sensitivity": tuple(m.value for m in Sensitivity),
}
DIMENSION_LABELS = {"importance": "数据重要程度（GB/T 43697）", "sensitivity": "个人信息敏感程度"}

# The yes/no controls, in the order pages show them, with what a "yes" means.
CONTROLS: dict[str, str] = {
    "shareable": "可共享",
    "unconditional": "可无条件共享（无需提供部门审批）",
    "masking": "须经脱敏方案交付",
    "exportable": "可批准导出",
    "openable": "可向社会开放",
    "encrypted": "须加密存储",
    "restricted": "元数据受限（仅有权者可见）",
}
# For each control, whether True is the permissive value (the strictest of two levels is then
# the AND of both) or the restrictive one (then the OR).
_PERMISSIVE = {"shareable", "unconditional", "exportable", "openable"}


@dataclass(frozen=True)
class Controls:
    shareable: bool = True
    unconditional: bool = True
    masking: bool = False
    exportable: bool = True
    openable: bool = True
    encrypted: bool = False
    restricted: bool = False
    max_grant_days: int | None = None

    def stricter(self, other: Controls) -> Controls:
        """The controls that satisfy both `self` and `other`."""
        values: dict[str, Any] = {}
        for name in CONTROLS:
            a, b = getattr(self, name), getattr(other, name)
            values[name] = (a and b) if name in _PERMISSIVE else (a or b)
        caps = [d for d in (self.max_grant_days, other.max_grant_days) if d is not None]
        values["max_grant_days"] = min(caps) if caps else None
        return Controls(**values)


@dataclass(frozen=True)
class Level:
    dimension: str
    code: str
    rank: int
    label: str
    description: str
    controls: Controls


def _level(dimension: str, code: str, label: str, description: str, **controls: Any) -> Level:
    return Level(dimension, code, DIMENSIONS[dimension].index(code), label, description, Controls(**controls))


DEFAULTS: tuple[Level, ...] = (
    _level(
        "importance",
        "general",
        "一般数据",
        "一旦遭到篡改、破坏、泄露或非法获取、利用，对个人或组织合法权益造成一般危害的数据。",
    ),
    _level(
        "importance",
        "important",
        "重要数据",
        "一旦遭到篡改、破坏、泄露或非法获取、利用，可能直接危害国家安全、经济运行、社会稳定、公共健康和安全的数据。",
        unconditional=False,
        openable=False,
        max_grant_days=732,
    ),
    _level(
        "importance",
        "core",
        "核心数据",
        "对领域、群体、区域具有较高覆盖度或达到较高精度、较大规模、一定深度，一旦被非法使用或共享，"
        "可能直接影响政治安全的数据。",
        unconditional=False,
        exportable=False,
        openable=False,
        encrypted=True,
        restricted=True,
        max_grant_days=366,
    ),
    _level("sensitivity", "L1", "L1 一般", "可直接使用的个人信息或不涉及个人信息。"),
    _level(
        "sensitivity",
        "L2",
        "L2 较敏感",
        "审批后脱敏使用。",
        unconditional=False,
        masking=True,
        openable=False,
    ),
    _level(
        "sensitivity", "L3", "L3 敏感", "审批后脱敏使用。", unconditional=False, masking=True, openable=False
    ),
    _level(
        "sensitivity",
        "L4",
        "L4 高度敏感",
        "不予共享，加密存储。",
        shareable=False,
        unconditional=False,
        masking=True,
        exportable=False,
        openable=False,
        encrypted=True,
        restricted=True,
    ),
)


def level_of_row(row: ClassificationLevel) -> Level:
    controls = Controls(**{f.name: getattr(row, f.name) for f in fields(Controls)})
    return Level(row.dimension, row.code, row.rank, row.label, row.description, controls)


@dataclass(frozen=True)
class Scheme:
    levels: Mapping[tuple[str, str], Level]

    def level(self, dimension: str, code: str | None) -> Level:
        codes = DIMENSIONS[dimension]
        return self.levels[(dimension, code if code in codes else codes[0])]

    def of_item(self, item: Mapping[str, Any]) -> Controls:
        importance = self.level("importance", item.get("importance")).controls
        return importance.stricter(self.level("sensitivity", item.get("sensitivity")).controls)

    def restricted(self, item: Mapping[str, Any]) -> bool:
        return self.of_item(item).restricted

    def describe(self, item: Mapping[str, Any]) -> str:
        """An item's two levels as people read them, e.g. 「重要数据 / L3 敏感」."""
        importance = self.level("importance", item.get("importance")).label
        return f"{importance} / {self.level('sensitivity', item.get('sensitivity')).label}"


_CACHED = "classification_scheme"  # key in Session.info


def load(db: Session) -> Scheme:
    """The scheme in force: the table's rows, a default for any level whose row is missing. Read
    once per session: a data API call checks the levels and opens the store's table (which reads
    each item's 须加密存储 control) from the same copy. `forget` after changing a level."""
    cached: Scheme | None = db.info.get(_CACHED)
    if cached is None:
        cached = db.info[_CACHED] = _read(db)
    return cached


def forget(db: Session) -> None:
    db.info.pop(_CACHED, None)


def _read(db: Session) -> Scheme:
    levels = {(d.dimension, d.code): d for d in DEFAULTS}
    for row in db.scalars(select(ClassificationLevel)):
        if row.code in DIMENSIONS.get(row.dimension, ()):
            levels[(row.dimension, row.code)] = level_of_row(row)
    return Scheme(levels)


def highest(items: Iterable[Mapping[str, Any]]) -> tuple[str, str]:
    """A resource's level: the highest importance and the highest sensitivity among its items."""
    importance, sensitivity = 0, 0
    for item in items:
        i, s = item.get("importance") or "general", item.get("sensitivity") or "L1"
        if i in DIMENSIONS["importance"]:
            importance = max(importance, DIMENSIONS["importance"].index(i))
        if s in DIMENSIONS["sensitivity"]:
            sensitivity = max(sensitivity, DIMENSIONS["sensitivity"].index(s))
    return DIMENSIONS["importance"][importance], DIMENSIONS["sensitivity"][sensitivity]


def _names(scheme: Scheme, items: Sequence[Mapping[str, Any]]) -> str:
    return "、".join(f"{i['title']}（{i['name']}，{scheme.describe(i)}）" for i in items)


# --- the checks ---------------------------------------------------------------------------------


def never_shared(scheme: Scheme, items: Sequence[Mapping[str, Any]]) -> None:
    """Forbidden when any of `items` is at a level that is never shared."""
    refused = [i for i in items if not scheme.of_item(i).shareable]
    if refused:
        raise Forbidden(
            f"按分类分级方案，这些信息项不予共享：{_names(scheme, refused)}。请去掉这些信息项后再办理。",
            "Items at a level that is never shared.",
            details={"control": "shareable", "items": [i["name"] for i in refused]},
        )


def needing_approval(scheme: Scheme, items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [i for i in items if not scheme.of_item(i).unconditional]


def max_days(scheme: Scheme, items: Sequence[Mapping[str, Any]]) -> int | None:
    caps = [c for c in (scheme.of_item(i).max_grant_days for i in items) if c is not None]
    return min(caps) if caps else None


def duration(
    scheme: Scheme, items: Sequence[Mapping[str, Any]], days: int, field: str = "duration_days"
) -> None:
    """Invalid when a grant of `items` would last longer than their levels allow."""
    cap = max_days(scheme, items)
    if cap is not None and days > cap:
        capped = [i for i in items if scheme.of_item(i).max_grant_days == cap]
        raise Invalid(
            f"按分类分级方案，含有 {_names(scheme, capped)} 的授权最长 {cap} 天，请缩短期限。",
            f"Grants of these items last at most {cap} days.",
            details={"field": field, "control": "max_grant_days", "max_days": cap},
        )


def masking(
    scheme: Scheme,
    items: Sequence[Mapping[str, Any]],
    profile_code: str | None,
    profile_levels: Mapping[str, Any],
) -> None:
    """Forbidden when items whose level requires masking would be delivered through a profile that
    passes their whole sensitivity level through as is (`profile_levels`: the profile's
    `{level: {kind: rule or None}}`)."""
    bare = [
        i
        for i in items
        if scheme.of_item(i).masking
        and str(i.get("sensitivity") or "L1") in profile_levels
        and all(rule is None for rule in profile_levels[str(i.get("sensitivity") or "L1")].values())
    ]
    if bare:
        raise Forbidden(
            f"按分类分级方案，这些信息项须脱敏后交付，"
            f"而脱敏方案“{profile_code or '默认方案'}”对其级别原样提供："
            f"{_names(scheme, bare)}。请选择对该级别脱敏的方案。",
            "These items must be masked, and the profile passes their level through as is.",
            details={"control": "masking", "items": [i["name"] for i in bare], "profile": profile_code},
        )


def exportable(scheme: Scheme, items: Sequence[Mapping[str, Any]]) -> None:
    refused = [i for i in items if not scheme.of_item(i).exportable]
    if refused:
        raise Forbidden(
            f"按分类分级方案，这些信息项不得导出：{_names(scheme, refused)}。"
            "请在导出的信息项中去掉它们，或改用数据接口按需调用。",
            "Items at a level that may not be exported.",
            details={"control": "exportable", "items": [i["name"] for i in refused]},
        )


def openable(scheme: Scheme, items: Sequence[Mapping[str, Any]]) -> None:
    refused = [i for i in items if not scheme.of_item(i).openable]
    if refused:
        raise Invalid(
            f"按分类分级方案，这些信息项不得向社会开放：{_names(scheme, refused)}。"
            "请将开放属性改为“有条件开放”或“不予开放”，或去掉这些信息项。",
            "Items at a level that may not be opened to the public.",
            details={"field": "open_type", "control": "openable", "items": [i["name"] for i in refused]},
        )
