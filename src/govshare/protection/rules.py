"""Detection rules and the thresholds the Bureau sets for them (S10–S12).

Each rule has defaults (`RULES`); a rule the Bureau edits gets a `RuleSetting` row, and every edit
is audited with the values before and after. `effective` is what the scanner runs with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.db import utcnow
from govshare.errors import Conflict, Invalid, NotFound
from govshare.protection.models import RuleSetting


@dataclass(frozen=True)
class Param:
    name: str
    label: str
    default: int
    low: int
    high: int


@dataclass(frozen=True)
class RuleDef:
    code: str
    label: str
    description: str
    severity: str  # low | medium | high
    params: tuple[Param, ...]

    def defaults(self) -> dict[str, int]:
        return {p.name: p.default for p in self.params}


_MINUTES = Param("minutes", "时间窗口（分钟）", 10, 1, 1440)
RULES: dict[str, RuleDef] = {
    r.code: r
    for r in (
        RuleDef(
            "denial_burst",
            "集中越权访问",
            "同一人员或业务系统在时间窗口内被拒绝访问（越权、非授权地址、无授权调用、调用不存在的资源）达到次数。",
            "high",
            (Param("count", "拒绝次数", 10, 2, 100_000), _MINUTES),
        ),
        RuleDef(
            "volume_spike",
            "数据调用量异常",
            "调用方（业务系统，或部门人员）当天获取的数据行数超过其前若干天日调用量中位数的倍数，"
            "且不低于最低行数。",
            "high",
            (
                Param("factor", "倍数", 10, 2, 1000),
                Param("min_rows", "最低行数", 10_000, 1, 1_000_000_000),
                Param("baseline_days", "基线天数", 28, 7, 90),
            ),
        ),
        RuleDef(
            "off_hours_bulk",
            "非工作时间批量获取",
            "非工作日或工作时间以外，同一调用方在时间窗口内获取的数据行数达到阈值。",
            "medium",
            (
                Param("rows", "行数", 1000, 1, 1_000_000_000),
                Param("minutes", "时间窗口（分钟）", 60, 1, 1440),
                Param("work_start", "上班时间（时）", 8, 0, 23),
                Param("work_end", "下班时间（时）", 18, 1, 24),
            ),
        ),
        RuleDef(
            "purpose_mismatch",
            "超用途调用",
            "同一人员或业务系统在时间窗口内以授权未申报的用途调用数据被拒绝达到次数。",
            "medium",
            (Param("count", "次数", 3, 1, 100_000), Param("minutes", "时间窗口（分钟）", 60, 1, 1440)),
        ),
        RuleDef(
            "key_enumeration",
            "疑似遍历查询",
            "同一人员或业务系统在时间窗口内用不同的单值条件逐条查询达到次数，或其中查无结果的不同条件达到次数。",
            "high",
            (
                Param("lookups", "不同单值查询数", 100, 2, 1_000_000),
                Param("misses", "查无结果的不同查询数", 20, 2, 1_000_000),
                _MINUTES,
            ),
        ),
        RuleDef(
            "revoked_credentials",
            "使用失效凭证",
            "同一人员或业务系统在时间窗口内使用已过期、已吊销或已停用的令牌/会话达到次数。",
            "medium",
            (Param("count", "次数", 3, 1, 100_000), Param("minutes", "时间窗口（分钟）", 60, 1, 1440)),
        ),
        RuleDef(
            "login_failures",
            "集中登录失败",
            "同一来源地址在时间窗口内登录失败达到次数（口令猜测）。",
            "medium",
            (Param("count", "失败次数", 10, 2, 100_000), _MINUTES),
        ),
    )
}
SEVERITY_LABELS = {"low": "低", "medium": "中", "high": "高"}


@dataclass(frozen=True)
class Effective:
    rule: RuleDef
    enabled: bool
    params: dict[str, int]
    version: int | None  # None: never edited (defaults)
    updated_by: str | None
    updated_at: datetime | None


def effective(db: Session) -> dict[str, Effective]:
    """Every rule with the thresholds in force: the Bureau's, over the defaults."""
    stored = {s.code: s for s in db.scalars(select(RuleSetting))}
    result = {}
    for code, rule in RULES.items():
        row = stored.get(code)
        params = rule.defaults() | (
            {k: v for k, v in row.params.items() if k in rule.defaults()} if row else {}
        )
        result[code] = Effective(
            rule,
            row.enabled if row else True,
            params,
            row.version if row else None,
            row.updated_by if row else None,
            row.updated_at if row else None,
        )
    return result


def list_rules(db: Session, *, actor: Actor) -> list[Effective]:
    require(actor, Action.rules_view)
    return list(effective(db).values())


def update_rule(
    db: Session,
    *,
    actor: Actor,
    code: str,
    enabled: bool,
    params: dict[str, int],
    version: int | None,
) -> Effective:
    """Set a rule's thresholds (all of them) and whether it runs; audited with before and after.

    `version` is the one the editor saw (None for a rule still on its defaults): an edit based on
    an older one is refused with Conflict. Raises Invalid for an unknown parameter or one out of
    its range, and for a working day that ends before it starts."""
    require(actor, Action.rules_manage)
    rule = RULES.get(code)
    if rule is None:
        raise NotFound("找不到该告警规则。", f"Rule {code} not found.")
    current = effective(db)[code]
    if version != current.version:
        raise Conflict(
            "该规则已被他人修改，请刷新后重新编辑。",
            "The rule was changed by someone else.",
            details={"current_version": current.version},
        )
    unknown = sorted(set(params) - set(rule.defaults()))
    if unknown:
        raise Invalid(
            f"规则没有参数：{'、'.join(unknown)}。", "Unknown parameter.", details={"field": unknown[0]}
        )
    values = dict(current.params)
    for p in rule.params:
        if p.name in params:
            value = params[p.name]
            if not isinstance(value, int) or isinstance(value, bool) or not p.low <= value <= p.high:
                raise Invalid(
                    f"{p.label}应为 {p.low} 到 {p.high} 之间的整数。",
                    f"{p.name} out of range.",
                    details={"field": p.name},
                )
            values[p.name] = value
    if "work_start" in values and values["work_start"] >= values["work_end"]:
        raise Invalid(
            "下班时间应晚于上班时间。", "work_end must be after work_start.", details={"field": "work_end"}
        )
    row = db.get(RuleSetting, code)
    if row is None:
        row = RuleSetting(
            code=code, enabled=enabled, params=values, updated_by=actor.name, updated_at=utcnow()
        )
        db.add(row)
    else:
        row.enabled, row.params, row.updated_by, row.updated_at = enabled, values, actor.name, utcnow()
    db.flush()
    audit.record(
        db,
        EventType.alert_rule_changed,
        actor=actor,
        object_type="protection_rule_settings",
        object_id=code,
        details={
            "rule": code,
            "before": {"enabled": current.enabled, **current.params},
            "after": {"enabled": enabled, **values},
        },
    )
    return effective(db)[code]
