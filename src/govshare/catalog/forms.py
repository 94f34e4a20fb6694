"""The catalog pages' forms: the compile/edit form as posted (items as parallel columns), how it becomes
the metadata the services take, which field a refusal points at, and how versions and their
differences read to a person.

The form is kept exactly as typed, so a refused form comes back with everything the person entered.
Items arrive as one list per column (`item_name`, `item_title`, …); each row also posts its row id
(`item_row`), and the `is_key` / `queryable` / `authoritative` checkboxes post the ids of the ticked
rows, so an unticked box cannot shift the others onto the wrong row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog import rules
from govshare.catalog.models import DataElement, Resource
from govshare.catalog.schemas import MAX_ITEMS, VersionOut
from govshare.catalog.search import Filters
from govshare.catalog.service import ITEM_FIELD_LABELS, Change
from govshare.catalog.vocab import (
    ClassKind,
    DataType,
    EntryStatus,
    Importance,
    Labelled,
    LegalBasisKind,
    OpenType,
    ProvisionMethod,
    ResourceFormat,
    Sensitivity,
    SharingType,
    UpdateCycle,
)
from govshare.errors import DomainError, Invalid
from govshare.web.forms import optional, parse_enum, parse_int

# (label, what a right value looks like) per field, for pydantic's refusals.
Fields = Mapping[str, tuple[str, str]]

ENTRY_FIELDS: Fields = {
    "category": ("信息资源分类", "请从列表中选择一个小类"),
    "name": ("信息资源名称", "应为 2–128 个字符"),
    "summary": ("信息资源摘要", "应为 4–2000 个字符"),
    "format": ("信息资源格式", "请从列表中选择"),
    "format_detail": ("格式说明", "不能超过 64 个字符"),
    "provision_method": ("提供方式", "请从列表中选择"),
    "sharing_type": ("共享类型", "请从列表中选择"),
    "sharing_condition": ("共享条件", "不能超过 500 个字符"),
    "not_shared_reason": ("不予共享理由", "不能超过 500 个字符"),
    "legal_basis_kind": ("依据类型", "请从列表中选择"),
    "legal_basis": ("共享依据", "不能超过 500 个字符"),
    "open_type": ("开放类型", "请从列表中选择"),
    "open_condition": ("开放条件", "不能超过 500 个字符"),
    "update_cycle": ("更新周期", "请从列表中选择"),
    "items": ("信息项", f"最多 {MAX_ITEMS} 个"),
    "related": ("关联资源", "最多关联 50 个目录条目"),
    "lock_version": ("版本", "页面已过期，请刷新后重新编辑"),
    "change_reason": ("变更原因", "不能超过 500 个字符"),
}
ITEM_FIELDS: Fields = {
    "name": ("字段名", "须以小写字母开头，只含小写字母、数字和下划线，最长 63 位，如 id_number"),
    "title": ("中文名称", "应为 1–64 个字符"),
    "data_type": ("数据类型", "请从列表中选择"),
    "length": ("长度", "应为 1–65535 之间的整数"),
    "sensitivity": ("敏感级别", "请从列表中选择"),
    "importance": ("重要程度", "请从列表中选择"),
    "element": ("数据元", "请从列表中选择"),
    "description": ("说明", "不能超过 200 个字符"),
}
SECRECY_FIELDS: Fields = {
    "reviewer": ("审查人", "应为 2–64 个字符，写明姓名和职务"),
    "reviewed_on": ("审查日期", "请填写日期，如 2026-11-20"),
    "conclusion": ("审查结论", "请选择通过或未通过"),
    "opinion": ("审查意见", "不能超过 500 个字符"),
}
RETIRE_FIELDS: Fields = {"reason": ("撤销原因", "应为 4–500 个字符，说明为何撤销（如机构改革、系统停用）")}

_ENUMS: dict[str, type[Labelled]] = {
    "format": ResourceFormat,
    "provision_method": ProvisionMethod,
    "sharing_type": SharingType,
    "legal_basis_kind": LegalBasisKind,
    "open_type": OpenType,
    "update_cycle": UpdateCycle,
    "data_type": DataType,
    "sensitivity": Sensitivity,
    "importance": Importance,
}
_CODE_SEPARATORS = re.compile(r"[\s,，、;；]+")

# Generous bounds against abuse only; the metadata schema says what a right value is.
Text = Annotated[str, Field(max_length=4000)]
Column = Annotated[list[Annotated[str, Field(max_length=2000)]], Field(max_length=MAX_ITEMS)]


@dataclass
class ItemRow:
    """One row of the items editor, as typed."""

    row: str
    name: str = ""
    title: str = ""
    data_type: str = DataType.C.value
    length: str = ""
    is_key: bool = False
    queryable: bool = False
    sensitivity: str = Sensitivity.L1.value
    importance: str = Importance.general.value
    element: str = ""
    authoritative: bool = False
    description: str = ""

    @property
    def blank(self) -> bool:
        """An added row left empty is dropped rather than refused."""
        return not any(v.strip() for v in (self.name, self.title, self.length, self.description))

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "data_type": self.data_type,
            "length": optional(self.length),
            "is_key": self.is_key,
            "queryable": self.queryable,
            "sensitivity": self.sensitivity,
            "importance": self.importance,
            "element": optional(self.element),
            "authoritative": self.authoritative,
            "description": optional(self.description),
        }


def next_row(rows: list[ItemRow]) -> int:
    """The id the items editor gives the next row it adds."""
    return 1 + max((int(r.row) for r in rows if r.row.isdecimal()), default=-1)


class EntryForm(BaseModel):
    """The compile and edit form as posted (other fields, such as the CSRF token, are ignored)."""

    model_config = ConfigDict(extra="ignore")

    category: Text = ""
    name: Text = ""
    summary: Text = ""
    format: Text = ResourceFormat.database.value
    format_detail: Text = ""
    provision_method: Text = ProvisionMethod.table.value
    sharing_type: Text = SharingType.unconditional.value
    sharing_condition: Text = ""
    not_shared_reason: Text = ""
    legal_basis_kind: Text = ""
    legal_basis: Text = ""
    open_type: Text = OpenType.closed.value
    open_condition: Text = ""
    update_cycle: Text = UpdateCycle.irregular.value
    related: Text = ""
    item_row: Column = []
    item_name: Column = []
    item_title: Column = []
    item_data_type: Column = []
    item_length: Column = []
    item_is_key: Column = []
    item_queryable: Column = []
    item_sensitivity: Column = []
    item_importance: Column = []
    item_element: Column = []
    item_authoritative: Column = []
    item_description: Column = []
    lock_version: Text = ""
    change_reason: Text = ""

    @classmethod
    def of(cls, version: VersionOut, *, lock_version: int, change_reason: str) -> EntryForm:
        """The form filled with a version's metadata (the starting point of an edit)."""
        items = version.items
        return cls(
            category=version.category,
            name=version.name,
            summary=version.summary,
            format=version.format.value,
            format_detail=version.format_detail or "",
            provision_method=version.provision_method.value,
            sharing_type=version.sharing_type.value,
            sharing_condition=version.sharing_condition or "",
            not_shared_reason=version.not_shared_reason or "",
            legal_basis_kind=version.legal_basis_kind.value if version.legal_basis_kind else "",
            legal_basis=version.legal_basis or "",
            open_type=version.open_type.value,
            open_condition=version.open_condition or "",
            update_cycle=version.update_cycle.value,
            related=" ".join(r.code for r in version.related),
            item_row=[str(n) for n in range(len(items))],
            item_name=[i.name for i in items],
            item_title=[i.title for i in items],
            item_data_type=[i.data_type.value for i in items],
            item_length=[str(i.length) if i.length is not None else "" for i in items],
            item_is_key=[str(n) for n, i in enumerate(items) if i.is_key],
            item_queryable=[str(n) for n, i in enumerate(items) if i.queryable],
            item_sensitivity=[i.sensitivity.value for i in items],
            item_importance=[i.importance.value for i in items],
            item_element=[i.element or "" for i in items],
            item_authoritative=[str(n) for n, i in enumerate(items) if i.authoritative],
            item_description=[i.description or "" for i in items],
            lock_version=str(lock_version),
            change_reason=change_reason,
        )

    def rows(self) -> list[ItemRow]:
        """The items editor's rows that are not left blank, in the order posted."""
        keys, queryable = set(self.item_is_key), set(self.item_queryable)
        authoritative = set(self.item_authoritative)

        def at(column: list[str], index: int, default: str = "") -> str:
            return column[index] if index < len(column) else default

        rows = [
            ItemRow(
                row=row,
                name=at(self.item_name, n),
                title=at(self.item_title, n),
                data_type=at(self.item_data_type, n, DataType.C.value),
                length=at(self.item_length, n),
                is_key=row in keys,
                queryable=row in queryable,
                sensitivity=at(self.item_sensitivity, n, Sensitivity.L1.value),
                importance=at(self.item_importance, n, Importance.general.value),
                element=at(self.item_element, n),
                authoritative=row in authoritative,
                description=at(self.item_description, n),
            )
            for n, row in enumerate(self.item_row)
        ]
        return [r for r in rows if not r.blank]

    def metadata(self, related: list[int]) -> dict[str, Any]:
        """The values for `Metadata` (blank optional text means "not given")."""
        return {
            "category": self.category.strip(),
            "name": self.name,
            "summary": self.summary,
            "format": self.format,
            "format_detail": optional(self.format_detail),
            "provision_method": self.provision_method,
            "sharing_type": self.sharing_type,
            "sharing_condition": optional(self.sharing_condition),
            "not_shared_reason": optional(self.not_shared_reason),
            "legal_basis_kind": optional(self.legal_basis_kind),
            "legal_basis": optional(self.legal_basis),
            "open_type": self.open_type,
            "open_condition": optional(self.open_condition),
            "update_cycle": self.update_cycle,
            "items": [r.values() for r in self.rows()],
            "related": related,
        }


