"""The one authorization module: who may do what, to which objects.

Every decision goes through `allowed` / `require` (one object) or `visible` (a list query). The
role → permission table below is the whole policy; a role either holds an action city-wide, only
for objects of its own organisation, or only for itself. An object an actor may not even view is
reported as missing (404), never as forbidden, so that its existence does not leak.

Regulations: S25 (one identity and access process, least privilege), S9 (metadata access control),
M21/S7 (data administrators act for their own department only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, TypeVar

from sqlalchemy import Select, false
from sqlalchemy.orm import Session

from govshare.errors import Forbidden, NotFound, Unauthorized


class Role(StrEnum):
    bureau_admin = "bureau_admin"
    bureau_reviewer = "bureau_reviewer"
    auditor = "auditor"
    data_admin = "data_admin"
    catalog_compiler = "catalog_compiler"
    approver = "approver"
    security_officer = "security_officer"
    destruction_supervisor = "destruction_supervisor"
    business_user = "business_user"
    metadata_admin = "metadata_admin"
    bureau_metadata_admin = "bureau_metadata_admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.bureau_admin: "市数据资源管理局管理员",
    Role.bureau_reviewer: "市数据资源管理局审核员",
    Role.auditor: "审计员",
    Role.data_admin: "数据资源管理员",
    Role.catalog_compiler: "目录编制员",
    Role.approver: "审批人",
    Role.security_officer: "安全管理员",
    Role.destruction_supervisor: "销毁监督员",
    Role.business_user: "业务人员",
    Role.metadata_admin: "元数据管理员",
    Role.bureau_metadata_admin: "市数据资源管理局元数据管理员",
}

# Roles that exist only at the Bureau, and roles given only through a registration (备案) the
# Bureau approves (M21, S7).
BUREAU_ROLES = frozenset({Role.bureau_admin, Role.bureau_reviewer, Role.auditor, Role.bureau_metadata_admin})
REGISTERED_ROLES = frozenset({Role.data_admin, Role.security_officer})


class Action(StrEnum):
    org_view = "org.view"
    org_manage = "org.manage"
    user_view = "user.view"
    user_manage = "user.manage"
    role_assign = "user.role_assign"
    user_offboard = "user.offboard"
    registration_view = "registration.view"
    registration_submit = "registration.submit"
    registration_decide = "registration.decide"
    system_view = "system.view"
    system_manage = "system.manage"
    audit_read = "audit.read"
    audit_verify = "audit.verify"
    catalog_view = "catalog.view"
    catalog_view_unpublished = "catalog.view_unpublished"
    catalog_compile = "catalog.compile"
    catalog_secrecy = "catalog.secrecy_review"
    catalog_submit = "catalog.submit"
    catalog_review = "catalog.review"
    catalog_classes = "catalog.classes"
    catalog_supervise = "catalog.supervise"
    element_manage = "element.manage"
    element_resolve = "element.resolve"
    data_provide = "data.provide"
    provision_view = "data.provision_view"
    sync_manage = "data.sync_manage"
    service_manage = "data.service_manage"
    sharing_request = "sharing.request"
    sharing_view = "sharing.view"
    sharing_decide = "sharing.decide"
    sharing_supervise = "sharing.supervise"
    grant_manage = "sharing.grant_manage"
    sharing_rule = "sharing.rule"
    export_approve = "sharing.export_approve"
    data_consume = "data.consume"
    calendar_view = "calendar.view"
    calendar_manage = "calendar.manage"
    masking_view = "masking.view"
    masking_manage = "masking.manage"
    backup_view = "backup.view"
    backup_manage = "backup.manage"
    alert_view = "protection.alert_view"
    alert_handle = "protection.alert_handle"
    rules_view = "protection.rules_view"
    rules_manage = "protection.rules_manage"
    incident_view = "protection.incident_view"
    incident_manage = "protection.incident_manage"
    catalog_view_sensitive = "catalog.view_sensitive"
    classification_manage = "classification.manage"
    asset_register_view = "asset.register_view"
    destruction_view = "destruction.view"
    destruction_request = "destruction.request"
    destruction_approve_department = "destruction.approve_department"
    destruction_approve_bureau = "destruction.approve_bureau"
    destruction_supervise = "destruction.supervise"
    policy_view = "policy.view"
    policy_manage = "policy.manage"
    supervision_view = "supervision.view"
    report_publish = "report.publish"
    rectification_view = "rectification.view"
    rectification_supervise = "rectification.supervise"
    rectification_report = "rectification.report"
    open_application_view = "open.application_view"
    open_application_decide = "open.application_decide"
    open_settings = "open.settings"
    analysis_run = "analysis.run"
    analysis_release = "analysis.release"
    analysis_audit = "analysis.audit"

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS: dict[Action, str] = {
    Action.org_view: "查看单位",
    Action.org_manage: "管理单位",
    Action.user_view: "查看人员",
    Action.user_manage: "管理人员",
    Action.role_assign: "分配角色",
    Action.user_offboard: "办理离任",
    Action.registration_view: "查看备案",
    Action.registration_submit: "提交人员备案",
    Action.registration_decide: "审批人员备案",
    Action.system_view: "查看业务系统",
    Action.system_manage: "管理业务系统",
    Action.audit_read: "查阅审计日志",
    Action.audit_verify: "校验审计链",
    Action.catalog_view: "查看资源目录",
    Action.catalog_view_unpublished: "查看未发布的目录",
    Action.catalog_compile: "编制资源目录",
    Action.catalog_secrecy: "登记保密审查",
    Action.catalog_submit: "报送目录审核",
    Action.catalog_review: "审核资源目录",
    Action.catalog_classes: "管理目录分类",
    Action.catalog_supervise: "目录监督考核",
    Action.element_manage: "管理数据元",
    Action.element_resolve: "处理一数一源冲突",
    Action.data_provide: "提供（推送）数据",
    Action.provision_view: "查看数据批次与质量",
    Action.sync_manage: "管理前置库同步",
    Action.service_manage: "管理接口服务",
    Action.sharing_request: "申请共享数据",
    Action.sharing_view: "查看共享申请与授权",
    Action.sharing_decide: "审批共享申请",
    Action.sharing_supervise: "监督全市数据共享",
    Action.grant_manage: "调整共享授权",
    Action.sharing_rule: "协调裁定共享争议",
    Action.export_approve: "审批数据导出",
    Action.data_consume: "调用共享数据",
    Action.calendar_view: "查看节假日安排",
    Action.calendar_manage: "加载节假日安排",
    Action.masking_view: "查看脱敏方案",
    Action.masking_manage: "管理脱敏方案",
    Action.backup_view: "查看备份与恢复演练记录",
    Action.backup_manage: "设定备份策略、发起备份",
    Action.alert_view: "查看安全告警",
    Action.alert_handle: "处置安全告警",
    Action.rules_view: "查看告警规则",
    Action.rules_manage: "设置告警规则",
    Action.incident_view: "查看安全事件",
    Action.incident_manage: "处置安全事件",
    Action.catalog_view_sensitive: "查看敏感元数据",
    Action.classification_manage: "管理分类分级方案",
    Action.asset_register_view: "查看数据资产登记",
    Action.destruction_view: "查看数据销毁申请与销毁证明",
    Action.destruction_request: "申请销毁数据",
    Action.destruction_approve_department: "本单位审批数据销毁",
    Action.destruction_approve_bureau: "市数据局审批数据销毁",
    Action.destruction_supervise: "监督确认数据销毁",
    Action.policy_view: "查看安全管理制度",
    Action.policy_manage: "制定、修订和废止安全管理制度",
    Action.supervision_view: "查看共享工作监督指标",
    Action.report_publish: "生成和发布共享情况公示报告",
    Action.rectification_view: "查看违规与整改通知",
    Action.rectification_supervise: "检测、登记违规，下发和核验整改通知",
    Action.rectification_report: "报送整改报告",
    Action.open_application_view: "查看开放数据申请",
    Action.open_application_decide: "审批开放数据申请",
    Action.open_settings: "设置开放数据脱敏方案",
    Action.analysis_run: "对已授权数据做分析查询",
    Action.analysis_release: "导出或保存通过风险评估的分析结果",
    Action.analysis_audit: "查阅全部分析查询与发布记录",
}


class Scope(Enum):
    """How far a permission reaches; ordered from widest to narrowest."""

    city = 3
    own_org = 2
    own_self = 1


_C, _O = Scope.city, Scope.own_org

PERMISSIONS: dict[Role, dict[Action, Scope]] = {
    Role.bureau_admin: {
        Action.catalog_view_sensitive: _C,
        Action.classification_manage: _C,
        Action.asset_register_view: _C,
        Action.org_view: _C,
        Action.org_manage: _C,
        Action.user_view: _C,
        Action.user_manage: _C,
        Action.role_assign: _C,
        Action.user_offboard: _C,
        Action.registration_view: _C,
        Action.registration_submit: _C,
        Action.registration_decide: _C,
        Action.system_view: _C,
        Action.system_manage: _C,
        Action.catalog_view: _C,
        Action.catalog_view_unpublished: _C,
        Action.catalog_classes: _C,
        Action.catalog_supervise: _C,
        Action.element_manage: _C,
        Action.element_resolve: _C,
        Action.provision_view: _C,
        Action.sharing_view: _C,
        Action.sharing_supervise: _C,
        Action.grant_manage: _C,
        Action.sharing_rule: _C,
        Action.export_approve: _C,
        Action.calendar_manage: _C,
        Action.masking_view: _C,
        Action.masking_manage: _C,
        Action.backup_view: _C,
        Action.backup_manage: _C,
        Action.alert_view: _C,
        Action.alert_handle: _C,
        Action.rules_view: _C,
        Action.rules_manage: _C,
        Action.incident_view: _C,
        Action.incident_manage: _C,
        Action.destruction_view: _C,
        Action.destruction_approve_bureau: _C,
        Action.supervision_view: _C,
        Action.report_publish: _C,
        Action.analysis_audit: _C,
        # The Bureau's own policies (S5, S6); a department's are its own administrators' (S8).
        Action.policy_manage: _O,
        Action.rectification_view: _C,
        Action.rectification_supervise: _C,
        Action.open_application_view: _C,
        Action.open_application_decide: _C,
        Action.open_settings: _C,
    },
    Role.bureau_reviewer: {
        Action.catalog_view_sensitive: _C,
        Action.asset_register_view: _C,
        Action.org_view: _C,
        Action.registration_view: _C,
        Action.catalog_view: _C,
        Action.catalog_view_unpublished: _C,
        Action.catalog_review: _C,
        Action.catalog_supervise: _C,
        Action.element_resolve: _C,
        Action.provision_view: _C,
        Action.sharing_view: _C,
        Action.sharing_supervise: _C,
        Action.masking_view: _C,
        Action.supervision_view: _C,
        Action.rectification_view: _C,
        Action.rectification_supervise: _C,
        Action.open_application_view: _C,
        Action.open_application_decide: _C,
    },
    Role.auditor: {
        Action.asset_register_view: _C,
        Action.org_view: _C,
        Action.user_view: _C,
        Action.system_view: _C,
        Action.registration_view: _C,
        Action.audit_read: _C,
        Action.audit_verify: _C,
        Action.catalog_view: _C,
        Action.catalog_view_unpublished: _C,
        Action.catalog_supervise: _C,
        Action.provision_view: _C,
        Action.sharing_view: _C,
        Action.sharing_supervise: _C,
        Action.masking_view: _C,
        Action.backup_view: _C,
        Action.alert_view: _C,
        Action.rules_view: _C,
        Action.incident_view: _C,
        Action.destruction_view: _C,
        Action.supervision_view: _C,
        Action.rectification_view: _C,
        Action.open_application_view: _C,
        Action.analysis_audit: _C,
    },
    Role.data_admin: {
        Action.catalog_view_sensitive: _O,
        Action.asset_register_view: _O,
        Action.org_view: _C,
        Action.user_view: _O,
        Action.user_manage: _O,
        Action.role_assign: _O,
        Action.user_offboard: _O,
        Action.registration_view: _O,
        Action.registration_submit: _O,
        Action.system_view: _O,
        Action.system_manage: _O,
        Action.catalog_view: _C,
        Action.catalog_view_unpublished: _O,
        Action.catalog_compile: _O,
        Action.catalog_secrecy: _O,
        Action.catalog_submit: _O,
        Action.data_provide: _O,
        Action.provision_view: _O,
        Action.sync_manage: _O,
        Action.service_manage: _O,
        Action.sharing_request: _O,
        Action.sharing_view: _O,
        Action.grant_manage: _O,
        Action.data_consume: _O,
        Action.masking_view: _C,
        Action.destruction_view: _O,
        Action.destruction_request: _O,
        Action.policy_manage: _O,
        Action.supervision_view: _O,
        Action.rectification_view: _O,
        Action.rectification_report: _O,
        Action.analysis_run: _O,
        Action.analysis_release: _O,
    },
    Role.security_officer: {
        Action.catalog_view_sensitive: _O,
        Action.asset_register_view: _O,
        Action.org_view: _C,
        Action.user_view: _O,
        Action.system_view: _O,
        Action.audit_read: _O,
        Action.catalog_view: _C,
        Action.catalog_view_unpublished: _O,
        Action.catalog_secrecy: _O,
        Action.provision_view: _O,
        Action.sharing_view: _O,
        Action.masking_view: _C,
        Action.alert_view: _O,
        Action.destruction_view: _O,
        Action.policy_manage: _O,
    },
    Role.catalog_compiler: {
        Action.catalog_view_sensitive: _O,
        Action.org_view: _C,
        Action.catalog_view: _C,
        Action.catalog_view_unpublished: _O,
        Action.catalog_compile: _O,
        Action.catalog_submit: _O,
        Action.masking_view: _C,
    },
    Role.approver: {
        Action.catalog_view_sensitive: _O,
        Action.org_view: _C,
        Action.catalog_view: _C,
        Action.catalog_view_unpublished: _O,
        Action.sharing_view: _O,
        Action.sharing_decide: _O,
        Action.masking_view: _C,
        Action.destruction_view: _O,
        Action.destruction_approve_department: _O,
    },
    Role.destruction_supervisor: {
        Action.org_view: _C,
        Action.catalog_view: _C,
        Action.masking_view: _C,
        Action.destruction_view: _O,
        Action.destruction_supervise: _O,
    },
    # Metadata administrators (元数据管理员, S9): see the sensitive part of the catalog — of their
    # own department, or (at the Bureau) of the whole city — and the data-asset register.
    Role.metadata_admin: {
        Action.org_view: _C,
        Action.catalog_view: _C,
        Action.catalog_view_unpublished: _O,
        Action.catalog_view_sensitive: _O,
        Action.asset_register_view: _O,
        Action.masking_view: _C,
    },
    Role.bureau_metadata_admin: {
        Action.org_view: _C,
        Action.catalog_view: _C,
        Action.catalog_view_unpublished: _C,
        Action.catalog_view_sensitive: _C,
        Action.asset_register_view: _C,
        Action.masking_view: _C,
    },
    Role.business_user: {
        Action.org_view: _C,
        Action.catalog_view: _C,
        Action.sharing_request: _O,
        Action.sharing_view: _O,
        Action.data_consume: _O,
        Action.masking_view: _C,
        Action.analysis_run: _O,
        Action.analysis_release: _O,
    },
}


# What a department's business system may do when it calls with its token: read the published
# catalog, push its own department's data (M13) and read data its department holds grants for
# (M17). It never acts for people: requests are filed and answered by people.
SYSTEM_PERMISSIONS: dict[Action, Scope] = {
    Action.catalog_view: _C,
    Action.data_provide: _O,
    Action.provision_view: _O,
    Action.data_consume: _O,
}

# What every logged-in person may do whatever their roles: read the working-day calendar that their
# deadlines are counted in (it is the State Council's schedule, nobody's secret), and the security
# policies that bind them (S5, S6, S8): the Bureau's and their own department's — the policies
# service narrows this city-wide reach to those two owners.
EVERY_PERSON: dict[Action, Scope] = {Action.calendar_view: _C, Action.policy_view: _C}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a person, a business system, the local operator (CLI) or nobody."""

    kind: str  # "user" | "system" | "operator" | "anonymous"
    name: str
    user_id: int | None = None
    system_id: int | None = None
    org_id: int | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)
    session_id: int | None = None
    ip: str | None = None
    # A person whose password an administrator set: until they change it, they may do nothing else
    # (`web.deps.for_temporary_password`).
    password_temporary: bool = False

    @classmethod
    def operator(cls, name: str = "operator") -> Actor:
        return cls(kind="operator", name=name)

    @classmethod
    def anonymous(cls, ip: str | None = None) -> Actor:
        return cls(kind="anonymous", name="anonymous", ip=ip)

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"

    def has_role(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)


