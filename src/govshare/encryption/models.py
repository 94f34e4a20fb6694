from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base


class DataKey(Base):
    """One version of a resource's data key (`kind` data: encrypts cells) or its blind-index key
    (`kind` index: keys the SM3 digests that equality lookups use). `wrapped` is the key encrypted
    under the resource's key-encryption key (see `keys.py`); it is erased when the key is destroyed."""

    __tablename__ = "data_keys"
    __table_args__ = (UniqueConstraint("resource_id", "kind", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # data | index
    version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]  # superseded by a newer version (rotation)
    destroyed_at: Mapped[datetime | None]
    destroyed_by: Mapped[str | None] = mapped_column(String(128))
