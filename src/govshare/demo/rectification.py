"""Demo rectification (M24): detection runs over the demo city; one notice goes through notice →
report → verification, and one is escalated.

Like the rest of the demo's history (demo/activity.py), the escalated notice is issued through the
service and then moved back in time: its issue day becomes a month ago and its deadline is counted
again from that day, so that today's escalation sweep finds it overdue (docs/rectification.md).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.auth.service import actor_for
from govshare.authz import Role
from govshare.calendar import deadlines
from govshare.rectification import detection, escalation, service
from govshare.rectification.models import Violation
from govshare.users.models import User, UserRole
from govshare.workdays import today


def _data_admin(db: Session, org_id: int) -> User:
    user = db.scalar(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(User.org_id == org_id, UserRole.role == Role.data_admin.value, User.is_active)
        .order_by(User.id)
        .limit(1)
    )
    assert user is not None, f"no data administrator in organisation {org_id}"
    return user


def _open(db: Session, org_id: int) -> list[int]:
    return list(
        db.scalars(
            select(Violation.id).where(Violation.org_id == org_id, Violation.status == "open").limit(5)
        )
    )


def load(db: Session) -> int:
    """Run detection and walk two notices through; returns how many violations are open afterwards."""
    bureau_user = db.scalar(select(User).where(User.username == "bureau_admin"))
    assert bureau_user is not None
    bureau = actor_for(db, bureau_user)
    detection.detect(db, actor=bureau)
    by_org: dict[int, int] = {}
    for (org_id,) in db.execute(select(Violation.org_id).where(Violation.status == "open")):
        by_org[org_id] = by_org.get(org_id, 0) + 1
    departments = [o.id for o in service.departments(db)]
    ranked = sorted(departments, key=lambda o: (-by_org.get(o, 0), o))
    first, second = ranked[0], ranked[1]
    for org_id in (first, second):
        if not _open(db, org_id):  # a city without detected problems still shows the flow
            service.enter_violation(
                db,
                actor=bureau,
                org_id=org_id,
                summary="未按规定时限报送本单位政务数据共享工作年度总结（演示数据）",
                evidence="市数据资源管理局年度工作检查记录",
            )
    verified = service.issue_notice(
        db,
        actor=bureau,
        violation_ids=_open(db, first),
        requirement="请对照违规情形逐项整改：补充编制并报送目录、按更新周期提供数据，"
        "整改完成后在平台报送整改报告并附佐证材料。",
    )
    department = actor_for(db, _data_admin(db, first))
    service.submit_report(
        db,
        actor=department,
        notice_id=verified.id,
        text="已逐项整改：目录已补充编制并报送审核；数据已按更新周期推送；已建立每月自查机制。（演示数据）",
        attachment=service.Attachment(name="整改情况说明.txt", content="整改情况说明（演示数据）\n".encode()),
    )
    service.verify(db, actor=bureau, notice_id=verified.id, opinion="经核查，整改到位。（演示数据）")
    late = service.issue_notice(
        db,
        actor=bureau,
        violation_ids=_open(db, second),
        requirement="请在期限内完成整改并报送整改报告。",
    )
    issued_on = today() - timedelta(days=30)
    due = deadlines.due_date(db, issued_on, late.working_days)
    late.issued_on, late.issued_at = issued_on, late.issued_at - timedelta(days=30)
    late.due_date, late.due_provisional = due.day, due.provisional
    db.flush()
    escalation.escalate_overdue(db, actor=bureau)
    return len(list(db.scalars(select(Violation.id).where(Violation.status == "open"))))
