"""Violations and rectification notices (M24): the Bureau enters or dismisses violations and issues
notices from them; the department reports; the Bureau verifies or rejects the report.

Choice (docs/rectification.md): detected violations never become notices by themselves — the Bureau
reviews them and issues a notice from one or more open violations of one department. A notice's
deadline is `working_days` working days after the day it is issued (Beijing date), counted with the
platform's calendar; in a year whose official schedule is not loaded yet it is provisional, and is
recomputed when the Bureau loads the year. A report filed on time stops the clock while the Bureau
verifies it; a report rejected after the deadline leaves the notice overdue, and the escalation
sweep (escalation.py) reports it to the city government.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, Role, allowed, get_visible, register_view_action, require, visible
from govshare.calendar import deadlines
from govshare.calendar import service as calendar_service
from govshare.crypto import sm3_hex
from govshare.db import lock_row, utcnow
from govshare.errors import Conflict, Invalid, NotFound
from govshare.orgs import service as orgs
from govshare.orgs.models import Organisation, OrgKind
from govshare.pagination import PageParams, paginate
from govshare.rectification.models import Escalation, RectificationNotice, RectificationReport, Violation
from govshare.settings import get_settings
from govshare.tasks import service as tasks
from govshare.workdays import BEIJING, Calendar, today

register_view_action(Violation, Action.rectification_view)
register_view_action(RectificationNotice, Action.rectification_view)
register_view_action(RectificationReport, Action.rectification_view)
register_view_action(Escalation, Action.rectification_view)

KINDS = {
    "catalog": "未按要求编制或更新政务数据资源目录",
    "timeliness": "未向平台及时提供共享数据",
    "quality": "提供的数据与所掌握信息不一致、未及时更新或不符合有关规范",
    "purpose": "将共享数据用于履行本单位职责需要以外目的",
    "sensitive": "违规使用涉及国家安全、商业秘密、个人隐私的政务数据",
    "other": "其他违反规定的行为",
}
RULES = {
    "no_catalog": "未编制目录",
    "returned": "目录退回未修改",
    "stale": "目录长期未更新",
    "late": "未按更新周期提供数据",
    "quarantine": "数据不符合质量规则",
    "feedback_error": "数据经纠错确认有误",
    "feedback_overdue": "数据异议逾期未核实",
    "purpose_mismatch": "超用途调用",
    "alert": "安全告警",
    "manual": "人工登记",
}
VIOLATION_STATUS = {"open": "待处理", "noticed": "已通知整改", "resolved": "已消除", "dismissed": "已撤销"}
NOTICE_STATUS = {
    "issued": "待整改",
    "reported": "待核验",
    "returned": "报告退回",
    "verified": "已核验",
    "escalated": "已上报市政府",
}
AWAITING_REPORT = ("issued", "returned", "escalated")
TASK = "rectification"
ATTACHMENT_TYPES = {
    ".pdf": "application/pdf",
    ".ofd": "application/ofd",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".txt": "text/plain",
    ".zip": "application/zip",
}
MAX_TEXT = 10_000
# A reference the Bureau enters is a link only when it is a path of this platform (never "//host").
_LOCAL_LINK = re.compile(r"/(?![/\\])[A-Za-z0-9_\-./?=&%]{0,300}")


def text_of(value: str | None, field: str, label: str, limit: int = MAX_TEXT) -> str:
    """`value` without surrounding blanks (line breaks kept: notices and reports are letters)."""
    value = "\n".join(line.rstrip() for line in (value or "").strip().splitlines())
    if not value:
        raise Invalid(f"请填写{label}。", f"{field} is required.", details={"field": field})
    if len(value) > limit:
        raise Invalid(f"{label}最多 {limit} 个字。", f"{field} too long.", details={"field": field})
    return value


def guarded_flush(db: Session, what: str) -> None:
    """Flush, turning a version clash (another transaction changed the row since it was read) into
    a Conflict that tells the person to reload."""
    try:
        db.flush()
    except StaleDataError:
        raise Conflict(f"该{what}刚被他人办理，请刷新页面查看最新状态。", "Changed meanwhile.") from None


def _expect(obj: Violation | RectificationNotice, expected: int | None, what: str) -> None:
    """Refuse a decision taken on a page showing an older version than the row's (stale edit)."""
    if expected is not None and expected != obj.version:
        raise Conflict(
            f"该{what}已被他人办理，请刷新页面查看最新状态后再操作。",
            "Stale version.",
            details={"current_version": obj.version},
        )


