from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base


class EventFields:
    """What `service.record` writes of an event, in the chain and in the inbox alike."""

    occurred_at: Mapped[datetime]
    event_type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(String(128))
    org_id: Mapped[int | None]
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored


class AuditEvent(EventFields, Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_occurred_at", "occurred_at"),
        Index("ix_audit_events_actor", "actor_kind", "actor_id"),
        Index("ix_audit_events_org_id", "org_id"),
        Index("ix_audit_events_object", "object_type", "object_id"),
        Index("ix_audit_events_event_type", "event_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditInbox(EventFields, Base):
    """Events written by data calls on PostgreSQL and not yet in the chain (`service.link_inbox`
    moves them there, in order of arrival, within a second or so). A data call writes its use record
    and its event in one statement of its own, without waiting for the chain's head, which every
    chained append takes in turn (docs/architecture.md, "The audit inbox")."""

    __tablename__ = "audit_inbox"

    id: Mapped[int] = mapped_column(primary_key=True)


class AuditHead(Base):
    """The single row that points at the end of the chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int]
    last_hash: Mapped[str] = mapped_column(String(64))
    last_checkpoint_seq: Mapped[int]
    last_checkpoint_at: Mapped[datetime | None]


class AuditCheckpoint(Base):
    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    public_key: Mapped[str] = mapped_column(String(130))
    signature: Mapped[str] = mapped_column(String(128))
