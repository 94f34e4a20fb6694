"""Rectification over the API: violations (list, read, enter, dismiss, run detection), notices
(list, read, issue, report, verify, reject), escalations and the per-department summary."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from govshare.authz import Action, Scope, require, scope_of
from govshare.errors import Invalid
from govshare.pagination import Page, PageParams, page_of
from govshare.rectification import detection, escalation, service
from govshare.rectification.models import RectificationNotice
from govshare.rectification.schemas import (
    DetectionOut,
    EscalationOut,
    NoticeDetailOut,
    NoticeIn,
    NoticeOut,
    OpinionIn,
    ReasonIn,
    ReportIn,
    ReportOut,
    SummaryOut,
    ViolationIn,
    ViolationOut,
)
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1/rectification", tags=["rectification"])


@router.get("/violations", response_model=Page[ViolationOut])
def list_violations(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    org_id: Annotated[int | None, Query(ge=1)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> Page[ViolationOut]:
    rows, total = service.list_violations(
        db, actor=actor, params=params, where=service.ViolationFilter(org_id=org_id, kind=kind, status=status)
    )
    return page_of(ViolationOut, rows, total, params)


@router.post("/violations", response_model=ViolationOut, status_code=status.HTTP_201_CREATED)
def enter_violation(data: ViolationIn, actor: CurrentActor, db: DB) -> ViolationOut:
    """The Bureau enters an "other" violation (M24(6))."""
    violation = service.enter_violation(
        db, actor=actor, org_id=data.org_id, summary=data.summary, evidence=data.evidence
    )
    return ViolationOut.model_validate(violation)


@router.post("/detection", response_model=DetectionOut)
def run_detection(actor: CurrentActor, db: DB) -> DetectionOut:
    """Run violation detection now (it also runs as the job `rectification.detect`)."""
    found = detection.detect(db, actor=actor)
    return DetectionOut(raised=found.raised, extended=found.extended, resolved=found.resolved)


@router.get("/violations/{violation_id}", response_model=ViolationOut)
def get_violation(violation_id: int, actor: CurrentActor, db: DB) -> ViolationOut:
    return ViolationOut.model_validate(service.get_violation(db, actor=actor, violation_id=violation_id))


@router.post("/violations/{violation_id}/dismissal", response_model=ViolationOut)
def dismiss_violation(violation_id: int, data: ReasonIn, actor: CurrentActor, db: DB) -> ViolationOut:
    violation = service.dismiss_violation(
        db, actor=actor, violation_id=violation_id, reason=data.reason, expected_version=data.version
    )
    return ViolationOut.model_validate(violation)


@router.get("/notices", response_model=Page[NoticeOut])
def list_notices(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    status: Annotated[str | None, Query(max_length=16)] = None,
    org_id: Annotated[int | None, Query(ge=1)] = None,
) -> Page[NoticeOut]:
    rows, total = service.list_notices(db, actor=actor, params=params, status=status, org_id=org_id)
    return page_of(NoticeOut, rows, total, params)


def _detail(db: DB, notice: RectificationNotice) -> NoticeDetailOut:
    found = service.escalation_of(db, notice)
    return NoticeDetailOut.model_validate(
        {
            **NoticeOut.model_validate(notice).model_dump(),
            "violations": [ViolationOut.model_validate(v) for v in service.violations_of(db, notice)],
            "reports": [ReportOut.model_validate(r) for r in service.reports_of(db, notice)],
            "escalation_id": found.id if found else None,
        }
    )


@router.post("/notices", response_model=NoticeDetailOut, status_code=status.HTTP_201_CREATED)
def issue_notice(data: NoticeIn, actor: CurrentActor, db: DB) -> NoticeDetailOut:
    notice = service.issue_notice(
        db,
        actor=actor,
        violation_ids=data.violation_ids,
        requirement=data.requirement,
        working_days=data.working_days,
    )
    return _detail(db, notice)


@router.get("/notices/{notice_id}", response_model=NoticeDetailOut)
def get_notice(notice_id: int, actor: CurrentActor, db: DB) -> NoticeDetailOut:
    return _detail(db, service.get_notice(db, actor=actor, notice_id=notice_id))


@router.post("/notices/{notice_id}/reports", response_model=ReportOut, status_code=status.HTTP_201_CREATED)
def submit_report(notice_id: int, data: ReportIn, actor: CurrentActor, db: DB) -> ReportOut:
    """The department's data administrator reports; the attachment (optional) is base64 in JSON."""
    attachment = None
    if data.attachment_base64:
        try:
            content = base64.b64decode(data.attachment_base64, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid(
                "附件内容不是有效的 base64 编码。",
                "attachment_base64 is not base64.",
                details={"field": "attachment_base64"},
            ) from None
        attachment = service.Attachment(name=data.attachment_name or "", content=content)
    report = service.submit_report(
        db,
        actor=actor,
        notice_id=notice_id,
        text=data.text,
        attachment=attachment,
        expected_version=data.version,
    )
    return ReportOut.model_validate(report)


@router.post("/notices/{notice_id}/verification", response_model=NoticeDetailOut)
def verify(notice_id: int, data: OpinionIn, actor: CurrentActor, db: DB) -> NoticeDetailOut:
    notice = service.verify(
        db, actor=actor, notice_id=notice_id, opinion=data.opinion, expected_version=data.version
    )
    return _detail(db, notice)


@router.post("/notices/{notice_id}/rejection", response_model=NoticeDetailOut)
def reject(notice_id: int, data: ReasonIn, actor: CurrentActor, db: DB) -> NoticeDetailOut:
    notice = service.reject(
        db, actor=actor, notice_id=notice_id, reason=data.reason, expected_version=data.version
    )
    return _detail(db, notice)


@router.get("/escalations", response_model=Page[EscalationOut])
def list_escalations(
    actor: CurrentActor, db: DB, params: Annotated[PageParams, Depends()]
) -> Page[EscalationOut]:
    rows, total = escalation.list_escalations(db, actor=actor, params=params)
    return Page[EscalationOut](
        items=[EscalationOut.model_validate(escalation.document_dict(r)) for r in rows],
        total=total,
        page=params.page,
        page_size=params.page_size,
    )


@router.get("/escalations/{escalation_id}", response_model=EscalationOut)
def get_escalation(escalation_id: int, actor: CurrentActor, db: DB) -> EscalationOut:
    found = escalation.get_escalation(db, actor=actor, escalation_id=escalation_id)
    return EscalationOut.model_validate(escalation.document_dict(found))


@router.get("/summary", response_model=list[SummaryOut])
def summary(actor: CurrentActor, db: DB) -> list[SummaryOut]:
    """Per department: open violations, notices open / overdue / escalated / verified; a department's
    data administrator gets its own department only."""
    require(actor, Action.rectification_view)
    own = scope_of(actor, Action.rectification_view) is not Scope.city
    rows = service.summary(db, org_id=actor.org_id if own else None)
    return [SummaryOut.model_validate(r) for r in rows if not own or r["org_id"] == actor.org_id]
