"""Doubt and error feedback on shared data (数据异议与纠错, M18).

A department holding a grant flags one row as doubtful (存疑) or wrong (有误), by the `_row_id` it
was given or by the row's business-key values, with a description. The provider's data
administrators must verify it within `GOVSHARE_FEEDBACK_REPLY_WORKING_DAYS` working days and answer:
corrected by a batch (which must have rewritten or retired that very row after the report), or
confirmed correct, with reasons. The consumer closes the case or reopens it with a comment, and a
case past its due date is escalated to the Bureau once. The consumer's use of the data is never
blocked by a case.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, Role, allowed, require
from govshare.catalog import service as catalog
from govshare.catalog.models import Resource
from govshare.db import lock_row, utcnow
from govshare.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.exchange import store
from govshare.exchange.access import published_items
from govshare.exchange.models import Batch
from govshare.exchange.trace import business_key
from govshare.orgs.models import Organisation
from govshare.settings import get_settings
from govshare.sharing import rowids
from govshare.sharing.models import Feedback, Grant
from govshare.sharing.service import bureau_task, by_side, clean_text, grant_for_use, working_days_after
from govshare.tasks import service as tasks
from govshare.workdays import today

KINDS = {"doubtful": "存疑", "wrong": "有误"}
ANSWERS = {"corrected": "已更正", "confirmed": "经核实无误"}
STATUS = {"open": "待核实", "answered": "已答复", "closed": "已办结"}
NOT_FOUND = "找不到该数据行：请用数据接口返回的 _row_id，或该行的业务主键值。"


def _locate(
    db: Session,
    resource: Resource,
    org_id: int,
    row_id: str | None,
    keys: dict[str, str] | None,
    grant: Grant,
) -> str:
    """The store key of the live row a consumer means, if it exists within its grant's row scope.

    By business-key values only when the grant gives every key item: otherwise a consumer could
    test clear values it is not given (is this ID number in the table?) and learn their row ids."""
    items = published_items(db, resource)
    if row_id:
        key = rowids.row_key(org_id, row_id.strip().lower())
        if key is None:
            raise NotFound(NOT_FOUND, "Unknown row id.")
    elif keys:
        ungranted = [i["title"] for i in items if i.get("is_key") and i["name"] not in grant.items]
        if ungranted:
            raise Forbidden(
                f"业务主键 {'、'.join(ungranted)} 不在本单位的授权内，不能按业务主键指明数据行；"
                "请用数据接口返回的 _row_id。",
                "The business key is not granted: name the row by its _row_id.",
                details={"field": "keys"},
            )
        key = business_key(items, keys)
    else:
        raise Invalid(
            "请给出 row_id 或业务主键值 keys。", "row_id or keys is required.", details={"field": "row_id"}
        )
    if not store.exists(db, resource.id):
        raise NotFound(NOT_FOUND, "No such row.")
    table = store.table_for(db, resource.id, items)
    stmt = select(table.c._key).where(table.c._key == key, table.c._retired_at.is_(None))
    every = {i["name"]: i for i in items}
    from govshare.exchange.quality import TYPE_PARSERS

    for item, values in (grant.row_scope or {}).items():  # a row outside the grant's scope is as missing
        parse = TYPE_PARSERS.get(every[item]["data_type"])
        stmt = stmt.where(store.equals(table, item, [parse(v) if parse else v for v in values]))
    if db.scalar(stmt) is None:
        raise NotFound(NOT_FOUND, "No such row.")
    return key


def file_feedback(
    db: Session,
    *,
    actor: Actor,
    resource_id: int,
    purpose: str,
    kind: str,
    description: str,
    items: list[str] | None = None,
    row_id: str | None = None,
    keys: dict[str, str] | None = None,
) -> Feedback:
    require(actor, Action.sharing_request)
    resource = catalog.get_resource(db, actor=actor, resource_id=resource_id)
    if resource.provision_method != "table":
        raise Invalid("只能对库表类资源的数据行提出异议。", "Not a table resource.")
    grant = grant_for_use(
        db, actor=actor, resource=resource, purpose=" ".join(purpose.split()), channel="feedback"
    )
    if kind not in KINDS:
        raise Invalid(
            "类型应为 doubtful（存疑）或 wrong（有误）。", "Unknown kind.", details={"field": "kind"}
        )
    outside = sorted(set(items or []) - set(grant.items))
    if outside:
        raise Invalid(
            f"这些信息项不在本单位的授权内：{'、'.join(outside)}。",
            "Items outside the grant.",
            details={"field": "items"},
        )
    assert actor.org_id is not None
    key = _locate(db, resource, actor.org_id, row_id, keys, grant)
    # The department's reports take turns from here: two reports of one row at once open one case.
    lock_row(db, Organisation, actor.org_id, key_share=True)
    already = db.scalar(
        select(Feedback.id).where(
            Feedback.resource_id == resource.id,
            Feedback.org_id == actor.org_id,
            Feedback.row_key == key,
            Feedback.status != "closed",
        )
    )
    if already is not None:
        raise Conflict(
            "本单位对这一行已有未办结的异议，请在原案件中补充说明。",
            "An open case exists.",
            details={"feedback_id": already},
        )
    due, provisional = working_days_after(db, today(), get_settings().feedback_reply_working_days)
    case = Feedback(
        resource_id=resource.id,
        provider_org_id=resource.org_id,
        org_id=actor.org_id,
        grant_id=grant.id,
        row_key=key,
        kind=kind,
        items=[i for i in grant.items if i in set(items or [])],
        description=clean_text(description, "description", "异议说明"),
        filed_by=actor.user_id,
        clock_from=today(),
        due_date=due,
        due_provisional=provisional,
        status="open",
    )
    db.add(case)
    db.flush()
    _provider_task(db, case, resource)
    audit.record(
        db,
        EventType.feedback_filed,
        actor=actor,
        obj=case,
        org_id=actor.org_id,
        details={"resource_id": resource.id, "kind": kind, "items": case.items, "due_date": due.isoformat()},
    )
    return case


def _provider_task(db: Session, case: Feedback, resource: Resource) -> None:
    tasks.open_task(
        db,
        kind="feedback",
        title=f"数据{KINDS[case.kind]}待核实：{resource.name}（截止 {case.due_date:%Y-%m-%d}）",
        link=f"/sharing/feedback/{case.id}",
        org_id=case.provider_org_id,
        subject_type="data_feedback",
        subject_id=case.id,
        assignee_role=Role.data_admin,
    )


def get_feedback(db: Session, *, actor: Actor, feedback_id: int) -> Feedback:
    require(actor, Action.sharing_view)
    case = db.get(Feedback, feedback_id)
    if case is None or not (
        actor.org_id in (case.org_id, case.provider_org_id) or allowed(actor, Action.sharing_supervise)
    ):
        raise NotFound("找不到该异议案件。", f"Feedback #{feedback_id} not found.")
    return case


def answer_feedback(
    db: Session, *, actor: Actor, feedback_id: int, answer: str, reason: str, batch_id: str | None = None
) -> Feedback:
    """The provider answers: `corrected` by `batch_id` (which rewrote or retired the row after the
    report), or `confirmed` correct."""
    case = get_feedback(db, actor=actor, feedback_id=feedback_id)
    resource = db.get(Resource, case.resource_id)
    assert resource is not None
    if actor.org_id != case.provider_org_id or not allowed(actor, Action.data_provide, resource):
        raise Forbidden("只有提供部门的数据资源管理员可以答复异议。", "Only the provider answers.")
    if case.status != "open":
        raise Conflict(f"该案件{STATUS[case.status]}，不能再答复。", "The case is not open.")
    reason = clean_text(reason, "reason", "答复说明")
    if answer == "corrected":
        batch = db.get(Batch, batch_id) if batch_id else None
        if batch is None or batch.resource_id != resource.id or batch.received_at < case.filed_at:
            raise Invalid(
                "“已更正”应给出异议提出之后、更正这一行的数据批次编号（batch_id）。",
                "corrected needs the batch that corrected the row.",
                details={"field": "batch_id"},
            )
        table = store.table_for(db, resource.id, published_items(db, resource))
        rewritten = db.scalar(
            select(func.count())
            .select_from(table)
            .where(
                table.c._key == case.row_key,
                or_(table.c._batch_id == batch.id, table.c._retired_batch_id == batch.id),
            )
        )
        if not rewritten:
            raise Invalid(
                "该批次没有改写或注销这一行：请先提交更正后的数据，再用那个批次答复。",
                "The batch did not write the row.",
                details={"field": "batch_id"},
            )
        case.corrected_batch_id = batch.id
    elif answer != "confirmed":
        raise Invalid(
            "答复应为 corrected（已更正）或 confirmed（经核实无误）。",
            "Unknown answer.",
            details={"field": "answer"},
        )
    case.status, case.answer, case.answer_reason = "answered", answer, reason
    case.answered_at, case.answered_by = utcnow(), actor.user_id
    db.flush()
    tasks.close_tasks(db, subject_type="data_feedback", subject_id=case.id, kind="feedback")
    if case.filed_by is not None:
        tasks.open_task(
            db,
            kind="feedback_answered",
            title=f"异议已答复（{ANSWERS[answer]}）：{resource.name}",
            link=f"/sharing/feedback/{case.id}",
            org_id=case.org_id,
            subject_type="data_feedback",
            subject_id=case.id,
            assignee_id=case.filed_by,
        )
    audit.record(
        db,
        EventType.feedback_answered,
        actor=actor,
        obj=case,
        org_id=case.provider_org_id,
        details={
            "answer": answer,
            "batch_id": case.corrected_batch_id,
            "on_time": today() <= case.due_date,
            "reason": reason,
        },
    )
    return case


def close_feedback(
    db: Session, *, actor: Actor, feedback_id: int, accept: bool, comment: str | None
) -> Feedback:
    """The consumer accepts the answer (the case is closed) or reopens it with a comment (due again)."""
    case = get_feedback(db, actor=actor, feedback_id=feedback_id)
    if actor.org_id != case.org_id or not allowed(actor, Action.sharing_request):
        raise Forbidden("只有提出异议的部门可以办结或重新打开案件。", "Only the consumer closes.")
    if case.status != "answered":
        raise Conflict("提供部门答复后才能办结或重新打开。", "The case is not answered.")
    tasks.close_tasks(db, subject_type="data_feedback", subject_id=case.id, kind="feedback_answered")
    if accept:
        case.status, case.closed_at = "closed", utcnow()
        case.consumer_comment = " ".join((comment or "").split()) or None
    else:
        case.consumer_comment = clean_text(comment, "comment", "重新打开的理由")
        case.status, case.reopened, case.clock_from = "open", case.reopened + 1, today()
        case.due_date, case.due_provisional = working_days_after(
            db, today(), get_settings().feedback_reply_working_days
        )
        case.overdue_at = None
        resource = db.get(Resource, case.resource_id)
        assert resource is not None
        _provider_task(db, case, resource)
    db.flush()
    audit.record(
        db,
        EventType.feedback_closed if accept else EventType.feedback_reopened,
        actor=actor,
        obj=case,
        org_id=case.org_id,
        details={"comment": case.consumer_comment},
    )
    return case


def list_feedback(
    db: Session, *, actor: Actor, side: str, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Feedback], int]:
    """Cases the actor's department raised (`mine`), must answer (`inbox`), or all (Bureau)."""
    return by_side(db, Feedback, actor=actor, side=side, status=status, limit=limit, offset=offset)