# --- violations ----------------------------------------------------------------------------------


def get_violation(db: Session, *, actor: Actor, violation_id: int) -> Violation:
    return get_visible(db, Violation, violation_id, actor=actor, label="违规记录")


@dataclass(frozen=True)
class ViolationFilter:
    org_id: int | None = None
    kind: str | None = None
    status: str | None = None


def list_violations(
    db: Session, *, actor: Actor, params: PageParams, where: ViolationFilter | None = None
) -> tuple[list[Violation], int]:
    """A page of the violations `actor` may see, the newest first."""
    require(actor, Action.rectification_view)
    where = where or ViolationFilter()
    stmt = visible(actor, Action.rectification_view, select(Violation), Violation)
    if where.org_id is not None:
        stmt = stmt.where(Violation.org_id == where.org_id)
    if where.kind:
        if where.kind not in KINDS:
            raise Invalid("未知的违规类型。", "Unknown kind.", details={"field": "kind"})
        stmt = stmt.where(Violation.kind == where.kind)
    if where.status:
        if where.status not in VIOLATION_STATUS:
            raise Invalid("未知的违规状态。", "Unknown status.", details={"field": "status"})
        stmt = stmt.where(Violation.status == where.status)
    return paginate(db, stmt.order_by(Violation.id.desc()), params)


def departments(db: Session) -> list[Organisation]:
    """The government bodies that can be in violation (not the Bureau, not enterprises)."""
    return list(
        db.scalars(
            select(Organisation)
            .where(
                Organisation.is_active.is_(True),
                Organisation.kind.in_([OrgKind.department.value, OrgKind.district.value]),
            )
            .order_by(Organisation.id)
        )
    )


def _department(db: Session, org_id: int) -> Organisation:
    org = db.get(Organisation, org_id)
    if org is None or not org.is_active or org.kind not in (OrgKind.department.value, OrgKind.district.value):
        raise Invalid(
            "请选择一个政务部门。", "org_id is not an active department.", details={"field": "org_id"}
        )
    return org


def enter_violation(
    db: Session, *, actor: Actor, org_id: int, summary: str, evidence: str | None = None
) -> Violation:
    """The Bureau enters an "other" violation (M24(6)) with what happened and, optionally, where the
    evidence is (one line each, a link or a document reference)."""
    require(actor, Action.rectification_supervise)
    _department(db, org_id)
    lines = [line.strip() for line in (evidence or "").splitlines() if line.strip()][:50]
    violation = Violation(
        org_id=org_id,
        kind="other",
        rule="manual",
        dedupe_key=f"manual:{uuid.uuid4()}",
        summary=text_of(summary, "summary", "违规情形", 2000),
        evidence=[
            {
                "type": "note",
                "id": str(n),
                "label": line[:500],
                "link": line if _LOCAL_LINK.fullmatch(line) else None,
            }
            for n, line in enumerate(lines, start=1)
        ],
        source="manual",
        status="open",
        created_by=actor.user_id,
    )
    db.add(violation)
    db.flush()
    audit.record(
        db,
        EventType.violation_entered,
        actor=actor,
        obj=violation,
        org_id=org_id,
        details={"summary": violation.summary, "evidence": lines},
    )
    return violation