def scope_of(actor: Actor, action: Action) -> Scope | None:
    """The widest scope any of the actor's roles gives for `action`, or None."""
    if actor.kind == "operator":  # whoever runs the CLI on the server already holds the database
        return Scope.city
    if actor.kind == "system":
        return SYSTEM_PERMISSIONS.get(action)
    scopes = [PERMISSIONS[r][action] for r in actor.roles if action in PERMISSIONS.get(r, {})]
    if actor.kind == "user" and action in EVERY_PERSON:
        scopes.append(EVERY_PERSON[action])
    return max(scopes, key=lambda s: s.value) if scopes else None


def owner_org_id(obj: Any) -> int | None:
    column = getattr(type(obj), "__org_column__", "org_id")
    value = getattr(obj, column, None)
    return value if isinstance(value, int) else None


def _covers(actor: Actor, scope: Scope, obj: Any) -> bool:
    if obj is None or scope is Scope.city:
        return True
    if scope is Scope.own_org:
        return actor.org_id is not None and owner_org_id(obj) == actor.org_id
    return actor.user_id is not None and getattr(obj, "id", None) == actor.user_id


def allowed(actor: Actor, action: Action, obj: Any = None) -> bool:
    scope = scope_of(actor, action)
    return scope is not None and _covers(actor, scope, obj)


