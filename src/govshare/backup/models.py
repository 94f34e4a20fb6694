"""The Bureau's backup policy and the record of every backup, drill and restore (S19, S21)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base


class BackupPolicy(Base):
    """One row (id 1): what is backed up, how often, how long backups are kept, how often a
    restore drill runs."""

    __tablename__ = "backup_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    scope: Mapped[str] = mapped_column(String(16), default="full")  # full | database
    every_hours: Mapped[int] = mapped_column(Integer, default=24)
    keep_days: Mapped[int] = mapped_column(Integer, default=30)
    keep_min: Mapped[int] = mapped_column(Integer, default=3)
    drill_every_days: Mapped[int] = mapped_column(Integer, default=7)
    requested_at: Mapped[datetime | None]
    requested_by: Mapped[str | None] = mapped_column(String(128))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime | None]


class BackupRun(Base):
    """A backup (scheduled, on request, from the command line), a restore drill of one, or a
    restore; its outcome and the evidence: file, size, SM3, counts, mismatches or error."""

    __tablename__ = "backup_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # scheduled | manual | cli | drill | restore
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed
    scope: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    actor: Mapped[str] = mapped_column(String(128))
    file_name: Mapped[str | None] = mapped_column(String(500))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sm3: Mapped[str | None] = mapped_column(String(64))
    tables: Mapped[int | None] = mapped_column(Integer)
    rows: Mapped[int | None] = mapped_column(BigInteger)
    files: Mapped[int | None] = mapped_column(Integer)
    seconds: Mapped[float | None]
    detail: Mapped[str | None] = mapped_column(Text)
    backup_id: Mapped[int | None] = mapped_column(ForeignKey("backup_runs.id"))
    pruned_at: Mapped[datetime | None]