def dismiss_violation(
    db: Session, *, actor: Actor, violation_id: int, reason: str, expected_version: int | None = None
) -> Violation:
    """The Bureau dismisses an open violation (a false finding), with a reason. A detected event is
    not raised again; a state that persists is raised again at the next detection."""
    violation = get_violation(db, actor=actor, violation_id=violation_id)
    require(actor, Action.rectification_supervise, violation)
    lock_row(db, Violation, violation.id)
    _expect(violation, expected_version, "违规记录")
    if violation.status != "open":
        raise Conflict(
            f"该违规记录{VIOLATION_STATUS[violation.status]}，不能撤销。", "The violation is not open."
        )
    violation.resolution = text_of(reason, "reason", "撤销理由", 2000)
    violation.status, violation.resolved_at, violation.resolved_by = "dismissed", utcnow(), actor.user_id
    guarded_flush(db, "违规记录")
    audit.record(
        db,
        EventType.violation_dismissed,
        actor=actor,
        obj=violation,
        org_id=violation.org_id,
        details={"reason": violation.resolution},
    )
    return violation


# --- notices -------------------------------------------------------------------------------------


def get_notice(db: Session, *, actor: Actor, notice_id: int) -> RectificationNotice:
    return get_visible(db, RectificationNotice, notice_id, actor=actor, label="整改通知")


def list_notices(
    db: Session,
    *,
    actor: Actor,
    params: PageParams,
    status: str | None = None,
    org_id: int | None = None,
) -> tuple[list[RectificationNotice], int]:
    require(actor, Action.rectification_view)
    stmt = visible(actor, Action.rectification_view, select(RectificationNotice), RectificationNotice)
    if status:
        if status not in NOTICE_STATUS:
            raise Invalid("未知的通知状态。", "Unknown status.", details={"field": "status"})
        stmt = stmt.where(RectificationNotice.status == status)
    if org_id is not None:
        stmt = stmt.where(RectificationNotice.org_id == org_id)
    return paginate(db, stmt.order_by(RectificationNotice.id.desc()), params)


def violations_of(db: Session, notice: RectificationNotice) -> list[Violation]:
    return list(db.scalars(select(Violation).where(Violation.notice_id == notice.id).order_by(Violation.id)))


def reports_of(db: Session, notice: RectificationNotice) -> list[RectificationReport]:
    return list(
        db.scalars(
            select(RectificationReport)
            .where(RectificationReport.notice_id == notice.id)
            .order_by(RectificationReport.id)
        )
    )


def escalation_of(db: Session, notice: RectificationNotice) -> Escalation | None:
    return db.scalar(select(Escalation).where(Escalation.notice_id == notice.id))


def next_number(db: Session, model: type[Any], year: int) -> int:
    """The next sequence number of `model` in `year` (a race ends in the unique constraint)."""
    return int(db.scalar(select(func.coalesce(func.max(model.seq), 0)).where(model.year == year)) or 0) + 1


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59), BEIJING)


