"""The rules an entry must satisfy whenever it is saved (M14, M15) — not only when submitted.

Each rule raises `Invalid` with `details.field` naming the field to fix, so the form can point at
it and an API client can tell which field was refused.
"""

from __future__ import annotations

import re

from govshare.catalog.schemas import Metadata
from govshare.catalog.vocab import ClassKind, OpenType, ProvisionMethod, SharingType
from govshare.errors import Invalid

# A legal basis names its document in 《》 and the article: 第三条, 第十五条第二款, 第12条.
_DOCUMENT = re.compile(r"《[^《》]{2,}》")
_ARTICLE = re.compile(r"第[0-9一二三四五六七八九十百零〇]+条")

FIELD_LABELS = {
    "category": "信息资源分类",
    "name": "信息资源名称",
    "summary": "信息资源摘要",
    "format": "信息资源格式",
    "format_detail": "格式说明",
    "provision_method": "提供方式",
    "sharing_type": "共享类型",
    "sharing_condition": "共享条件",
    "not_shared_reason": "不予共享理由",
    "legal_basis_kind": "依据类型",
    "legal_basis": "共享依据",
    "open_type": "开放类型",
    "open_condition": "开放条件",
    "update_cycle": "更新周期",
    "items": "信息项",
    "related": "关联资源",
}


def _refuse(field: str, message: str, english: str) -> Invalid:
    return Invalid(message, f"{field}: {english}", details={"field": field})


def check_sharing(meta: Metadata, class_kind: ClassKind) -> None:
    """M14, M15: the sharing and opening attributes agree with the class and carry their basis."""
    sharing = meta.sharing_type
    if class_kind is ClassKind.base and sharing is not SharingType.unconditional:
        raise _refuse(
            "sharing_type",
            "基础信息资源（人口、法人、自然资源和空间地理、社会信用、电子证照）必须无条件共享"
            "（《石家庄市政务数据资源共享管理办法》第十五条第三项）。",
            "base resources can only be shared unconditionally (M15(3)).",
        )
    if sharing is not SharingType.unconditional:
        label = sharing.label
        if not meta.legal_basis:
            raise _refuse(
                "legal_basis",
                f"列为{label}的资源必须填写共享依据（法律、行政法规或党中央、国务院政策文件及条款，"
                "第十五条第二项）。",
                f"legal_basis is required for {sharing.value} resources (M15(2)).",
            )
        if not (_DOCUMENT.search(meta.legal_basis) and _ARTICLE.search(meta.legal_basis)):
            raise _refuse(
                "legal_basis",
                "共享依据应写明文件名称（用书名号）和具体条款，如：《中华人民共和国户口登记条例》第三条。",
                "legal_basis must name the document in 《》 and the article (第…条).",
            )
    if sharing is SharingType.conditional and not meta.sharing_condition:
        raise _refuse(
            "sharing_condition",
            "有条件共享的资源必须写明共享条件（可向哪些部门、为何种用途、共享哪些信息项）。",
            "sharing_condition is required for conditional sharing.",
        )
    if sharing is SharingType.not_shared:
        if not meta.not_shared_reason:
            raise _refuse(
                "not_shared_reason",
                "不予共享的资源必须写明理由，该理由将向所有部门展示（第十六条）。",
                "not_shared_reason is required for resources that are not shared (M16).",
            )
        if meta.open_type is not OpenType.closed:
            raise _refuse(
                "open_type",
                "不予共享的资源不能向社会开放，请将开放类型设为“不予开放”。",
                "a resource that is not shared cannot be open.",
            )
    if meta.open_type is OpenType.conditional and not meta.open_condition:
        raise _refuse(
            "open_condition",
            "有条件开放的资源必须写明开放条件。",
            "open_condition is required for conditional opening.",
        )


def check_items(meta: Metadata, known_elements: set[str]) -> None:
    """信息项: unique names, lengths where the type needs one, known data elements, a business key."""
    seen: set[str] = set()
    for position, item in enumerate(meta.items, start=1):
        where = f"第 {position} 个信息项（{item.title}）"
        if item.name in seen:
            raise _refuse("items", f"{where}的字段名 {item.name} 重复。", f"duplicate item name {item.name}.")
        seen.add(item.name)
        if item.data_type.needs_length and item.length is None:
            raise _refuse(
                "items",
                f"{where}为{item.data_type.label}，必须填写长度。",
                f"item {item.name} of type {item.data_type.value} needs a length.",
            )
        if item.element is not None and item.element not in known_elements:
            raise _refuse(
                "items",
                f"{where}关联的数据元 {item.element} 不存在，请从数据元目录中选择。",
                f"item {item.name} refers to an unknown data element {item.element}.",
            )
        if item.authoritative and item.element is None:
            raise _refuse(
                "items",
                f"{where}声明为权威来源，但没有关联数据元。",
                f"item {item.name} claims authority without a data element.",
            )
    if meta.provision_method is ProvisionMethod.table:
        if not meta.items:
            raise _refuse(
                "items",
                "库表类资源至少要有一个信息项。",
                "a table resource needs at least one item.",
            )
        if not any(item.is_key for item in meta.items):
            raise _refuse(
                "items",
                "库表类资源至少要把一个信息项标为业务主键（用于识别和更新数据行）。",
                "a table resource needs at least one business-key item.",
            )
