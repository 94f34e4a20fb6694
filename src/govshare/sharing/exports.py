"""Exports of shared data out of the platform, only with the Bureau's approval (S27), and tracing a
leaked file back to its recipient.

A department asks to download rows of a resource in bulk, as CSV or xlsx, under its grant for a
purpose and with a reason. The Bureau approves or rejects it. Once approved, the department may
download it up to `MAX_DOWNLOADS` times within `GOVSHARE_EXPORT_VALID_DAYS` days, and only while its
grant is still active. The file holds the grant's items, row scope and masking, like the data API.

Every row's `_row_id` in the file is the row's store key encrypted with SM4 under a key of its own
for this export. That column is the file's fingerprint. `trace_leak` reads any CSV or xlsx copy, even
a few rows of one, and finds the export whose key turns those identifiers back into rows that exist:
that export names the department, the person who downloaded it and when.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, allowed, require
from govshare.catalog.models import Resource
from govshare.classification import scheme as classification
from govshare.crypto import sm3_hex
from govshare.db import utcnow
from govshare.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.exchange import store
from govshare.exchange.access import published_items
from govshare.settings import get_settings
from govshare.sharing import rowids, rows
from govshare.sharing.models import DataExport, Grant
from govshare.sharing.service import bureau_task, by_side, clean_text, record_use
from govshare.tasks import service as tasks

MAX_DOWNLOADS = 3
STATUS = {
    "pending": "待市数据局审批",
    "approved": "已批准",
    "rejected": "未批准",
    "expired": "已过期",
    "destroyed": "数据已销毁",  # the resource's data was destroyed (govshare.destruction)
}
_ROW_ID = re.compile(r"[0-9a-f]{64}")


def request_export(
    db: Session,
    *,
    actor: Actor,
    resource_id: int,
    purpose: str,
    reason: str,
    format: str = "csv",
    filters: dict[str, list[str]] | None = None,
    fields: list[str] | None = None,
) -> DataExport:
    """Ask the Bureau for a bulk export under the department's grant for `purpose`."""
    require(actor, Action.sharing_request)
    if format not in ("csv", "xlsx"):
        raise Invalid("导出格式应为 csv 或 xlsx。", "Unknown format.", details={"field": "format"})
    purpose = " ".join(purpose.split())
    query = [(name, str(v)) for name, values in (filters or {}).items() for v in values]
    # The same checks as a data API call: grant for the purpose, granted items and filters only.
    reading = rows.reading_for(
        db,
        actor=actor,
        resource_id=resource_id,
        purpose=purpose,
        fields=",".join(fields or []) or None,
        channel="export",
    )
    rows.parse_filters(query, reading.granted)
    # Classification (S13): a level that may not be exported refuses the request outright.
    classification.exportable(classification.load(db), [reading.granted[c] for c in reading.columns])
    assert actor.org_id is not None
    export = DataExport(
        resource_id=reading.resource.id,
        org_id=actor.org_id,
        grant_id=reading.grant.id,
        requested_by=actor.user_id,
        purpose=purpose,
        reason=clean_text(reason, "reason", "导出理由"),
        format=format,
        filters=[[name, value] for name, value in query],
        fields=fields or None,
        status="pending",
    )
    db.add(export)
    db.flush()
    bureau_task(
        db,
        kind="export_request",
        title=f"数据导出待审批：{reading.resource.name}",
        link=f"/sharing/exports/{export.id}",
        subject_type="data_exports",
        subject_id=export.id,
    )
    audit.record(
        db,
        EventType.export_requested,
        actor=actor,
        obj=export,
        details={
            "resource_id": export.resource_id,
            "purpose": purpose,
            "format": format,
            "filters": export.filters,
        },
    )
    return export


def get_export(db: Session, *, actor: Actor, export_id: int) -> DataExport:
    require(actor, Action.sharing_view)
    export = db.get(DataExport, export_id)
    if export is None or not (actor.org_id == export.org_id or allowed(actor, Action.sharing_supervise)):
        raise NotFound("找不到该导出申请。", f"Export #{export_id} not found.")
    return export


