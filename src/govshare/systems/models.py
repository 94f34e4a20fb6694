from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.db import Base, utcnow
from govshare.orgs.models import Organisation
from govshare.users.models import User


class BusinessSystem(Base):
    __tablename__ = "business_systems"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text)
    contact_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    allowed_cidrs_json: Mapped[str] = mapped_column("allowed_cidrs", Text, default="[]")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    tokens: Mapped[list[SystemToken]] = relationship(
        back_populates="system", order_by="SystemToken.id.desc()"
    )
    # Loaded on access (pages), not on every token check: lists ask for them with selectinload.
    org: Mapped[Organisation] = relationship(lazy="select")
    # Who changes `contact_user_id` also expires this attribute (see systems.service).
    contact: Mapped[User | None] = relationship(foreign_keys=[contact_user_id], lazy="select")

    __mapper_args__ = {"version_id_col": version}

    @property
    def allowed_cidrs(self) -> list[str]:
        value: list[str] = json.loads(self.allowed_cidrs_json)
        return value

    @allowed_cidrs.setter
    def allowed_cidrs(self, value: list[str]) -> None:
        self.allowed_cidrs_json = json.dumps(value)


class SystemToken(Base):
    __tablename__ = "system_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("business_systems.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to tell tokens apart in the UI
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(64))

    system: Mapped[BusinessSystem] = relationship(back_populates="tokens")

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"