def related_ids(db: Session, text: str) -> list[int]:
    """The ids of the published entries whose codes `text` lists; Invalid naming any other code."""
    codes = list(dict.fromkeys(c for c in _CODE_SEPARATORS.split(text.strip()) if c))
    if not codes:
        return []
    found = dict(
        db.execute(
            select(Resource.code, Resource.id).where(
                Resource.code.in_(codes), Resource.published_version_id.is_not(None)
            )
        ).all()
    )
    missing = [c for c in codes if c not in found]
    if missing:
        raise Invalid(
            f"关联资源代码 {'、'.join(missing)} 不存在或尚未发布；"
            "请填写已发布目录条目的代码，如 101/000001。",
            "related: unknown or unpublished entry codes.",
            details={"field": "related"},
        )
    return [found[c] for c in codes]


# --- refusals ------------------------------------------------------------------------------------


def _problem(error: ErrorDetails, fields: Fields) -> tuple[str, str]:
    """The field a pydantic error is about (`items.<row>.<column>` for items) and one sentence."""
    loc = error["loc"]
    if len(loc) >= 3 and loc[0] == "items" and isinstance(loc[1], int):
        key = f"items.{loc[1]}.{loc[2]}"
        column, hint = ITEM_FIELDS.get(str(loc[2]), (str(loc[2]), ""))
        label = f"第 {loc[1] + 1} 个信息项的{column}"
    else:
        key = str(loc[0]) if loc else ""
        label, hint = fields.get(key, (key, ""))
    kind = error["type"]
    if kind == "value_error":
        return key, str(error["msg"]).removeprefix("Value error, ")
    if kind == "missing" or (kind == "string_too_short" and not str(error.get("input", "")).strip()):
        return key, f"{label}：不能为空"
    return key, f"{label}：{hint or '取值不正确'}"


