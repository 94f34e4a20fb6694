"""Provider-defined quality rules (S15): patterns, allowed values, ranges, lengths and uniqueness
per item.

They add to the rules the catalog implies (`quality.rules_for`) and run on every batch; a row that
breaks one is quarantined with the rule's own message. The provider's data administrator (or its
business system) replaces the whole set at once, audited.

`regex`, `enum`, `range` and `length` look at one value (`quality.checks_for` turns them into checks
run by `quality.check_row`); `unique` compares a value with the other rows of the batch and of the store,
so ingest applies it per chunk (`unique_items`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor
from govshare.errors import Invalid
from govshare.exchange.access import provision_resource, published_items
from govshare.exchange.models import QualityRule
from govshare.exchange.quality import bound_of

MAX_PATTERN = 200
MAX_VALUES = 500


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    item: str = Field(max_length=64, description="The item's field name.")
    kind: Literal["regex", "enum", "range", "length", "unique"]
    pattern: str | None = Field(
        None, max_length=MAX_PATTERN, description="regex: the whole value must match."
    )
    values: list[str] | None = Field(None, max_length=MAX_VALUES, description="enum: the allowed values.")
    min: str | None = Field(None, max_length=32, description="range/length: lower bound (number or date).")
    max: str | None = Field(None, max_length=32, description="range/length: upper bound.")
    message: str | None = Field(None, max_length=200, description="What the quarantine reason says.")


class RuleOut(RuleIn):
    id: int


def _params(rule: RuleIn, item: dict[str, Any]) -> dict[str, Any]:
    where = f"信息项 {item['title']}（{item['name']}）"
    if rule.kind == "unique":
        if item.get("is_key"):
            raise Invalid(
                f"{where}是业务主键，不需要唯一性规则：同一主键的行按主键更新，不会重复。"
                "请为非主键信息项设置唯一性规则。",
                "unique is for items that are not part of the business key.",
                details={"field": "rules"},
            )
        return {}
    if rule.kind == "regex":
        if not rule.pattern:
            raise Invalid(
                f"{where}的格式规则缺少正则表达式。", "pattern is required.", details={"field": "rules"}
            )
        try:
            re.compile(rule.pattern)
        except re.error as exc:
            raise Invalid(
                f"{where}的正则表达式有误：{exc}。", "Invalid pattern.", details={"field": "rules"}
            ) from None
        return {"pattern": rule.pattern}
    if rule.kind == "enum":
        if not rule.values:
            raise Invalid(f"{where}的取值范围为空。", "values are required.", details={"field": "rules"})
        return {"values": sorted(set(rule.values))}
    if rule.kind == "range":
        if item["data_type"] not in ("N", "Y", "I", "B", "F", "D"):
            raise Invalid(
                f"{where}不是数值或日期类型，不能设置取值区间。",
                "range needs a number or date item.",
                details={"field": "rules"},
            )
        low, high = bound_of(rule.min, item["data_type"]), bound_of(rule.max, item["data_type"])
        if low is None and high is None:
            raise Invalid(
                f"{where}的取值区间至少要有上限或下限。", "range needs a bound.", details={"field": "rules"}
            )
        return {"min": rule.min, "max": rule.max}
    low_len = int(rule.min) if rule.min and rule.min.isdigit() else None
    high_len = int(rule.max) if rule.max and rule.max.isdigit() else None
    if low_len is None and high_len is None:
        raise Invalid(
            f"{where}的长度规则应给出最小或最大长度（整数）。",
            "length needs a bound.",
            details={"field": "rules"},
        )
    return {"min": low_len, "max": high_len}


def list_rules(db: Session, *, actor: Actor, resource_id: int) -> list[QualityRule]:
    resource = provision_resource(db, actor=actor, resource_id=resource_id, action=Action.provision_view)
    return list(
        db.scalars(
            select(QualityRule)
            .where(QualityRule.resource_id == resource.id)
            .order_by(QualityRule.item_name, QualityRule.id)
        )
    )


def replace_rules(db: Session, *, actor: Actor, resource_id: int, rules: list[RuleIn]) -> list[QualityRule]:
    """Replace the resource's provider-defined rules with `rules` (checked against its items)."""
    resource = provision_resource(db, actor=actor, resource_id=resource_id, action=Action.data_provide)
    if resource.published_version_id is None:
        raise Invalid("只能为已发布的目录条目设置质量规则。", "The resource is not published.")
    items = {i["name"]: i for i in published_items(db, resource)}
    rows = []
    for rule in rules:
        item = items.get(rule.item)
        if item is None:
            raise Invalid(
                f"目录中没有字段名为 {rule.item} 的信息项。",
                f"Unknown item {rule.item}.",
                details={"field": "rules"},
            )
        rows.append(
            QualityRule(
                resource_id=resource.id,
                org_id=resource.org_id,
                item_name=rule.item,
                kind=rule.kind,
                params=_params(rule, item),
                message=rule.message,
                created_by=actor.user_id,
            )
        )
    db.execute(delete(QualityRule).where(QualityRule.resource_id == resource.id))
    db.add_all(rows)
    db.flush()
    audit.record(
        db,
        EventType.quality_rules_changed,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={"rules": [{"item": r.item_name, "kind": r.kind, "params": r.params} for r in rows]},
    )
    return rows


def unique_items(rules: list[QualityRule], items: list[dict[str, Any]]) -> dict[str, str | None]:
    """The items whose values must be unique among live rows, with the rule's message (or None).

    A rule left on a key item, or on an item the published version no longer has, does nothing: the
    key is unique by construction and a missing item has no values in the batch.
    """
    eligible = {i["name"] for i in items if not i.get("is_key")}
    return {r.item_name: r.message for r in rules if r.kind == "unique" and r.item_name in eligible}