_VIEW_ACTIONS: dict[type, Action] = {}


def register_view_action(model: type, action: Action) -> None:
    """Declare which action lets an actor know objects of `model` exist (decides 404 vs 403)."""
    _VIEW_ACTIONS[model] = action


def require(actor: Actor, action: Action, obj: Any = None) -> None:
    """Raise unless `actor` may perform `action` (on `obj`).

    Raises Unauthorized for anonymous actors, NotFound when `obj` is not even visible to the actor,
    Forbidden otherwise.
    """
    if not actor.is_authenticated:
        raise Unauthorized()
    if allowed(actor, action, obj):
        return
    if obj is not None:
        view = _VIEW_ACTIONS.get(type(obj))
        if view is not None and not allowed(actor, view, obj):
            raise NotFound()
    raise Forbidden(
        f"您没有「{action.label}」的权限。如需办理，请联系本单位数据资源管理员或市数据资源管理局。",
        f"You are not allowed to perform '{action.value}'.",
        details={"action": action.value},
    )


# Any select, of whole rows or of some columns.
M = TypeVar("M")


def get_visible(db: Session, model: type[M], obj_id: int, *, actor: Actor, label: str) -> M:
    """Load `model` #`obj_id` for `actor`, or raise NotFound ("找不到该{label}。").

    Missing and invisible (under the model's registered view action) look the same to the caller.
    """
    obj = db.get(model, obj_id)
    if obj is None:
        raise NotFound(f"找不到该{label}。", f"{model.__name__} #{obj_id} not found.")
    require(actor, _VIEW_ACTIONS[model], obj)
    return obj


S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def visible(actor: Actor, action: Action, stmt: S, model: type) -> S:
    """Restrict a list query on `model` to the rows `actor` may see under `action`."""
    scope = scope_of(actor, action) if actor.is_authenticated else None
    if scope is None:
        return stmt.where(false())
    if scope is Scope.city:
        return stmt
    if scope is Scope.own_org:
        column = getattr(model, getattr(model, "__org_column__", "org_id"))
        return stmt.where(column == actor.org_id) if actor.org_id is not None else stmt.where(false())
    return stmt.where(model.id == actor.user_id)  # type: ignore[attr-defined]
