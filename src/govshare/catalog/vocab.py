"""The catalog's controlled vocabularies, with the Chinese terms of 政务信息资源目录编制指南.

Each enumeration stores a stable ASCII value (what the API speaks) and shows a Chinese label (what
people read). The labels follow the guide's wording; where the guide offers a code (the 信息项
data types C, N, Y, …) the value is that code.
"""

from __future__ import annotations

from enum import StrEnum


class Labelled(StrEnum):
    """A vocabulary whose members carry a Chinese label."""

    @property
    def label(self) -> str:
        return _LABELS[type(self).__name__][self.value]

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, m.label) for m in cls]


class ClassKind(Labelled):
    """The three classes of M15: 基础, 主题 and 部门 resources."""

    base = "base"
    theme = "theme"
    department = "department"


class ResourceFormat(Labelled):
    """信息资源格式 (the guide's format classes)."""

    electronic_file = "electronic_file"
    spreadsheet = "spreadsheet"
    database = "database"
    image = "image"
    streaming = "streaming"
    self_describing = "self_describing"
    service = "service"


class ProvisionMethod(Labelled):
    """提供方式 (the guide's 共享方式类型): how consumers receive the data through the platform."""

    table = "table"
    api = "api"
    file = "file"


class SharingType(Labelled):
    """共享类型 (M14)."""

    unconditional = "unconditional"
    conditional = "conditional"
    not_shared = "not_shared"


class OpenType(Labelled):
    """开放属性."""

    open = "open"
    conditional = "conditional"
    closed = "closed"


class UpdateCycle(Labelled):
    """更新周期."""

    realtime = "realtime"
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"
    quarterly = "quarterly"
    half_yearly = "half_yearly"
    yearly = "yearly"
    irregular = "irregular"

    @property
    def days(self) -> int | None:
        """The longest gap between updates the cycle allows (None: no fixed cycle)."""
        return {
            "realtime": 1,
            "daily": 1,
            "weekly": 7,
            "monthly": 31,
            "quarterly": 92,
            "half_yearly": 183,
            "yearly": 366,
        }.get(self.value)


class DataType(Labelled):
    """信息项数据类型: the guide's type codes."""

    C = "C"
    N = "N"
    Y = "Y"
    D = "D"
    T = "T"
    L = "L"
    M = "M"
    G = "G"
    B = "B"
    I = "I"  # noqa: E741 - the guide's code for 整型
    F = "F"

    @property
    def needs_length(self) -> bool:
        return self in (DataType.C, DataType.N, DataType.Y)


class Sensitivity(Labelled):
    """Personal-information sensitivity of an item (L1 usable directly … L4 never shared)."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"


class Importance(Labelled):
    """数据重要程度 per GB/T 43697: 一般数据, 重要数据, 核心数据 (lowest to highest)."""

    general = "general"
    important = "important"
    core = "core"


class LegalBasisKind(Labelled):
    """What kind of document a conditional or not-shared entry rests on (M15(2))."""

    law = "law"
    regulation = "regulation"
    policy = "policy"


class EntryStatus(Labelled):
    """Where a catalog entry stands, as lists and the API show it."""

    draft = "draft"
    submitted = "submitted"
    returned = "returned"
    published = "published"
    retired = "retired"


class VersionState(Labelled):
    """The life of one version of an entry."""

    draft = "draft"
    submitted = "submitted"
    returned = "returned"
    published = "published"
    superseded = "superseded"
    discarded = "discarded"


class ChangeKind(Labelled):
    """What a version proposes: the first entry, a change of a published entry, or its retirement."""

    create = "create"
    change = "change"
    retire = "retire"


class SecrecyConclusion(Labelled):
    """保密审查结论 (M20)."""

    passed = "passed"
    failed = "failed"


class ConflictStatus(Labelled):
    open = "open"
    kept = "kept"
    transferred = "transferred"


_LABELS: dict[str, dict[str, str]] = {
    "ClassKind": {"base": "基础信息资源", "theme": "主题信息资源", "department": "部门信息资源"},
    "ResourceFormat": {
        "electronic_file": "电子文件",
        "spreadsheet": "电子表格",
        "database": "数据库",
        "image": "图形图像",
        "streaming": "流媒体",
        "self_describing": "自描述格式",
        "service": "服务接口",
    },
    "ProvisionMethod": {"table": "库表", "api": "接口", "file": "文件"},
    "SharingType": {"unconditional": "无条件共享", "conditional": "有条件共享", "not_shared": "不予共享"},
    "OpenType": {"open": "无条件开放", "conditional": "有条件开放", "closed": "不予开放"},
    "UpdateCycle": {
        "realtime": "实时",
        "daily": "每日",
        "weekly": "每周",
        "monthly": "每月",
        "quarterly": "每季度",
        "half_yearly": "每半年",
        "yearly": "每年",
        "irregular": "不定期",
    },
    "DataType": {
        "C": "字符型C",
        "N": "数值型N",
        "Y": "货币型Y",
        "D": "日期型D",
        "T": "日期时间型T",
        "L": "逻辑型L",
        "M": "备注型M",
        "G": "通用型G",
        "B": "双精度型B",
        "I": "整型I",
        "F": "浮点型F",
    },
    "Sensitivity": {
        "L1": "L1 一般（可直接使用）",
        "L2": "L2 较敏感（审批后脱敏使用）",
        "L3": "L3 敏感（审批后脱敏使用）",
        "L4": "L4 高度敏感（不予共享，加密存储）",
    },
    "Importance": {"general": "一般数据", "important": "重要数据", "core": "核心数据"},
    "LegalBasisKind": {"law": "法律", "regulation": "行政法规", "policy": "党中央、国务院政策"},
    "EntryStatus": {
        "draft": "草稿",
        "submitted": "待审核",
        "returned": "已退回",
        "published": "已发布",
        "retired": "已撤销",
    },
    "VersionState": {
        "draft": "草稿",
        "submitted": "待审核",
        "returned": "已退回",
        "published": "现行版本",
        "superseded": "历史版本",
        "discarded": "已放弃",
    },
    "ChangeKind": {"create": "新编目录", "change": "目录变更", "retire": "撤销目录"},
    "SecrecyConclusion": {"passed": "通过，不涉及国家秘密", "failed": "未通过，涉及国家秘密"},
    "ConflictStatus": {"open": "待处理", "kept": "维持原权威来源", "transferred": "改由申报单位作为权威来源"},
}
