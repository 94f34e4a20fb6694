"""Open-data API shapes and the public application form."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from govshare.identifiers import credit_code_valid
from govshare.opendata.models import ApplicantType

PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_PURPOSE = 1000


class OpenItemOut(BaseModel):
    name: str
    title: str
    data_type: str
    length: int | None = None
    open: bool = Field(description="Whether the item's values are served (masked) to the public.")
    masking: str | None = Field(None, description="How the item's values are masked, in Chinese.")


class OpenResourceOut(BaseModel):
    id: int
    code: str
    name: str
    provider: str = Field(description="The providing department's name.")
    summary: str
    open_type: str
    open_type_label: str
    format: str
    provision_method: str
    update_cycle: str
    published_at: str | None


class OpenResourceDetail(OpenResourceOut):
    category: str
    open_condition: str | None
    items: list[OpenItemOut]
    hidden_items: int
    rows_url: str | None


class OpenResourceList(BaseModel):
    items: list[OpenResourceOut]
    total: int
    page: int
    per_page: int


class OpenRowsOut(BaseModel):
    rows: list[dict[str, Any]]
    next_cursor: str | None
    columns: list[str]
    masking: dict[str, str]


class ApplicationIn(BaseModel):
    """The public's application for a conditionally open resource (M8)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    applicant_type: ApplicantType
    applicant_name: str = Field(min_length=1, max_length=64)
    org_name: str | None = Field(None, max_length=128)
    credit_code: str | None = Field(None, max_length=18)
    phone: str = Field(min_length=7, max_length=20)
    email: str | None = Field(None, max_length=128)
    purpose: str = Field(min_length=5, max_length=MAX_PURPOSE)
    items: list[str] = Field(min_length=1, max_length=200)
    wanted_until: date

    @field_validator("org_name", "credit_code", "email", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if not PHONE.match(value):
            raise ValueError("联系电话应为 11 位手机号码或带区号的固定电话（如 0311-86081234）")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise ValueError("电子邮箱格式不正确（如 name@example.com）")
        return value

    @field_validator("credit_code")
    @classmethod
    def _credit_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.upper()
        if not credit_code_valid(value):
            raise ValueError("统一社会信用代码不正确：应为 18 位，且校验位符合 GB 32100，请核对营业执照")
        return value

    @model_validator(mode="after")
    def _organisation(self) -> ApplicationIn:
        if self.applicant_type is not ApplicantType.person and not self.org_name:
            raise ValueError("企业或其他单位申请，请填写单位名称")
        if self.applicant_type is ApplicantType.enterprise and not self.credit_code:
            raise ValueError("企业申请，请填写统一社会信用代码")
        return self
