"""API-service resources (接口服务): the provider's registered endpoint, every call made through the
platform, and the fixed-window counters of the per-department rate limit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class ApiService(Base):
    """The endpoint behind one 接口 resource, as its provider registered it.

    `parameters` are `[{name, in: query|body, required, description}]`; `masks` are
    `[{path, rule}]` (see `govshare.masking`). The upstream credential's value is stored sealed with
    SM4-GCM (`credential_sealed`, bound to the resource) and never shown; its header name is.
    """

    __tablename__ = "api_services"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    endpoint_url: Mapped[str] = mapped_column(String(2000))
    method: Mapped[str] = mapped_column(String(8))  # GET | POST
    parameters: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    openapi: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    openapi_sm3: Mapped[str | None] = mapped_column(String(64))
    timeout_seconds: Mapped[int] = mapped_column()
    rate_per_minute: Mapped[int] = mapped_column()
    masks: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    credential_header: Mapped[str | None] = mapped_column(String(64))
    credential_sealed: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class ApiCall(Base):
    """One call of an API service through the platform, refused ones included.

    Parameters are kept only as a keyed digest (HMAC-SM3), never their values; `response_sm3` and
    `response_bytes` describe the (masked) answer the caller received.
    """

    __tablename__ = "api_calls"
    __table_args__ = (
        Index("ix_api_calls_resource_at", "resource_id", "at"),
        Index("ix_api_calls_caller_at", "caller_org_id", "at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # also X-GovShare-Call-Id
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))  # the provider
    caller_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    system_id: Mapped[int | None] = mapped_column(ForeignKey("business_systems.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(8))
    params_digest: Mapped[str | None] = mapped_column(String(64))
    upstream_status: Mapped[int | None] = mapped_column()
    # ok | refused | timeout | upstream_error | rate_limited
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(default=0)
    response_bytes: Mapped[int] = mapped_column(default=0)
    response_sm3: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiRateWindow(Base):
    """Calls one consumer department made to one service in one minute (a fixed window).

    Taken with one conditional UPDATE (`count < limit`), or an INSERT for a new window; the unique
    key makes concurrent first calls of a window from several platform instances meet on one row.
    """

    __tablename__ = "api_rate_windows"
    __table_args__ = (UniqueConstraint("resource_id", "org_id", "window_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    window_start: Mapped[datetime] = mapped_column()
    count: Mapped[int] = mapped_column(default=0)
