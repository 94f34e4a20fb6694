"""Abuse detection and incident response tables (S10–S12).

- `RuleSetting`: the Bureau's thresholds of one detection rule (rules without a row run on their
  defaults, `protection.detection.RULES`).
- `ScanState`: the scanner's watermark, the last audit sequence number it evaluated.
- `Alert`: one situation a rule found, with the audit events that show it, and its handling.
- `Incident`, `TimelineEntry`, `Containment`: a security incident, what was done about it and when,
  and the reversible containment actions taken (with the state they replaced).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class RuleSetting(Base):
    __tablename__ = "protection_rule_settings"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    params: Mapped[dict[str, int]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class ScanState(Base):
    """The single row (id 1) holding the last audit `seq` the scanner has evaluated."""

    __tablename__ = "protection_scan_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)
    scanned_at: Mapped[datetime | None]


class Alert(Base):
    """A rule's finding about one subject (a person, a business system, a department or a source
    address) over a time window. `org_id` is the subject's department: its security officers see
    the alert; an alert without one (an unknown user name's failed logins) is for the Bureau only."""

    __tablename__ = "protection_alerts"
    __table_args__ = (
        Index("ix_protection_alerts_subject", "rule", "subject", "status"),
        Index("ix_protection_alerts_org", "org_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(40))
    # One alert per rule, subject and the window it started in (a continuing situation extends it).
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    subject: Mapped[str] = mapped_column(String(80))  # user:<id> | system:<id> | org:<id> | ip:<address>
    subject_name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    severity: Mapped[str] = mapped_column(String(16))  # low | medium | high
    summary: Mapped[str] = mapped_column(Text)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    evidence: Mapped[list[int]] = mapped_column(JSON)  # audit seqs, the first EVIDENCE_LIMIT
    event_count: Mapped[int] = mapped_column(default=0)
    last_evidence_seq: Mapped[int] = mapped_column(default=0)  # the newest event counted
    measure: Mapped[int] = mapped_column(default=0)  # what the rule counted (events, rows, lookups)
    # open | assigned | investigating | closed
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime | None]
    investigating_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    conclusion: Mapped[str | None] = mapped_column(Text)
    accountability: Mapped[str | None] = mapped_column(String(24))  # none | rectified | held_accountable
    responsible: Mapped[str | None] = mapped_column(String(200))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("protection_incidents.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    lock_version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": lock_version}


class Incident(Base):
    """A security incident (安全事件, S12). Affected departments are ids of organisations."""

    __tablename__ = "protection_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))  # general | larger | major | critical
    description: Mapped[str] = mapped_column(Text)
    affected_org_ids: Mapped[list[int]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closed_by_name: Mapped[str | None] = mapped_column(String(128))
    conclusion: Mapped[str | None] = mapped_column(Text)
    lock_version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": lock_version}


class TimelineEntry(Base):
    """One line of an incident's timeline: a note or an action, with its time and person. Appended
    only."""

    __tablename__ = "protection_timeline"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("protection_incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_name: Mapped[str] = mapped_column(String(128))
    # created | note | alert_linked | contained | lifted | closed
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    containment_id: Mapped[int | None] = mapped_column(ForeignKey("protection_containments.id"))


class Containment(Base):
    """A containment action and the exact state it replaced, so that lifting it restores that state:
    `previous` is `{"is_active": bool}` for a system or a person, `{"grant_ids": [...]}` for the
    grants a department freeze suspended."""

    __tablename__ = "protection_containments"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("protection_incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # suspend_system | freeze_grants | disable_person
    target_id: Mapped[int]
    target_label: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))  # the target's department
    previous: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | lifted
    applied_by: Mapped[str] = mapped_column(String(128))
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_by: Mapped[str | None] = mapped_column(String(128))
    lifted_at: Mapped[datetime | None]
    lift_note: Mapped[str | None] = mapped_column(Text)
    lock_version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": lock_version}
