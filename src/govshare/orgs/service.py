"""Organisation registry."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, get_visible, register_view_action, require, visible
from govshare.errors import Conflict, Invalid
from govshare.identifiers import credit_code_valid, credit_code_well_formed
from govshare.orgs.models import Organisation, OrgKind
from govshare.orgs.schemas import OrgCreate, OrgUpdate
from govshare.pagination import PageParams, paginate
from govshare.settings import CreditCodeMode, get_settings

register_view_action(Organisation, Action.org_view)


def check_credit_code(code: str) -> bool:
    """Return whether `code` passes GB 32100; raise Invalid when the mode does not allow it.

    A code that is not even 18 characters of the GB 32100 alphabet is refused in every mode.
    """
    code = code.upper()
    if not credit_code_well_formed(code):
        raise Invalid(
            "统一社会信用代码应为18位，由数字和除 I、O、S、V、Z 以外的大写字母组成。",
            "A unified social credit code has 18 characters from the GB 32100 alphabet.",
            details={"field": "credit_code"},
        )
    if credit_code_valid(code):
        return True
    if get_settings().credit_code_mode is CreditCodeMode.warn:
        return False
    raise Invalid(
        "统一社会信用代码校验位不正确，请核对后重新输入。早期试点代码可由管理局开启“仅告警”模式。",
        "The check character of the unified social credit code is wrong (GB 32100).",
        details={"field": "credit_code"},
    )


def get_org(db: Session, *, actor: Actor, org_id: int) -> Organisation:
    return get_visible(db, Organisation, org_id, actor=actor, label="单位")


def list_orgs(
    db: Session,
    *,
    actor: Actor,
    params: PageParams,
    kind: OrgKind | None = None,
    q: str | None = None,
    active_only: bool = False,
) -> tuple[list[Organisation], int]:
    stmt = visible(actor, Action.org_view, select(Organisation), Organisation)
    if kind is not None:
        stmt = stmt.where(Organisation.kind == kind)
    if q:
        stmt = stmt.where(
            or_(
                Organisation.name.contains(q),
                Organisation.short_name.contains(q),
                Organisation.credit_code.contains(q.upper()),
            )
        )
    if active_only:
        stmt = stmt.where(Organisation.is_active.is_(True))
    return paginate(db, stmt.order_by(Organisation.kind, Organisation.id), params)


class OrgChoice(NamedTuple):
    """An organisation as a select list offers it."""

    id: int
    name: str
    short_name: str


def choices(
    db: Session, *, actor: Actor, action: Action = Action.org_view, active_only: bool = True
) -> list[OrgChoice]:
    """Every organisation `actor` may view and also take `action` for, ordered like `list_orgs`.

    For select lists: one query and no page cap, so a select never silently drops an organisation.
    `active_only=False` keeps deactivated organisations, for filters over records that outlive them.
    """
    columns = select(Organisation.id, Organisation.name, Organisation.short_name)
    stmt = visible(actor, action, visible(actor, Action.org_view, columns, Organisation), Organisation)
    if active_only:
        stmt = stmt.where(Organisation.is_active.is_(True))
    rows = db.execute(stmt.order_by(Organisation.kind, Organisation.id))
    return [OrgChoice(*row) for row in rows]


def _ensure_unique(
    db: Session, *, code: str | None, name: str | None, credit_code: str | None, exclude_id: int | None = None
) -> None:
    for column, value, label in (
        (Organisation.code, code, "单位编码"),
        (Organisation.name, name, "单位名称"),
        (Organisation.credit_code, credit_code, "统一社会信用代码"),
    ):
        if value is None:
            continue
        stmt = select(Organisation.id).where(column == value)
        if exclude_id is not None:
            stmt = stmt.where(Organisation.id != exclude_id)
        if db.scalar(stmt) is not None:
            raise Conflict(
                f"{label}“{value}”已被其他单位使用。",
                f"{column.key} already in use.",
                details={"field": column.key},
            )


def create_org(db: Session, *, actor: Actor, data: OrgCreate) -> Organisation:
    """Register an organisation. Raises Invalid (credit code), Conflict (duplicates or a second Bureau)."""
    require(actor, Action.org_manage)
    credit_code = data.credit_code.upper()
    checked = check_credit_code(credit_code)
    _ensure_unique(db, code=data.code, name=data.name, credit_code=credit_code)
    if data.kind is OrgKind.bureau and db.scalar(
        select(Organisation.id).where(Organisation.kind == "bureau")
    ):
        raise Conflict("平台只能有一个数据主管部门。", "There is already a Bureau.")
    org = Organisation(
        code=data.code,
        name=data.name,
        short_name=data.short_name,
        kind=data.kind.value,
        credit_code=credit_code,
        credit_code_checked=checked,
        contact_phone=data.contact_phone,
    )
    db.add(org)
    db.flush()
    audit.record(
        db,
        EventType.org_created,
        actor=actor,
        obj=org,
        details={"name": org.name, "kind": org.kind, "credit_code": credit_code},
    )
    if not checked:
        audit.record(
            db,
            EventType.org_credit_code_warning,
            actor=actor,
            obj=org,
            outcome="warning",
            details={"credit_code": credit_code},
        )
    return org


def update_org(db: Session, *, actor: Actor, org_id: int, data: OrgUpdate) -> Organisation:
    org = get_org(db, actor=actor, org_id=org_id)
    require(actor, Action.org_manage, org)
    if data.version != org.version:
        raise Conflict(
            "该单位已被他人修改，请刷新后重新编辑。",
            "The organisation was changed by someone else.",
            details={"current_version": org.version},
        )
    changes = {
        key: value
        for key, value in data.model_dump(exclude_unset=True, exclude={"version"}).items()
        if value != getattr(org, key) and (value is not None or key == "contact_phone")
    }
    if "credit_code" in changes and changes["credit_code"].upper() == org.credit_code:
        del changes["credit_code"]  # re-sent unchanged: neither re-checked nor re-audited
    if not changes:
        return org
    if "credit_code" in changes:
        changes["credit_code"] = changes["credit_code"].upper()
        org.credit_code_checked = check_credit_code(changes["credit_code"])
    _ensure_unique(
        db, code=None, name=changes.get("name"), credit_code=changes.get("credit_code"), exclude_id=org.id
    )
    if changes.get("is_active") is False and org.kind == OrgKind.bureau:
        raise Invalid("不能停用数据主管部门。", "The Bureau cannot be deactivated.")
    before = {k: getattr(org, k) for k in changes}
    for key, value in changes.items():
        setattr(org, key, value)
    db.flush()
    audit.record(
        db,
        EventType.org_updated,
        actor=actor,
        obj=org,
        details={"before": before, "after": {k: getattr(org, k) for k in changes}},
    )
    if "credit_code" in changes and not org.credit_code_checked:
        audit.record(
            db,
            EventType.org_credit_code_warning,
            actor=actor,
            obj=org,
            outcome="warning",
            details={"credit_code": org.credit_code},
        )
    return org


def bureau(db: Session) -> Organisation | None:
    return db.scalar(select(Organisation).where(Organisation.kind == OrgKind.bureau.value))
