"""One page shape for every list, in the API and the UI."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
MAX_PAGE_SIZE = 200


def page_count(total: int, page_size: int) -> int:
    """How many pages `total` rows fill; an empty list still has its one (empty) page."""
    return max(1, -(-total // page_size))


class PageParams(BaseModel):
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(20, ge=1, le=MAX_PAGE_SIZE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.page_size)


B = TypeVar("B", bound=BaseModel)


def page_of(schema: type[B], rows: list[Any], total: int, params: PageParams) -> Page[B]:
    """The API page of `rows` (ORM objects) rendered through `schema`."""
    return Page[B](
        items=[schema.model_validate(row) for row in rows],
        total=total,
        page=params.page,
        page_size=params.page_size,
    )


def paginate(db: Session, stmt: Select[Any], params: PageParams) -> tuple[list[Any], int]:
    """Run `stmt` for one page; returns (rows, total matching)."""
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = list(db.scalars(stmt.offset(params.offset).limit(params.page_size)))
    return rows, total