def refusal(exc: ValidationError | DomainError, fields: Fields) -> tuple[str, dict[str, str], int]:
    """The flash message, the message shown next to each failing field, and the status of a refused
    form (see `web.forms.FIXABLE`)."""
    if isinstance(exc, ValidationError):
        errors: dict[str, str] = {}
        for error in exc.errors():
            key, message = _problem(error, fields)
            errors.setdefault(key, message)
        return (
            "提交的内容有误，请修改后重试：" + "；".join(dict.fromkeys(errors.values())) + "。",
            errors,
            422,
        )
    field = exc.details.get("field") if isinstance(exc.details, dict) else None
    return exc.message, ({str(field): exc.message} if field else {}), exc.status


# --- reading versions ----------------------------------------------------------------------------


def element_names(db: Session, codes: set[str]) -> dict[str, str]:
    """Data element names by code, for the items tables."""
    if not codes:
        return {}
    return dict(
        db.execute(select(DataElement.code, DataElement.name).where(DataElement.code.in_(codes))).all()
    )


def comment_rows(version: VersionOut) -> list[tuple[str, str]]:
    """The Bureau's comments per field of a version, with the field's Chinese label."""
    titles = {i.name: i.title for i in version.items}
    rows = []
    for key, comment in version.field_comments.items():
        item = key.removeprefix("items.")
        if item != key:
            label = f"信息项 {titles[item]}（{item}）" if item in titles else f"信息项 {item}"
        else:
            label = rules.FIELD_LABELS.get(key, key)
        rows.append((label, comment))
    return rows


