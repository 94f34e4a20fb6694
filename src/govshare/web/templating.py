"""Jinja2 templates shared by every domain's views; navigation follows the person's permissions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from govshare import __version__
from govshare.authz import ROLE_LABELS, Action, Actor, Role, allowed
from govshare.workdays import BEIJING

PACKAGE_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    action: Action | None


NAV = [
    NavItem("/", "工作台", None),
    NavItem("/catalog", "数据目录", Action.catalog_view),
    NavItem("/catalog/review", "目录审核", Action.catalog_review),
    NavItem("/catalog/supervision", "目录监督", Action.catalog_supervise),
    NavItem("/provision/timeliness", "数据及时性", Action.provision_view),
    NavItem("/sharing", "数据共享", Action.sharing_view),
    NavItem("/supervision", "共享监督", Action.supervision_view),
    NavItem("/analysis", "数据分析", Action.analysis_run),
    NavItem("/analysis/audit", "分析审计", Action.analysis_audit),
    NavItem("/orgs", "单位管理", Action.org_view),
    NavItem("/users", "人员与角色", Action.user_view),
    NavItem("/registrations", "人员备案", Action.registration_view),
    NavItem("/systems", "业务系统", Action.system_view),
    NavItem("/assets", "数据资产登记", Action.asset_register_view),
    NavItem("/admin/classification", "分类分级", Action.catalog_view),
    NavItem("/admin/masking", "脱敏方案", Action.masking_view),
    NavItem("/admin/backups", "备份与恢复", Action.backup_view),
    NavItem("/destructions", "数据销毁", Action.destruction_view),
    NavItem("/policies", "安全制度", Action.policy_view),
    NavItem("/audit", "审计日志", Action.audit_read),
    NavItem("/protection/alerts", "安全告警", Action.alert_view),
    NavItem("/protection/incidents", "安全事件", Action.incident_view),
    NavItem("/admin/holidays", "节假日安排", Action.calendar_manage),
    NavItem("/rectification", "违规与整改", Action.rectification_view),
    NavItem("/open-applications", "开放申请", Action.open_application_view),
]


def nav_for(actor: Actor | None) -> list[NavItem]:
    if actor is None or not actor.is_authenticated:
        return []
    return [item for item in NAV if item.action is None or allowed(actor, item.action)]


def current_nav(items: list[NavItem], path: str) -> str | None:
    """The entry a page belongs to: the longest href that is the path or a parent of it
    (/catalog/review belongs to 目录审核, not also to 数据目录)."""
    matches = [i.href for i in items if path == i.href or (i.href != "/" and path.startswith(i.href + "/"))]
    return max(matches, key=len, default=None)


def beijing(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(BEIJING).strftime(fmt)


def role_label(value: str) -> str:
    try:
        return ROLE_LABELS[Role(value)]
    except ValueError:
        return value


def static_url(path: str) -> str:
    """Root-relative asset URL (absolute URLs would break behind a TLS-terminating proxy)."""
    return f"/static/{path}?v={__version__}"


def _context(request: Request) -> dict[str, Any]:
    actor = getattr(request.state, "actor", None)
    nav = nav_for(actor)
    return {
        "actor": actor,
        "nav": nav,
        "nav_current": current_nav(nav, request.url.path),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "can": lambda action, obj=None: actor is not None and allowed(actor, Action(action), obj),
    }


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> Response:
    """Render template `name` with the shell's context (actor, navigation, CSRF token)."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context or {}, status_code=status_code)


def make_templates() -> Jinja2Templates:
    """All `templates/` folders of the web shell and the domains, searched in that order."""
    folders = [
        PACKAGE_DIR / "web" / "templates",
        *sorted(p for p in PACKAGE_DIR.glob("*/templates") if p.parent.name != "web"),
    ]
    templates = Jinja2Templates(directory=str(folders[0]), context_processors=[_context])
    templates.env.loader = ChoiceLoader([FileSystemLoader(str(f)) for f in folders])
    templates.env.filters["beijing"] = beijing
    templates.env.filters["role_label"] = role_label
    templates.env.globals["ROLE_LABELS"] = ROLE_LABELS
    templates.env.globals["static"] = static_url
    return templates