def decide_export(db: Session, *, actor: Actor, export_id: int, approve: bool, reason: str) -> DataExport:
    """The Bureau approves (downloadable for `GOVSHARE_EXPORT_VALID_DAYS` days) or rejects."""
    export = get_export(db, actor=actor, export_id=export_id)
    require(actor, Action.export_approve)
    if export.status != "pending":
        raise Conflict(f"该导出申请{STATUS[export.status]}，不能重复审批。", "The export is not pending.")
    export.decision_reason = clean_text(reason, "reason", "审批意见")
    export.decided_at, export.decided_by = utcnow(), actor.user_id
    if approve:
        # The scheme may have changed since the request: the approval checks the levels again.
        resource = db.get(Resource, export.resource_id)
        grant = _grant_in_force(db, export)
        assert resource is not None
        names = set(export.fields or grant.items)
        classification.exportable(
            classification.load(db), [i for i in published_items(db, resource) if i["name"] in names]
        )
        export.status = "approved"
        export.expires_at = export.decided_at + timedelta(days=get_settings().export_valid_days)
    else:
        export.status = "rejected"
    db.flush()
    tasks.close_tasks(db, subject_type="data_exports", subject_id=export.id, kind="export_request")
    audit.record(
        db,
        EventType.export_decided,
        actor=actor,
        obj=export,
        org_id=export.org_id,
        details={"approved": approve, "reason": export.decision_reason},
    )
    return export


def _grant_in_force(db: Session, export: DataExport) -> Grant:
    """The grant the export was asked for under, refused unless it is active and valid now: an
    export carries what that grant allows, never what a later grant for the same purpose does."""
    grant = db.get(Grant, export.grant_id)
    if grant is None or not grant.in_force(utcnow()):
        raise _grant_gone(export)
    return grant


def _grant_gone(export: DataExport) -> Conflict:
    return Conflict(
        f"该导出所依据的授权（第 {export.grant_id} 号）已暂停、撤销或过期，不能审批或下载。"
        "授权恢复后可继续；否则请在新的授权下重新提出导出申请。",
        "The export's grant is not in force.",
        details={"grant_id": export.grant_id},
    )


@dataclass
class ExportFile:
    export: DataExport
    filename: str
    media_type: str
    content: bytes


def download(db: Session, *, actor: Actor, export_id: int) -> ExportFile:
    """The approved export's file, generated now under the still-active grant, fingerprinted for
    this export; audited with its row count and SM3."""
    export = get_export(db, actor=actor, export_id=export_id)
    if actor.org_id != export.org_id:
        raise Forbidden("只有申请导出的部门可以下载。", "Only the requesting department downloads.")
    if export.status != "approved":
        raise Conflict(f"该导出申请{STATUS[export.status]}，不能下载。", "The export is not approved.")
    assert export.expires_at is not None
    if utcnow() >= export.expires_at or export.downloads >= MAX_DOWNLOADS:
        export.status = "expired"
        db.flush()
        raise Conflict(
            f"该导出已过期或已下载 {MAX_DOWNLOADS} 次；如仍需要，请重新提出导出申请。",
            "The export expired.",
            keep_changes=True,
        )
    grant = _grant_in_force(db, export)
    reading = rows.reading_for(
        db,
        actor=actor,
        resource_id=export.resource_id,
        purpose=export.purpose,
        fields=",".join(export.fields or []) or None,
        channel="export",
    )
    if reading.grant.id != grant.id:  # (a department holds one active grant per resource and purpose)
        raise _grant_gone(export)
    # The data leaves now: the scheme may have made an item's level unexportable since the approval.
    classification.exportable(classification.load(db), [reading.granted[c] for c in reading.columns])
    query = [(name, value) for name, value in export.filters]
    header = ["_row_id", *reading.columns]
    fingerprint = rowids.RowIds(export.org_id, export_id=export.id)
    records = (
        [fingerprint.many([key])[0], *(values[c] for c in reading.columns)]
        for key, values in rows.export_rows(db, reading, query)
    )
    count, content = (_xlsx if export.format == "xlsx" else _csv)(header, records)
    export.downloads += 1
    export.rows, export.file_sm3 = count, sm3_hex(content)
    db.flush()
    record_use(
        db,
        actor=actor,
        resource_id=export.resource_id,
        purpose=export.purpose,
        channel="export",
        grant=reading.grant,
        rows=count,
    )
    audit.record(
        db,
        EventType.export_downloaded,
        actor=actor,
        obj=export,
        details={
            "rows": count,
            "sm3": export.file_sm3,
            "download": export.downloads,
            "grant_id": reading.grant.id,
        },
    )
    stamp = utcnow().strftime("%Y%m%d")
    name = f"export-{export.id}-{stamp}.{export.format}"
    media = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if export.format == "xlsx"
        else "text/csv; charset=utf-8"
    )
    return ExportFile(export, name, media, content)


def _csv(header: list[str], records: Iterator[list[Any]]) -> tuple[int, bytes]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    count = 0
    for record in records:
        writer.writerow(["" if v is None else v for v in record])
        count += 1
    return count, ("\ufeff" + out.getvalue()).encode()


