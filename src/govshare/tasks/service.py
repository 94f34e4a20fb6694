"""Open, list, close and hand over tasks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from govshare.authz import Actor, Role
from govshare.db import utcnow
from govshare.tasks.models import Task


def open_task(
    db: Session,
    *,
    kind: str,
    title: str,
    link: str,
    org_id: int,
    subject_type: str,
    subject_id: str | int,
    assignee_id: int | None = None,
    assignee_role: Role | None = None,
    due_at: datetime | None = None,
) -> Task:
    """Open a task for one person or for holders of a role in `org_id` (exactly one of the two)."""
    if (assignee_id is None) == (assignee_role is None):
        raise ValueError("a task goes to one person or to one role")
    task = Task(
        kind=kind,
        title=title,
        link=link,
        org_id=org_id,
        subject_type=subject_type,
        subject_id=str(subject_id),
        assignee_id=assignee_id,
        assignee_role=assignee_role.value if assignee_role else None,
        due_at=due_at,
    )
    db.add(task)
    db.flush()
    return task


def close_tasks(db: Session, *, subject_type: str, subject_id: str | int, kind: str | None = None) -> int:
    """Close the open tasks about one object; returns how many were closed."""
    stmt = update(Task).where(
        Task.subject_type == subject_type, Task.subject_id == str(subject_id), Task.status == "open"
    )
    if kind is not None:
        stmt = stmt.where(Task.kind == kind)
    result = db.execute(stmt.values(status="done", closed_at=utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def open_tasks_for(db: Session, *, actor: Actor, limit: int = 100) -> list[Task]:
    """Open tasks assigned to the actor or to one of its roles in its organisation, oldest first."""
    if actor.user_id is None:
        return []
    conditions = [Task.assignee_id == actor.user_id]
    if actor.roles and actor.org_id is not None:
        conditions.append(
            and_(Task.org_id == actor.org_id, Task.assignee_role.in_([r.value for r in actor.roles]))
        )
    stmt = (
        select(Task)
        .where(Task.status == "open", or_(*conditions))
        .order_by(Task.due_at, Task.id)
        .limit(limit)
    )
    return list(db.scalars(stmt))


def personal_open_tasks(db: Session, *, user_id: int) -> list[Task]:
    return list(db.scalars(select(Task).where(Task.assignee_id == user_id, Task.status == "open")))
