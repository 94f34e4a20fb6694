"""The periodic public report (公示, M23): each month and each quarter, once the period is over, the
indicators of every department are frozen into a report published on the public portal, as a page,
a PDF (Chinese font embedded) and a CSV. A published report is never regenerated or edited: the
archive shows what was published, with the SM3 of each file.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.crypto import sm3_hex
from govshare.db import utcnow
from govshare.errors import Conflict, Invalid, NotFound
from govshare.pagination import PageParams, paginate
from govshare.supervision import indicators, pdf
from govshare.supervision.models import PublicReport
from govshare.supervision.periods import Period
from govshare.workdays import today

CITY = "石家庄市"
INTRO = (
    "根据《石家庄市政务数据共享管理规定》第二十二条、第二十三条，市数据资源管理局依托市级政务数据交换、"
    "开放和共享平台，对各部门政务数据资源目录编制、数据挂接与更新、共享申请答复、数据质量、异议处理和数据使用"
    "情况进行监测分析，现将本期情况予以公示。本报告所有数字均由平台依据业务记录自动统计生成，生成后不再修改。"
)
NOTES = [
    "1. 已编制目录、已发布目录、挂接率、按时更新率、未答复异议按统计期末状态统计；"
    "其余指标统计统计期内发生的业务。",
    "2. 挂接率＝已挂接数据（库表类已有合格数据批次、文件类已上传文件、接口类已登记服务）的已发布目录数"
    "÷已发布目录数。",
    "3. 按时更新率＝在更新周期内有合格数据更新的库表类资源数÷有固定更新周期的已发布库表类资源数。",
    "4. 按时答复率＝按期答复的有条件共享申请数÷（期内答复的申请数＋期内到期未答复的申请数）；"
    "平均答复用时按工作日计算，不含申请当日。",
    "5. 质量合格率＝期内入库合格数据条数÷期内接收数据条数。“—”表示本期无相应业务。",
]


@dataclass(frozen=True)
class Generated:
    report: PublicReport
    created: bool


def title_for(period: Period) -> str:
    kind = "季度" if period.kind == "quarter" else "月度"
    return f"{CITY}政务数据共享情况{kind}公示（{period.label}）"


def _figures(city: indicators.CityIndicators) -> dict[str, Any]:
    keys = [key for key, _label, _unit in indicators.COLUMNS]
    departments = [
        {"org_id": d.org_id, "name": d.name, "short_name": d.short_name, **{k: d.as_dict()[k] for k in keys}}
        for d in city.departments
    ]
    total = city.total.as_dict()
    return {
        "period": city.period.code,
        "as_of": city.as_of.isoformat(),
        "columns": [{"key": k, "label": label, "unit": unit} for k, label, unit in indicators.COLUMNS],
        "departments": departments,
        "total": {k: total[k] for k in keys},
    }


def render_csv(data: dict[str, Any]) -> bytes:
    """UTF-8 with a byte-order mark, so that spreadsheet programs in China open it as Chinese."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns = data["columns"]
    writer.writerow(["部门", *(f"{c['label']}（{c['unit']}）" for c in columns)])
    for row in [*data["departments"], {"name": "全市合计", **data["total"]}]:
        writer.writerow([row["name"], *("" if row[c["key"]] is None else row[c["key"]] for c in columns)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def render_pdf(title: str, period: Period, generated_at: datetime, data: dict[str, Any]) -> bytes:
    last = date.fromordinal(period.end.toordinal() - 1)
    return pdf.render(
        title=title,
        period_text=f"{period.start.isoformat()} 至 {last.isoformat()}",
        generated_at=generated_at,
        intro=INTRO,
        columns=[(c["key"], c["label"], c["unit"]) for c in data["columns"]],
        departments=data["departments"],
        total=data["total"],
        notes=NOTES,
    )


def generate(
    db: Session, *, actor: Actor, period: Period, source: str = "manual", on: date | None = None
) -> Generated:
    """Freeze and publish the report of a finished `period`; an existing one is returned unchanged."""
    if actor.kind != "operator":
        require(actor, Action.report_publish)
    if not period.complete(on):
        raise Invalid(
            f"{period.label}尚未结束，统计期结束后才能生成公示报告。",
            "The period is not over yet.",
            details={"field": "period"},
        )
    existing = db.scalar(
        select(PublicReport).where(PublicReport.kind == period.kind, PublicReport.period == period.code)
    )
    if existing is not None:
        return Generated(existing, False)
    generated_at = utcnow()
    data = _figures(indicators.compute(db, period))
    title = title_for(period)
    pdf_bytes = render_pdf(title, period, generated_at, data)
    csv_bytes = render_csv(data)
    report = PublicReport(
        kind=period.kind,
        period=period.code,
        title=title,
        period_start=period.start,
        period_end=period.end,
        data=data,
        pdf=pdf_bytes,
        pdf_sm3=sm3_hex(pdf_bytes),
        csv=csv_bytes,
        csv_sm3=sm3_hex(csv_bytes),
        generated_at=generated_at,
        generated_by=actor.user_id,
        source=source,
    )
    try:
        with db.begin_nested():
            db.add(report)
            db.flush()
    except IntegrityError as exc:  # another instance published the same period meanwhile
        raise Conflict(f"{period.label}的公示报告已由其他进程生成。", "Report already generated.") from exc
    audit.record(
        db,
        EventType.report_published,
        actor=actor,
        obj=report,
        details={
            "period": period.code,
            "kind": period.kind,
            "pdf_sm3": report.pdf_sm3,
            "csv_sm3": report.csv_sm3,
        },
    )
    return Generated(report, True)


def due_periods(on: date | None = None) -> list[Period]:
    """The last finished month and quarter on `on`: what the job publishes when missing."""
    on = on or today()
    return [Period.containing(on, "month").previous(), Period.containing(on, "quarter").previous()]


def publish_due(db: Session, *, on: date | None = None) -> list[PublicReport]:
    """The job's work: publish the last finished month's and quarter's reports if not yet there."""
    actor = Actor.operator("supervision.publish_reports")
    return [
        g.report
        for p in due_periods(on)
        if (g := generate(db, actor=actor, period=p, source="job", on=on)).created
    ]


def published(db: Session, params: PageParams, kind: str | None = None) -> tuple[list[PublicReport], int]:
    """Published reports, newest period first (public)."""
    stmt = select(PublicReport).order_by(PublicReport.period_start.desc(), PublicReport.kind)
    if kind:
        stmt = stmt.where(PublicReport.kind == kind)
    return paginate(db, stmt, params)


def get(db: Session, report_id: int) -> PublicReport:
    report = db.get(PublicReport, report_id)
    if report is None:
        raise NotFound("没有这份公示报告。", "No such report.")
    return report