def issue_notice(
    db: Session,
    *,
    actor: Actor,
    violation_ids: list[int],
    requirement: str,
    working_days: int | None = None,
) -> RectificationNotice:
    """Issue a notice to the department of the given open violations (all of one department).

    Raises Invalid without violations, for several departments or a bad number of days; Conflict
    when a violation is no longer open (another notice took it, or it was resolved meanwhile)."""
    require(actor, Action.rectification_supervise)
    ids = sorted(set(violation_ids))
    if not ids:
        raise Invalid(
            "请至少选择一项违规情形。", "violation_ids is empty.", details={"field": "violation_ids"}
        )
    if len(ids) > 200:
        raise Invalid(
            "一份整改通知最多包含 200 项违规情形。",
            "Too many violations.",
            details={"field": "violation_ids"},
        )
    days = working_days if working_days is not None else get_settings().rectification_deadline_working_days
    if not 1 <= days <= 60:
        raise Invalid(
            "整改期限应为 1 到 60 个工作日。", "working_days out of range.", details={"field": "working_days"}
        )
    found = [get_violation(db, actor=actor, violation_id=i) for i in ids]
    db.execute(
        select(Violation)
        .where(Violation.id.in_(ids))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if len({v.org_id for v in found}) != 1:
        raise Invalid(
            "一份整改通知只能发给一个部门：请只选择同一部门的违规情形。",
            "Violations of several departments.",
            details={"field": "violation_ids"},
        )
    taken = [v for v in found if v.status != "open"]
    if taken:
        listed = "、".join(f"#{v.id}" for v in taken)
        raise Conflict(
            f"违规记录 {listed} 已不是待处理状态（可能已被他人下发通知或已消除），请刷新页面后重新选择。",
            "A violation is no longer open.",
        )
    org_id = found[0].org_id
    issued_on = today()
    due = deadlines.due_date(db, issued_on, days)
    year = issued_on.year
    seq = next_number(db, RectificationNotice, year)
    notice = RectificationNotice(
        year=year,
        seq=seq,
        number=f"整改通知〔{year}〕第{seq}号",
        org_id=org_id,
        requirement=text_of(requirement, "requirement", "整改要求"),
        issued_by=actor.user_id,
        issued_on=issued_on,
        working_days=days,
        due_date=due.day,
        due_provisional=due.provisional,
        status="issued",
    )
    db.add(notice)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        raise Conflict("通知编号被同时占用，请重新提交。", "Notice number taken meanwhile.") from None
    for violation in found:
        violation.status, violation.notice_id = "noticed", notice.id
    guarded_flush(db, "违规记录")
    _department_task(
        db, notice, f"整改通知 {notice.number}：请于 {due.day:%Y-%m-%d} 前完成整改并报送整改报告"
    )
    audit.record(
        db,
        EventType.notice_issued,
        actor=actor,
        obj=notice,
        org_id=org_id,
        details={
            "number": notice.number,
            "violation_ids": ids,
            "working_days": days,
            "due_date": due.day.isoformat(),
            "due_provisional": due.provisional,
        },
    )
    return notice


def _department_task(db: Session, notice: RectificationNotice, title: str) -> None:
    tasks.close_tasks(db, subject_type="rect_notices", subject_id=notice.id, kind=TASK)
    tasks.open_task(
        db,
        kind=TASK,
        title=title,
        link=f"/rectification/notices/{notice.id}",
        org_id=notice.org_id,
        subject_type="rect_notices",
        subject_id=notice.id,
        assignee_role=Role.data_admin,
        due_at=_end_of(notice.due_date),
    )


def _bureau_task(db: Session, notice: RectificationNotice, title: str) -> None:
    """The report waits for the person who issued the notice (or, failing that, the Bureau's admins)."""
    tasks.close_tasks(db, subject_type="rect_notices", subject_id=notice.id, kind=TASK)
    bureau = orgs.bureau(db)
    if bureau is None:
        return
    tasks.open_task(
        db,
        kind=TASK,
        title=title,
        link=f"/rectification/notices/{notice.id}",
        org_id=bureau.id,
        subject_type="rect_notices",
        subject_id=notice.id,
        assignee_id=notice.issued_by,
        assignee_role=None if notice.issued_by is not None else Role.bureau_admin,
    )


def _locked_notice(db: Session, actor: Actor, notice_id: int) -> RectificationNotice:
    notice = get_notice(db, actor=actor, notice_id=notice_id)
    lock_row(db, RectificationNotice, notice.id)
    return notice


@dataclass(frozen=True)
class Attachment:
    name: str
    content: bytes


def _attachment(file: Attachment) -> tuple[str, str, bytes]:
    name = file.name.replace("\\", "/").rsplit("/", 1)[-1].strip()[:200]
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if suffix not in ATTACHMENT_TYPES:
        raise Invalid(
            "附件只能是 PDF、OFD、Word、Excel、JPG/PNG 图片、TXT 或 ZIP 文件，请转换格式后重新上传。",
            "Attachment type not allowed.",
            details={"field": "attachment"},
        )
    limit = get_settings().rectification_report_max_bytes
    if not file.content:
        raise Invalid("附件是空文件，请重新选择。", "Empty attachment.", details={"field": "attachment"})
    if len(file.content) > limit:
        raise Invalid(
            f"附件不能超过 {limit // 1024} KB，请压缩或拆分后重新上传（可在报告正文中说明其余材料）。",
            "Attachment too large.",
            details={"field": "attachment"},
        )
    return name, ATTACHMENT_TYPES[suffix], file.content


def submit_report(
    db: Session,
    *,
    actor: Actor,
    notice_id: int,
    text: str,
    attachment: Attachment | None = None,
    expected_version: int | None = None,
) -> RectificationReport:
    """The department's data administrator reports what was rectified (text, optional attachment
    whose SM3 is recorded). Raises NotFound for another department's notice, Conflict when the
    notice is not awaiting a report or changed since the form was opened."""
    notice = _locked_notice(db, actor, notice_id)
    require(actor, Action.rectification_report, notice)
    _expect(notice, expected_version, "整改通知")
    if notice.status not in AWAITING_REPORT:
        raise Conflict(
            f"该整改通知{NOTICE_STATUS[notice.status]}，现在不能报送整改报告。请刷新页面查看最新状态。",
            "The notice is not awaiting a report.",
        )
    body = text_of(text, "text", "整改情况")
    report = RectificationReport(
        notice_id=notice.id, org_id=notice.org_id, text=body, submitted_by=actor.user_id
    )
    if attachment is not None:
        name, kind, content = _attachment(attachment)
        report.file_name, report.file_type, report.file_content = name, kind, content
        report.file_size, report.file_sm3 = len(content), sm3_hex(content)
    db.add(report)
    notice.status, notice.reported_at = "reported", utcnow()
    guarded_flush(db, "整改通知")
    _bureau_task(db, notice, f"整改报告待核验：{notice.number}")
    audit.record(
        db,
        EventType.notice_reported,
        actor=actor,
        obj=notice,
        org_id=notice.org_id,
        details={
            "report_id": report.id,
            "on_time": today() <= notice.due_date,
            "file_name": report.file_name,
            "file_size": report.file_size,
            "file_sm3": report.file_sm3,
        },
    )
    return report


def _pending_report(db: Session, notice: RectificationNotice) -> RectificationReport:
    report = db.scalar(
        select(RectificationReport)
        .where(RectificationReport.notice_id == notice.id, RectificationReport.verdict.is_(None))
        .order_by(RectificationReport.id.desc())
        .limit(1)
    )
    if notice.status != "reported" or report is None:
        raise Conflict(
            f"该整改通知{NOTICE_STATUS[notice.status]}，没有待核验的整改报告。请刷新页面查看最新状态。",
            "No report awaits verification.",
        )
    return report


def verify(
    db: Session, *, actor: Actor, notice_id: int, opinion: str, expected_version: int | None = None
) -> RectificationNotice:
    """The Bureau accepts the report: the notice is closed and its violations resolved."""
    notice = _locked_notice(db, actor, notice_id)
    require(actor, Action.rectification_supervise, notice)
    _expect(notice, expected_version, "整改通知")
    report = _pending_report(db, notice)
    now = utcnow()
    report.verdict, report.decided_by, report.decided_at = "verified", actor.user_id, now
    report.decision_reason = text_of(opinion, "opinion", "核验意见", 2000)
    notice.status, notice.verified_at, notice.verified_by = "verified", now, actor.user_id
    for violation in violations_of(db, notice):
        violation.status, violation.resolved_at, violation.resolved_by = "resolved", now, actor.user_id
        violation.resolution = f"{notice.number} 整改已核验通过"
    guarded_flush(db, "整改通知")
    tasks.close_tasks(db, subject_type="rect_notices", subject_id=notice.id, kind=TASK)
    audit.record(
        db,
        EventType.notice_verified,
        actor=actor,
        obj=notice,
        org_id=notice.org_id,
        details={"report_id": report.id, "opinion": report.decision_reason},
    )
    return notice


def reject(
    db: Session, *, actor: Actor, notice_id: int, reason: str, expected_version: int | None = None
) -> RectificationNotice:
    """The Bureau rejects the report with reasons; the department must report again. The deadline
    stays: a notice rejected after it is escalated by the next sweep."""
    notice = _locked_notice(db, actor, notice_id)
    require(actor, Action.rectification_supervise, notice)
    _expect(notice, expected_version, "整改通知")
    report = _pending_report(db, notice)
    report.verdict, report.decided_by, report.decided_at = "rejected", actor.user_id, utcnow()
    report.decision_reason = text_of(reason, "reason", "退回理由", 2000)
    notice.status = "escalated" if notice.escalated_at is not None else "returned"
    guarded_flush(db, "整改通知")
    _department_task(db, notice, f"整改报告被退回，请重新整改并报送：{notice.number}")
    audit.record(
        db,
        EventType.notice_rejected,
        actor=actor,
        obj=notice,
        org_id=notice.org_id,
        details={"report_id": report.id, "reason": report.decision_reason},
    )
    return notice


def attachment_of(db: Session, *, actor: Actor, report_id: int) -> RectificationReport:
    report = get_visible(db, RectificationReport, report_id, actor=actor, label="整改报告")
    if report.file_content is None:
        raise NotFound("该整改报告没有附件。", "No attachment.")
    return report


def actions_for(actor: Actor, notice: RectificationNotice) -> set[str]:
    """What `actor` may do to the notice now (the page shows only these forms; services check again)."""
    done: set[str] = set()
    if notice.status in AWAITING_REPORT and allowed(actor, Action.rectification_report, notice):
        done.add("report")
    if notice.status == "reported" and allowed(actor, Action.rectification_supervise, notice):
        done |= {"verify", "reject"}
    return done


def recompute_due_dates(db: Session, calendar: Calendar, year: int) -> int:
    """When the Bureau loads a year's holidays: provisional deadlines of notices still awaiting a
    report are counted again (calendar's `on_schedule_loaded` hook)."""
    changed = 0
    for notice in db.scalars(
        select(RectificationNotice).where(
            RectificationNotice.due_provisional.is_(True),
            RectificationNotice.status.in_((*AWAITING_REPORT, "reported")),
        )
    ):
        due = calendar.add_working_days(notice.issued_on, notice.working_days)
        notice.due_date, notice.due_provisional = due.day, due.provisional
        changed += 1
    db.flush()
    return changed


calendar_service.on_schedule_loaded.append(recompute_due_dates)


# --- summary -------------------------------------------------------------------------------------


def summary(db: Session, *, org_id: int | None = None, on: date | None = None) -> list[dict[str, Any]]:
    """Per department (or one): open violations and notices open / overdue / escalated / verified.

    For the supervision dashboard; it checks no permission — the caller shows it only to those who
    may see rectification (`rectification.view`), narrowed to their own department where needed."""
    on = on or today()
    rows: dict[int, dict[str, Any]] = {
        org.id: {
            "org_id": org.id,
            "name": org.name,
            "open_violations": 0,
            "notices_open": 0,
            "notices_overdue": 0,
            "notices_escalated": 0,
            "notices_verified": 0,
        }
        for org in departments(db)
        if org_id is None or org.id == org_id
    }
    for oid, n in db.execute(
        select(Violation.org_id, func.count())
        .where(Violation.status.in_(("open", "noticed")))
        .group_by(Violation.org_id)
    ):
        if oid in rows:
            rows[oid]["open_violations"] = int(n)
    for notice in db.execute(
        select(
            RectificationNotice.org_id,
            RectificationNotice.status,
            RectificationNotice.due_date,
            RectificationNotice.escalated_at,
        )
    ):
        row = rows.get(notice.org_id)
        if row is None:
            continue
        if notice.status == "verified":
            row["notices_verified"] += 1
        else:
            row["notices_open"] += 1
            if notice.status != "reported" and notice.due_date < on:
                row["notices_overdue"] += 1
        if notice.escalated_at is not None:
            row["notices_escalated"] += 1
    return list(rows.values())
