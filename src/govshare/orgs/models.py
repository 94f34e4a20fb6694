from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class OrgKind(StrEnum):
    bureau = "bureau"
    department = "department"
    district = "district"
    enterprise = "enterprise"

    @property
    def label(self) -> str:
        return {
            "bureau": "数据主管部门",
            "department": "市直部门",
            "district": "县（市、区）政府",
            "enterprise": "授权企业（单位）",
        }[self.value]


class Organisation(Base):
    __tablename__ = "organisations"
    __org_column__ = "id"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    short_name: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    credit_code_checked: Mapped[bool] = mapped_column(default=True)
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def kind_label(self) -> str:
        return OrgKind(self.kind).label
