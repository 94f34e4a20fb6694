"""The destruction workflow (S28, S29): request, department approval, Bureau approval, the
supervisor's confirmation and, at that confirmation, the execution with its evidence.

Who does what (the choice, and why, is in docs/destruction.md):
- the providing department's data administrator (数据资源管理员) files the request;
- the department's approver (审批人) approves for the department — never the requester;
- the Bureau's administrator approves for the Bureau — never the requester;
- the destruction supervisor (销毁监督员) of the providing department named on the request
  confirms, and the platform executes in the same transaction.

Any of the three deciders may refuse at their stage, with a reason; the requester (or another data
administrator of the department) may withdraw a request not yet executed. Every step is audited in
the transaction that makes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, Role, allowed, get_visible, register_view_action, require, visible
from govshare.catalog import service as catalog
from govshare.catalog.models import Resource
from govshare.crypto import sm3_hex
from govshare.db import lock_row, utcnow
from govshare.destruction import execution
from govshare.destruction.models import DestructionRequest
from govshare.encryption import keys
from govshare.encryption import service as encryption_service
from govshare.errors import Conflict, Forbidden, Invalid
from govshare.exchange.access import batch_of, published_items
from govshare.exchange.trace import business_key
from govshare.orgs import service as orgs
from govshare.pagination import PageParams, paginate
from govshare.sharing.service import clean_text
from govshare.tasks import service as tasks
from govshare.users.models import User
from govshare.workdays import plausible

register_view_action(DestructionRequest, Action.destruction_view)

SCOPES = {
    "resource": "整个资源",
    "batches": "指定数据批次",
    "keys": "按业务主键指定的数据行",
    "time_range": "按接收时间段指定的数据行",
}
METHODS = {
    "delete": "物理删除（交换库和隔离区中的数据行删除后不可恢复）",
    "delete_shred": (
        "物理删除并销毁密钥（另删除文件、作废导出并销毁资源的加密密钥，备份中的加密数据同时不可读）"
    ),
}
STATUS = {
    "pending_department": "待本单位审批",
    "pending_bureau": "待市数据局审批",
    "pending_supervisor": "待监督员确认执行",
    "executed": "已销毁",
    "refused": "已驳回",
    "withdrawn": "已撤回",
}
OPEN = ("pending_department", "pending_bureau", "pending_supervisor")
MAX_BATCHES = 1000
MAX_KEYS = 10_000
TASK = "destruction"


@dataclass(frozen=True)
class NewRequest:
    """What a data administrator asks for: `scope` with its batches, business keys (one {item:
    value} per row) or time range (aware datetimes, `received_until` excluded), and the rest."""

    resource_id: int
    scope: str
    reason: str
    method: str
    supervisor_id: int
    batch_ids: list[str] | None = None
    keys: list[dict[str, str]] | None = None
    received_from: datetime | None = None
    received_until: datetime | None = None


# --- reading -------------------------------------------------------------------------------------


def get_request(db: Session, *, actor: Actor, request_id: int) -> DestructionRequest:
    """The request, if `actor` may see it (its department, the Bureau, auditors); NotFound otherwise."""
    return get_visible(db, DestructionRequest, request_id, actor=actor, label="数据销毁申请")


def list_requests(
    db: Session, *, actor: Actor, params: PageParams, status: str | None = None
) -> tuple[list[DestructionRequest], int]:
    """A page of the requests `actor` may see, the newest first, optionally of one status."""
    require(actor, Action.destruction_view)
    stmt = visible(actor, Action.destruction_view, select(DestructionRequest), DestructionRequest)
    if status:
        if status not in STATUS:
            raise Invalid("未知的申请状态。", "Unknown status.", details={"field": "status"})
        stmt = stmt.where(DestructionRequest.status == status)
    return paginate(db, stmt.order_by(DestructionRequest.id.desc()), params)


def supervisors(db: Session, *, org_id: int) -> list[User]:
    """The active destruction supervisors of a department, whom a request may name."""
    from govshare.users.models import UserRole

    return list(
        db.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(User.org_id == org_id, User.is_active, UserRole.role == Role.destruction_supervisor.value)
            .order_by(User.display_name, User.id)
        )
    )


def own_resources(db: Session, *, actor: Actor) -> list[Resource]:
    """The resources whose data `actor` may ask to destroy (its department's)."""
    require(actor, Action.destruction_request)
    return list(
        db.scalars(
            select(Resource).where(Resource.org_id == actor.org_id).order_by(Resource.name, Resource.id)
        )
    )


def matching(db: Session, request: DestructionRequest) -> execution.Count:
    """How much data the request covers now (shown to the deciders before they decide)."""
    return execution.count(db, request)


# --- filing --------------------------------------------------------------------------------------


def _utc(value: datetime | None, field: str) -> datetime:
    if value is None:
        raise Invalid("请填写接收时间段的起止时间。", f"{field} is required.", details={"field": field})
    if value.tzinfo is None:
        raise Invalid("时间须带时区。", f"{field} must be timezone-aware.", details={"field": field})
    plausible(value.date(), field=field, label="接收时间")
    return value.astimezone(UTC)


def create_request(db: Session, *, actor: Actor, data: NewRequest) -> DestructionRequest:
    """File a request for the department's resource. Raises NotFound for a resource the actor cannot
    see, Forbidden for another department's, Invalid for a scope, method, supervisor or reason that
    does not fit (naming the field)."""
    resource = catalog.get_resource(db, actor=actor, resource_id=data.resource_id)
    require(actor, Action.destruction_request, resource)
    if data.scope not in SCOPES:
        raise Invalid("请选择销毁范围。", "Unknown scope.", details={"field": "scope"})
    if data.method not in METHODS:
        raise Invalid("请选择销毁方式。", "Unknown method.", details={"field": "method"})
    if data.scope == "resource" and data.method != "delete_shred":
        raise Invalid(
            "销毁整个资源须同时销毁其加密密钥，请选择“物理删除并销毁密钥”。",
            "A whole resource is destroyed with its keys.",
            details={"field": "method"},
        )
    if data.scope != "resource" and data.method != "delete":
        raise Invalid(
            "部分销毁只能选择“物理删除”：资源的密钥仍在为其余数据使用。",
            "Keys are destroyed only with the whole resource.",
            details={"field": "method"},
        )
    if data.scope != "resource" and resource.provision_method != "table":
        raise Invalid(
            "文件类和接口类资源只能整体销毁。", "Only table resources have rows.", details={"field": "scope"}
        )
    request = DestructionRequest(
        resource_id=resource.id,
        org_id=resource.org_id,
        scope=data.scope,
        method=data.method,
        reason=clean_text(data.reason, "reason", "销毁理由"),
        supervisor_id=_supervisor(db, actor, resource, data.supervisor_id).id,
        requested_by=actor.user_id,
        status="pending_department",
    )
    if data.scope == "batches":
        wanted = sorted({b.strip() for b in data.batch_ids or [] if b.strip()})
        if not wanted:
            raise Invalid("请填写要销毁的数据批次号。", "batch_ids is empty.", details={"field": "batch_ids"})
        if len(wanted) > MAX_BATCHES:
            raise Invalid(
                f"一次最多销毁 {MAX_BATCHES} 个批次。", "Too many batches.", details={"field": "batch_ids"}
            )
        request.batch_ids = [batch_of(db, resource, b).id for b in wanted]
    elif data.scope == "keys":
        if not data.keys:
            raise Invalid("请填写要销毁的数据行的业务主键。", "keys is empty.", details={"field": "keys"})
        if len(data.keys) > MAX_KEYS:
            raise Invalid(f"一次最多按主键销毁 {MAX_KEYS} 行。", "Too many keys.", details={"field": "keys"})
        items = published_items(db, resource)
        request.row_keys = sorted({business_key(items, values) for values in data.keys})
    elif data.scope == "time_range":
        start, end = _utc(data.received_from, "received_from"), _utc(data.received_until, "received_until")
        if start >= end:
            raise Invalid(
                "接收时间段的开始时间应早于结束时间。",
                "received_from must precede received_until.",
                details={"field": "received_until"},
            )
        request.received_from, request.received_until = start, end
    db.add(request)
    db.flush()
    tasks.open_task(
        db,
        kind=TASK,
        title=f"数据销毁待本单位审批：{resource.name}",
        link=f"/destructions/{request.id}",
        org_id=resource.org_id,
        subject_type="destruction_requests",
        subject_id=request.id,
        assignee_role=Role.approver,
    )
    audit.record(
        db,
        EventType.destruction_requested,
        actor=actor,
        obj=request,
        org_id=request.org_id,
        details={"resource_id": resource.id, **scope_dict(request), "supervisor_id": request.supervisor_id},
    )
    return request


def _supervisor(db: Session, actor: Actor, resource: Resource, user_id: int) -> User:
    chosen = db.get(User, user_id)
    if chosen is None or not any(s.id == user_id for s in supervisors(db, org_id=resource.org_id)):
        raise Invalid(
            "请从本单位的销毁监督员中选择一人监督本次销毁。",
            "The supervisor must be an active destruction supervisor of the providing department.",
            details={"field": "supervisor_id"},
        )
    if chosen.id == actor.user_id:
        raise Invalid(
            "申请人不能监督自己申请的销毁，请选择另一位销毁监督员。",
            "The requester cannot supervise their own request.",
            details={"field": "supervisor_id"},
        )
    return chosen


# --- deciding ------------------------------------------------------------------------------------


def _locked(db: Session, actor: Actor, request_id: int) -> DestructionRequest:
    """The request, re-read under a row lock: a decision made meanwhile by someone else is seen."""
    request = get_request(db, actor=actor, request_id=request_id)
    return lock_row(db, DestructionRequest, request.id)


def _stage_check(request: DestructionRequest, expected: str) -> None:
    if request.status != expected:
        raise Conflict(
            f"该销毁申请{STATUS[request.status]}，不能在此环节办理。请刷新页面查看最新状态。",
            f"The request is {request.status}, not {expected}.",
            details={"status": request.status},
        )


def _not_party(actor: Actor, request: DestructionRequest) -> None:
    if actor.user_id == request.requested_by:
        raise Forbidden(
            "申请人不能审批或监督自己的销毁申请。", "The requester cannot decide their own request."
        )


def _advance(db: Session, request: DestructionRequest, status: str) -> None:
    """Move to `status`, guarded by the request's version: if another transaction changed the
    request since it was read, nothing is written and the caller gets a Conflict."""
    request.status = status
    try:
        db.flush()
    except StaleDataError:
        raise Conflict(
            "该销毁申请刚被他人办理，请刷新页面查看最新状态。", "The request changed meanwhile."
        ) from None


def approve(db: Session, *, actor: Actor, request_id: int, opinion: str) -> DestructionRequest:
    """The department's approver (at `pending_department`) or the Bureau's administrator (at
    `pending_bureau`) approves, with an opinion. Raises Forbidden for anyone else, the requester or
    the named supervisor, Conflict at any other stage."""
    request = _locked(db, actor, request_id)
    opinion = clean_text(opinion, "opinion", "审批意见")
    resource = db.get(Resource, request.resource_id)
    assert resource is not None
    if request.status == "pending_department":
        require(actor, Action.destruction_approve_department, request)
    elif request.status == "pending_bureau":
        require(actor, Action.destruction_approve_bureau, request)
    else:
        _stage_check(request, "pending_department")
    _not_party(actor, request)
    if actor.user_id == request.supervisor_id:
        raise Forbidden("销毁监督员不能同时审批本次销毁。", "The supervisor cannot approve.")
    now = utcnow()
    tasks.close_tasks(db, subject_type="destruction_requests", subject_id=request.id, kind=TASK)
    if request.status == "pending_department":
        request.department_by, request.department_at, request.department_opinion = actor.user_id, now, opinion
        _advance(db, request, "pending_bureau")
        bureau = orgs.bureau(db)
        if bureau is not None:
            tasks.open_task(
                db,
                kind=TASK,
                title=f"数据销毁待市数据局审批：{resource.name}",
                link=f"/destructions/{request.id}",
                org_id=bureau.id,
                subject_type="destruction_requests",
                subject_id=request.id,
                assignee_role=Role.bureau_admin,
            )
        event = EventType.destruction_department_approved
    else:
        request.bureau_by, request.bureau_at, request.bureau_opinion = actor.user_id, now, opinion
        _advance(db, request, "pending_supervisor")
        tasks.open_task(
            db,
            kind=TASK,
            title=f"数据销毁待监督确认执行：{resource.name}",
            link=f"/destructions/{request.id}",
            org_id=request.org_id,
            subject_type="destruction_requests",
            subject_id=request.id,
            assignee_id=request.supervisor_id,
        )
        event = EventType.destruction_bureau_approved
    audit.record(db, event, actor=actor, obj=request, org_id=request.org_id, details={"opinion": opinion})
    return request


def refuse(db: Session, *, actor: Actor, request_id: int, reason: str) -> DestructionRequest:
    """Whoever decides the current stage refuses it, with a reason; the request ends there."""
    request = _locked(db, actor, request_id)
    stage = request.status
    if stage == "pending_department":
        require(actor, Action.destruction_approve_department, request)
    elif stage == "pending_bureau":
        require(actor, Action.destruction_approve_bureau, request)
    elif stage == "pending_supervisor":
        _supervisor_only(actor, request)
    else:
        _stage_check(request, "pending_department")
    _not_party(actor, request)
    request.refusal_reason = clean_text(reason, "reason", "驳回理由")
    request.refused_by, request.refused_at, request.refused_stage = actor.user_id, utcnow(), stage
    _advance(db, request, "refused")
    tasks.close_tasks(db, subject_type="destruction_requests", subject_id=request.id, kind=TASK)
    audit.record(
        db,
        EventType.destruction_refused,
        actor=actor,
        obj=request,
        org_id=request.org_id,
        details={"stage": stage, "reason": request.refusal_reason},
    )
    return request


def withdraw(db: Session, *, actor: Actor, request_id: int, reason: str) -> DestructionRequest:
    """The department's data administrator withdraws a request that has not been executed."""
    request = _locked(db, actor, request_id)
    require(actor, Action.destruction_request, request)
    if request.status not in OPEN:
        _stage_check(request, "pending_department")
    stage = request.status
    request.refusal_reason = clean_text(reason, "reason", "撤回理由")
    request.refused_by, request.refused_at, request.refused_stage = actor.user_id, utcnow(), stage
    _advance(db, request, "withdrawn")
    tasks.close_tasks(db, subject_type="destruction_requests", subject_id=request.id, kind=TASK)
    audit.record(
        db,
        EventType.destruction_withdrawn,
        actor=actor,
        obj=request,
        org_id=request.org_id,
        details={"stage": stage, "reason": request.refusal_reason},
    )
    return request


def _supervisor_only(actor: Actor, request: DestructionRequest) -> None:
    require(actor, Action.destruction_supervise, request)
    if actor.user_id != request.supervisor_id:
        raise Forbidden(
            "只有申请中指定的销毁监督员可以确认本次销毁。",
            "Only the supervisor named on the request confirms it.",
        )


def confirm(db: Session, *, actor: Actor, request_id: int, opinion: str) -> DestructionRequest:
    """The named supervisor confirms, and the platform executes at once (see `execution.remove`).

    The request is marked executed (version-guarded) before anything is removed, so a second
    confirmation racing this one gets a Conflict and removes nothing. Raises Conflict unless both
    approvals were given."""
    request = _locked(db, actor, request_id)
    _supervisor_only(actor, request)
    _stage_check(request, "pending_supervisor")
    _not_party(actor, request)
    request.supervisor_opinion = clean_text(opinion, "opinion", "监督意见")
    request.supervisor_at = request.executed_at = utcnow()
    _advance(db, request, "executed")
    removal = execution.remove(db, request)
    shredded = _shred_keys(db, request)
    evidence = {**removal.evidence, "keys_destroyed": shredded}
    request.rows_removed = removal.rows
    request.quarantined_removed = removal.quarantined
    request.files_removed = removal.files
    request.keys_destroyed = shredded
    request.evidence = evidence
    request.evidence_sm3 = sm3_hex(audit.canonical_json(evidence).encode())
    db.flush()
    tasks.close_tasks(db, subject_type="destruction_requests", subject_id=request.id, kind=TASK)
    audit.record(
        db,
        EventType.destruction_executed,
        actor=actor,
        obj=request,
        org_id=request.org_id,
        details={
            "resource_id": request.resource_id,
            **scope_dict(request),
            "opinion": request.supervisor_opinion,
            "rows": removal.rows,
            "quarantined": removal.quarantined,
            "files": removal.files,
            "keys_destroyed": shredded,
            "evidence_sm3": request.evidence_sm3,
        },
    )
    return request


def _shred_keys(db: Session, request: DestructionRequest) -> int:
    """Destroy the encryption keys the request's scope calls for; returns how many key versions.

    A whole resource loses every key (`keys.destroy`: wrapped keys erased, vault secret overwritten
    and removed), so its encrypted cells in every backup become unreadable. A partial scope must
    not destroy keys the rest of the resource still uses: the data key is rotated, the remaining
    cells are re-encrypted under the new version and the old versions erased, so the removed rows'
    encrypted cells in older backups become unreadable too (and so do the remaining rows' in those
    backups: take a new backup after a destruction, docs/destruction.md)."""
    if request.scope == "resource":
        return keys.destroy(db, request.resource_id, by=f"destruction #{request.id}")
    if not any(
        row.kind == "data" and row.destroyed_at is None for row in keys.all_rows(db, request.resource_id)
    ):
        return 0  # nothing of the resource is stored encrypted
    resource = db.get(Resource, request.resource_id)
    assert resource is not None
    rotated = encryption_service.rotate_resource(
        db, resource, actor=Actor.operator(f"destruction #{request.id}")
    )
    return rotated.retired


# --- presenting ----------------------------------------------------------------------------------


def scope_dict(request: DestructionRequest) -> dict[str, Any]:
    return {
        "scope": request.scope,
        "batch_ids": request.batch_ids,
        "row_keys": len(request.row_keys) if request.row_keys is not None else None,
        "received_from": request.received_from.isoformat() if request.received_from else None,
        "received_until": request.received_until.isoformat() if request.received_until else None,
        "method": request.method,
    }


def actions_for(actor: Actor, request: DestructionRequest) -> set[str]:
    """What `actor` may do to the request now (the page shows only these buttons; the services
    check again)."""
    done: set[str] = set()
    party = actor.user_id in (request.requested_by,)
    if (
        request.status == "pending_department"
        and allowed(actor, Action.destruction_approve_department, request)
    ) or (request.status == "pending_bureau" and allowed(actor, Action.destruction_approve_bureau, request)):
        done |= set() if party or actor.user_id == request.supervisor_id else {"approve", "refuse"}
    elif (
        request.status == "pending_supervisor"
        and allowed(actor, Action.destruction_supervise, request)
        and actor.user_id == request.supervisor_id
        and not party
    ):
        done |= {"confirm", "refuse"}
    if request.status in OPEN and allowed(actor, Action.destruction_request, request):
        done.add("withdraw")
    return done


def count_by_status(db: Session, *, actor: Actor) -> dict[str, int]:
    """How many visible requests are in each status (the list's filter shows them)."""
    stmt = visible(
        actor,
        Action.destruction_view,
        select(DestructionRequest.status, func.count()).group_by(DestructionRequest.status),
        DestructionRequest,
    )
    return {status: int(n) for status, n in db.execute(stmt)}


def certificate(db: Session, *, actor: Actor, request_id: int) -> dict[str, Any]:
    """The destruction certificate (销毁证明) of an executed request: who requested, approved and
    supervised, when, what and how, and the evidence. Conflict before execution."""
    from govshare.orgs.models import Organisation

    request = get_request(db, actor=actor, request_id=request_id)
    if request.status != "executed":
        raise Conflict(
            f"该销毁申请{STATUS[request.status]}，尚未执行，没有销毁证明。", "The request was not executed."
        )
    assert request.executed_at is not None and request.evidence is not None
    resource = db.get(Resource, request.resource_id)
    org = db.get(Organisation, request.org_id)

    def person(user_id: int | None) -> dict[str, Any]:
        user = db.get(User, user_id) if user_id is not None else None
        return {
            "user_id": user_id,
            "name": user.display_name if user else None,
            "username": user.username if user else None,
        }

    return {
        "request_id": request.id,
        "resource": {"id": request.resource_id, "name": resource.name if resource else None},
        "department": org.name if org else str(request.org_id),
        "scope": scope_dict(request) | {"row_keys_sm3": request.row_keys},
        "scope_label": SCOPES[request.scope],
        "method": request.method,
        "method_label": METHODS[request.method],
        "reason": request.reason,
        "requested": {**person(request.requested_by), "at": request.requested_at.isoformat()},
        "department_approval": {
            **person(request.department_by),
            "at": request.department_at.isoformat() if request.department_at else None,
            "opinion": request.department_opinion,
        },
        "bureau_approval": {
            **person(request.bureau_by),
            "at": request.bureau_at.isoformat() if request.bureau_at else None,
            "opinion": request.bureau_opinion,
        },
        "supervision": {
            **person(request.supervisor_id),
            "at": request.supervisor_at.isoformat() if request.supervisor_at else None,
            "opinion": request.supervisor_opinion,
        },
        "executed_at": request.executed_at,
        "rows_removed": request.rows_removed or 0,
        "quarantined_removed": request.quarantined_removed or 0,
        "files_removed": request.files_removed or 0,
        "keys_destroyed": request.keys_destroyed or 0,
        "evidence": request.evidence,
        "evidence_sm3": request.evidence_sm3 or "",
    }