def escalate_overdue(db: Session, *, on: Any = None) -> int:
    """Open cases past their due date: the Bureau is told once each (audited against the provider)."""
    day = on or today()
    late = list(
        db.scalars(
            select(Feedback).where(
                Feedback.status == "open", Feedback.overdue_at.is_(None), Feedback.due_date < day
            )
        )
    )
    for case in late:
        case.overdue_at = utcnow()
        bureau_task(
            db,
            kind="feedback_overdue",
            title=f"数据异议逾期未核实（截止 {case.due_date:%Y-%m-%d}）",
            link=f"/sharing/feedback/{case.id}",
            subject_type="data_feedback",
            subject_id=case.id,
        )
        audit.record(
            db,
            EventType.feedback_overdue,
            actor=Actor.operator("scheduler"),
            obj=case,
            org_id=case.provider_org_id,
            details={"due_date": case.due_date.isoformat()},
        )
    db.flush()
    return len(late)


def provider_row(db: Session, case: Feedback) -> dict[str, Any]:
    """The business-key values of the row in question, for its provider (who holds the data)."""
    resource = db.get(Resource, case.resource_id)
    assert resource is not None
    keys = [i["name"] for i in published_items(db, resource) if i.get("is_key")]
    table = store.table_for(db, resource.id, published_items(db, resource))
    found = db.execute(select(*(table.c[k] for k in keys)).where(table.c._key == case.row_key)).first()
    return {
        k: (None if found is None else str(v)) for k, v in zip(keys, found or [None] * len(keys), strict=True)
    }


def feedback_dict(case: Feedback) -> dict[str, Any]:
    return {
        "id": case.id,
        "resource_id": case.resource_id,
        "provider_org_id": case.provider_org_id,
        "org_id": case.org_id,
        "row_id": rowids.row_id(case.org_id, case.row_key),
        "kind": case.kind,
        "items": list(case.items),
        "description": case.description,
        "filed_at": case.filed_at.isoformat(),
        "due_date": case.due_date.isoformat(),
        "due_provisional": case.due_provisional,
        "status": case.status,
        "status_label": STATUS[case.status],
        "answer": case.answer,
        "answer_reason": case.answer_reason,
        "corrected_batch_id": case.corrected_batch_id,
        "answered_at": case.answered_at.isoformat() if case.answered_at else None,
        "reopened": case.reopened,
        "consumer_comment": case.consumer_comment,
        "overdue": case.overdue_at is not None,
    }