def _xlsx(header: list[str], records: Iterator[list[Any]]) -> tuple[int, bytes]:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("数据")
    sheet.append(header)
    count = 0
    for record in records:
        sheet.append(record)
        count += 1
    out = io.BytesIO()
    book.save(out)
    return count, out.getvalue()


def list_exports(
    db: Session, *, actor: Actor, side: str, limit: int = 50, offset: int = 0
) -> tuple[list[DataExport], int]:
    """The actor's department's exports (`mine`), or all (Bureau)."""
    return by_side(db, DataExport, actor=actor, side=side, limit=limit, offset=offset, provider_side="")


def export_dict(export: DataExport) -> dict[str, Any]:
    return {
        "id": export.id,
        "resource_id": export.resource_id,
        "org_id": export.org_id,
        "grant_id": export.grant_id,
        "purpose": export.purpose,
        "reason": export.reason,
        "format": export.format,
        "filters": export.filters,
        "fields": export.fields,
        "status": export.status,
        "status_label": STATUS[export.status],
        "requested_at": export.requested_at.isoformat(),
        "decided_at": export.decided_at.isoformat() if export.decided_at else None,
        "decision_reason": export.decision_reason,
        "expires_at": export.expires_at.isoformat() if export.expires_at else None,
        "downloads": export.downloads,
        "max_downloads": MAX_DOWNLOADS,
        "rows": export.rows,
        "file_sm3": export.file_sm3,
    }


# --- tracing a leaked file -----------------------------------------------------------------------


@dataclass(frozen=True)
class Trace:
    export: DataExport
    matched: int
    looked_at: int


def identifiers_in(path: Path) -> list[str]:
    """The row identifiers in a CSV or xlsx file: every cell that looks like one, whatever its column
    (a copy may have lost its header or reordered its columns)."""
    found: list[str] = []
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        cells: Iterator[Any] = (
            c for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row
        )
    else:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
        cells = (c for row in csv.reader(io.StringIO(text)) for c in row)
    for cell in cells:
        value = str(cell).strip().lower() if cell is not None else ""
        if _ROW_ID.fullmatch(value):
            found.append(value)
    return found


def trace_leak(db: Session, *, actor: Actor, path: Path, sample: int = 50) -> tuple[list[Trace], int]:
    """The exports whose fingerprint the file carries, best match first, and how many identifiers it
    holds. An identifier opens, under its own export's key only, to a store key that exists."""
    require(actor, Action.audit_read)
    identifiers = identifiers_in(path)
    if not identifiers:
        return [], 0
    picked = identifiers[:: max(1, len(identifiers) // sample)][:sample]
    traces = []
    for export in db.scalars(
        select(DataExport).where(DataExport.downloads > 0).order_by(DataExport.id.desc())
    ):
        resource = db.get(Resource, export.resource_id)
        if resource is None or not store.exists(db, resource.id):
            continue
        table = store.table_for(db, resource.id, [])
        keys = [rowids.row_key(export.org_id, i, export_id=export.id) for i in picked]
        matched = int(
            db.scalar(select(func.count()).select_from(table).where(table.c._key.in_([k for k in keys if k])))
            or 0
        )
        if matched:
            traces.append(Trace(export, matched, len(picked)))
    traces.sort(key=lambda t: -t.matched)
    audit.record(
        db,
        EventType.leak_traced,
        actor=actor,
        object_type="data_exports",
        object_id=traces[0].export.id if traces else None,
        details={
            "file": path.name,
            "identifiers": len(identifiers),
            "matches": [{"export_id": t.export.id, "matched": t.matched} for t in traces[:5]],
        },
    )
    return traces, len(identifiers)


def describe(db: Session, trace: Trace) -> dict[str, Any]:
    from govshare.orgs.models import Organisation
    from govshare.users.models import User

    export = trace.export
    org = db.get(Organisation, export.org_id)
    user = db.get(User, export.requested_by) if export.requested_by else None
    resource = db.get(Resource, export.resource_id)
    return {
        "export_id": export.id,
        "department": org.name if org else str(export.org_id),
        "requested_by": f"{user.display_name}（{user.username}）" if user is not None else None,
        "resource": resource.name if resource else str(export.resource_id),
        "purpose": export.purpose,
        "decided_at": export.decided_at.isoformat() if export.decided_at else None,
        "downloads": export.downloads,
        "matched": trace.matched,
        "looked_at": trace.looked_at,
    }