def _flag(value: object) -> str:
    return "是" if value else "否"


def item_text(item: Mapping[str, Any]) -> str:
    """An item as a person reads it: 公民身份号码（id_number）字符型C 长度 18，业务主键，…"""
    parts = [f"{item.get('title')}（{item.get('name')}）{_label('data_type', item.get('data_type'))}"]
    if item.get("length") is not None:
        parts[0] += f" 长度 {item['length']}"
    if item.get("is_key"):
        parts.append("业务主键")
    if item.get("queryable"):
        parts.append("查询项")
    parts.append(_label("sensitivity", item.get("sensitivity")))
    parts.append(_label("importance", item.get("importance") or Importance.general.value))
    if item.get("element"):
        parts.append(f"数据元 {item['element']}")
    if item.get("authoritative"):
        parts.append("权威来源")
    if item.get("description"):
        parts.append(f"说明：{item['description']}")
    return "，".join(parts)


def _label(field: str, value: object) -> str:
    vocab = _ENUMS.get(field)
    if vocab is None or value is None:
        return "—" if value is None else str(value)
    try:
        return vocab(str(value)).label
    except ValueError:
        return str(value)


def readable(field: str, value: object) -> str:
    """A value of a diff (`field` as `service.diff` names it) in words."""
    if value is None or value == "" or value == []:
        return "—"
    if field.startswith("items."):
        attribute = field.split(".")[-1] if field.count(".") == 2 else None
        if attribute in ("is_key", "queryable", "authoritative"):
            return _flag(value)
        if attribute is not None and attribute in ITEM_FIELD_LABELS:
            return _label(attribute, value)
        if isinstance(value, Mapping):
            return item_text(value)
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return _label(field, value)


@dataclass(frozen=True)
class ChangeRow:
    label: str
    before: str
    after: str


def change_row(change: Change) -> ChangeRow:
    return ChangeRow(
        change.label, readable(change.field, change.before), readable(change.field, change.after)
    )


FilterText = Annotated[str, Query(max_length=100)]


def list_filters(
    q: FilterText = "",
    class_kind: FilterText = "",
    category: FilterText = "",
    provider: FilterText = "",
    sharing_type: FilterText = "",
    open_type: FilterText = "",
    format: FilterText = "",
    update_cycle: FilterText = "",
    provision_method: FilterText = "",
    status: FilterText = "",
) -> Filters:
    """The catalog list's filters from its query string; an empty or unknown value means "any"."""
    return Filters(
        q=optional(q),
        class_kind=parse_enum(ClassKind, class_kind),
        category=optional(category),
        org_id=parse_int(provider),
        sharing_type=parse_enum(SharingType, sharing_type),
        open_type=parse_enum(OpenType, open_type),
        format=parse_enum(ResourceFormat, format),
        update_cycle=parse_enum(UpdateCycle, update_cycle),
        provision_method=parse_enum(ProvisionMethod, provision_method),
        status=parse_enum(EntryStatus, status),
    )


def chosen_filters(filters: Filters) -> dict[str, str]:
    """The query parameters of the filters that took effect (an unknown value means "no filter"),
    so that links keep exactly what the list shows."""
    return {
        "q": filters.q or "",
        "class_kind": filters.class_kind or "",
        "category": filters.category or "",
        "provider": str(filters.org_id) if filters.org_id is not None else "",
        "sharing_type": filters.sharing_type or "",
        "open_type": filters.open_type or "",
        "format": filters.format or "",
        "update_cycle": filters.update_cycle or "",
        "provision_method": filters.provision_method or "",
        "status": filters.status or "",
    }
