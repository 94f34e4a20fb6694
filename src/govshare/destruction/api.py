"""Destruction over the API: file a request, approve, refuse, withdraw, confirm (which executes),
read requests and certificates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from govshare.destruction import service
from govshare.destruction.schemas import CertificateOut, DecisionIn, ReasonIn, RequestIn, RequestOut
from govshare.pagination import Page, PageParams, page_of
from govshare.web.deps import DB, CurrentActor
from govshare.workdays import BEIJING

router = APIRouter(prefix="/api/v1/destructions", tags=["destruction"])


def _aware(value: datetime | None) -> datetime | None:
    """A time without a zone is Beijing time, as the form's."""
    return value.replace(tzinfo=BEIJING) if value is not None and value.tzinfo is None else value


@router.get("", response_model=Page[RequestOut])
def list_requests(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    status: Annotated[str | None, Query(max_length=24)] = None,
) -> Page[RequestOut]:
    rows, total = service.list_requests(db, actor=actor, params=params, status=status)
    return page_of(RequestOut, rows, total, params)


@router.post("", response_model=RequestOut, status_code=status.HTTP_201_CREATED)
def create_request(data: RequestIn, actor: CurrentActor, db: DB) -> RequestOut:
    body = data.model_dump()
    body["received_from"] = _aware(data.received_from)
    body["received_until"] = _aware(data.received_until)
    request = service.create_request(db, actor=actor, data=service.NewRequest(**body))
    return RequestOut.model_validate(request)


@router.get("/{request_id}", response_model=RequestOut)
def get_request(request_id: int, actor: CurrentActor, db: DB) -> RequestOut:
    return RequestOut.model_validate(service.get_request(db, actor=actor, request_id=request_id))


@router.post("/{request_id}/approval", response_model=RequestOut)
def approve(request_id: int, data: DecisionIn, actor: CurrentActor, db: DB) -> RequestOut:
    """The department's approver, then the Bureau's administrator, each approves at their stage."""
    return RequestOut.model_validate(
        service.approve(db, actor=actor, request_id=request_id, opinion=data.opinion)
    )


@router.post("/{request_id}/refusal", response_model=RequestOut)
def refuse(request_id: int, data: ReasonIn, actor: CurrentActor, db: DB) -> RequestOut:
    return RequestOut.model_validate(
        service.refuse(db, actor=actor, request_id=request_id, reason=data.reason)
    )


@router.post("/{request_id}/withdrawal", response_model=RequestOut)
def withdraw(request_id: int, data: ReasonIn, actor: CurrentActor, db: DB) -> RequestOut:
    return RequestOut.model_validate(
        service.withdraw(db, actor=actor, request_id=request_id, reason=data.reason)
    )


@router.post("/{request_id}/confirmation", response_model=RequestOut)
def confirm(request_id: int, data: DecisionIn, actor: CurrentActor, db: DB) -> RequestOut:
    """The named supervisor confirms; the platform destroys the data at once and records the evidence."""
    return RequestOut.model_validate(
        service.confirm(db, actor=actor, request_id=request_id, opinion=data.opinion)
    )


@router.get("/{request_id}/certificate", response_model=CertificateOut)
def certificate(request_id: int, actor: CurrentActor, db: DB) -> CertificateOut:
    return CertificateOut.model_validate(service.certificate(db, actor=actor, request_id=request_id))
