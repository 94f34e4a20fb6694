"""Bulk compile and exchange (issue 3 item 8): the .xlsx template, importing a filled one, and
exporting the catalog as .xlsx in the same layout (`workbook` holds the sheets' layout).

An import is all or nothing: every row is read and every entry validated by the same rules as
`service.create_resource` (each in a savepoint of its own, so one refused entry does not hide the
next one's problems), every problem is reported with its sheet, row and column, and unless there is
none the savepoint around the whole import is rolled back. Exports are deliveries of metadata and
are audited (`catalog.exported`), like the import (`catalog.imported`, besides the service's
`catalog.created` per entry).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import IO, Any

from openpyxl import Workbook
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.catalog import disclosure, present, service
from govshare.catalog.models import CatalogClass, Resource, ResourceVersion
from govshare.catalog.schemas import MAX_ITEMS, ResourceCreate
from govshare.catalog.search import Filters, search
from govshare.catalog.vocab import ClassKind, EntryStatus, Labelled
from govshare.catalog.workbook import (
    CHOICE_SEPARATOR,
    ENTRY_COLUMNS,
    ENTRY_SHEET,
    EXPORT_ENTRY_COLUMNS,
    EXPORT_ITEM_COLUMNS,
    ITEM_COLUMNS,
    ITEM_SHEET,
    MAX_ENTRIES,
    MAX_ITEM_ROWS,
    NO,
    YES,
    Column,
    Row,
    cell_text,
    cell_value,
    class_sheet,
    data_sheet,
    help_sheet,
    read_upload,
    read_workbook,
    row_cells,
    save,
)
from govshare.crypto import sm3_hex
from govshare.errors import Invalid, NotFound
from govshare.orgs.models import Organisation
from govshare.pagination import MAX_PAGE_SIZE, PageParams
from govshare.workdays import BEIJING


def usable_classes(db: Session, actor: Actor) -> list[CatalogClass]:
    """Active sub-classes the actor's department may file entries under (no lead, or it leads)."""
    stmt = (
        select(CatalogClass)
        .where(CatalogClass.parent_id.is_not(None), CatalogClass.is_active.is_(True))
        .order_by(CatalogClass.code)
    )
    return [c for c in db.scalars(stmt) if c.lead_org_id is None or c.lead_org_id == actor.org_id]


def _class_rows(db: Session, classes: list[CatalogClass]) -> list[tuple[str, str, str, str]]:
    leads = {o.id: o.name for o in db.scalars(select(Organisation))}
    rows = []
    for cls in classes:
        kind = ClassKind(cls.kind)
        if kind is ClassKind.department:
            note = "本单位的部门信息资源"
        elif cls.lead_org_id is not None:
            note = f"牵头部门：{leads.get(cls.lead_org_id, '')}"
        else:
            note = "各部门均可编目"
        if kind is ClassKind.base:
            note += "；只能无条件共享"
        rows.append((cls.code, cls.name, kind.label, note))
    return rows


def template(db: Session, *, actor: Actor) -> bytes:
    """The empty template for the actor's department (sheets 目录, 信息项, 说明, 分类)."""
    require(actor, Action.catalog_view)
    classes = usable_classes(db, actor)
    wb = Workbook(write_only=True)
    data_sheet(wb, ENTRY_SHEET, ENTRY_COLUMNS, MAX_ENTRIES, len(classes))
    data_sheet(wb, ITEM_SHEET, ITEM_COLUMNS, MAX_ITEM_ROWS, 0)
    help_sheet(wb, export=False)
    class_sheet(wb, _class_rows(db, classes))
    return save(wb)


# --- export --------------------------------------------------------------------------------------


def visible_entries(
    db: Session, *, actor: Actor, filters: Filters, published_only: bool = False
) -> Iterator[tuple[Resource, ResourceVersion]]:
    """Every entry `actor` sees under `filters`, page after page, with the version to show (the
    published one when `published_only`, else the one the lists show)."""
    page = 1
    while True:
        rows = search(
            db,
            actor=actor,
            filters=filters,
            params=PageParams(page=page, page_size=MAX_PAGE_SIZE),
            facets=False,
        ).rows
        wanted = {
            r.id: (
                r.published_version_id if published_only else r.published_version_id or r.working_version_id
            )
            for r in rows
        }
        ids = [v for v in wanted.values() if v is not None]
        versions = {v.id: v for v in db.scalars(select(ResourceVersion).where(ResourceVersion.id.in_(ids)))}
        for resource in rows:
            version_id = wanted[resource.id]
            if version_id is not None:
                yield resource, versions[version_id]
        if len(rows) < MAX_PAGE_SIZE:
            return
        page += 1


def _beijing_date(value: datetime | None) -> date | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(BEIJING).date()


def _label(vocab: type[Labelled], value: str | None) -> str | None:
    return vocab(value).label if value else None


def _entry_row(column: Column, version: ResourceVersion, lookup: present.Lookup) -> Any:
    if column.field == "category":
        return lookup.cls(version.class_id).code
    value = getattr(version, column.field)
    return _label(column.vocab, value) if column.vocab is not None else value


def _item_row(column: Column, item: dict[str, Any]) -> Any:
    value = item.get(column.field)
    if column.flag:
        return YES if value else NO
    return _label(column.vocab, value) if column.vocab is not None else value


def filters_used(filters: Filters) -> dict[str, str]:
    """The filters an export applied, for its audit record."""
    return {k: str(v) for k, v in asdict(filters).items() if v is not None and v != ""}


def export_xlsx(db: Session, *, actor: Actor, filters: Filters) -> tuple[bytes, int]:
    """The visible catalog in the template's layout (plus 代码, 提供方, 状态, 版本, 发布日期);
    returns the file and the number of entries. Audited as a delivery of metadata."""
    require(actor, Action.catalog_view)
    classes = usable_classes(db, actor)
    wb = Workbook(write_only=True)
    entries = data_sheet(wb, ENTRY_SHEET, ENTRY_COLUMNS + EXPORT_ENTRY_COLUMNS, MAX_ENTRIES, len(classes))
    items = data_sheet(wb, ITEM_SHEET, ITEM_COLUMNS + EXPORT_ITEM_COLUMNS, MAX_ITEM_ROWS, 0)
    lookup = present.Lookup(db)
    viewer = disclosure.Viewer(db, actor)
    count = hidden = 0
    for resource, version in visible_entries(db, actor=actor, filters=filters):
        count += 1
        shown = viewer.of(resource).shown(version.items)
        hidden += shown.hidden
        row = [_entry_row(c, version, lookup) for c in ENTRY_COLUMNS]
        row += [
            resource.code,
            lookup.org(resource.org_id).name,
            EntryStatus(resource.status).label,
            version.number,
            _beijing_date(resource.published_at),
        ]
        entries.append(row_cells(entries, row))
        for item in shown.items:
            values = [version.name, *(_item_row(c, item) for c in ITEM_COLUMNS[1:]), resource.code]
            items.append(row_cells(items, values))
    help_sheet(wb, export=True)
    class_sheet(wb, _class_rows(db, classes))
    audit.record(
        db,
        EventType.catalog_exported,
        actor=actor,
        object_type="resources",
        details={
            "format": "xlsx",
            "count": count,
            "filters": filters_used(filters),
            **({"hidden_items": hidden} if hidden else {}),
        },
    )
    return save(wb), count


# --- import --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem of an imported file, where the department has to fix it."""

    sheet: str
    row: int
    column: str | None
    message: str

    def __str__(self) -> str:
        column = f"「{self.column}」" if self.column else ""
        return f"{self.sheet} 第 {self.row} 行{column}：{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "message": self.message}


@dataclass
class _Entry:
    row: int
    data: dict[str, Any]
    item_rows: list[int]  # the 信息项 row of each of `data["items"]`, in order
    duplicate: bool = False  # its name is taken by an earlier row: its items went there


_ENTRY_BY_FIELD = {c.field: c for c in ENTRY_COLUMNS}
_ITEM_BY_FIELD = {c.field: c for c in ITEM_COLUMNS if c.field}
# The save rules name an item by its position in the entry ("第 2 个信息项（姓名）…").
_ITEM_POSITION = re.compile(r"^第 (\d+) 个信息项")


def _collect(rows: list[Row], item_rows: list[Row], errors: list[RowError]) -> list[_Entry]:
    """Entries with their items attached by 信息资源名称."""
    entries: list[_Entry] = []
    by_name: dict[str, _Entry] = {}
    for row in rows:
        data = {c.field: v for c in ENTRY_COLUMNS if (v := cell_value(c, row.cells[c.header])) is not None}
        entry = _Entry(row.number, {**data, "items": []}, [])
        entries.append(entry)
        name = data.get("name")
        if name in by_name:
            entry.duplicate = True
            errors.append(
                RowError(
                    ENTRY_SHEET,
                    row.number,
                    "信息资源名称",
                    f"与第 {by_name[name].row} 行重名。同一文件中的条目不能重名"
                    "（「信息项」工作表按名称对应条目）。",
                )
            )
        elif name:
            by_name[name] = entry
    link = ITEM_COLUMNS[0].header
    for row in item_rows:
        name = cell_text(row.cells[link])
        owner = by_name.get(name) if name else None
        if owner is None:
            problem = (
                f"「目录」工作表中没有名为“{name}”的条目，请核对名称（须与「目录」中的信息资源名称完全一致）。"
                if name
                else "必填：请填写该信息项所属条目的信息资源名称。"
            )
            errors.append(RowError(ITEM_SHEET, row.number, link, problem))
            continue
        item = {c.field: v for c in ITEM_COLUMNS[1:] if (v := cell_value(c, row.cells[c.header])) is not None}
        owner.data["items"].append(item)
        owner.item_rows.append(row.number)
    return entries


def _problem(error: ErrorDetails, column: Column | None) -> str:
    """What is wrong with one cell, in words a person filling a spreadsheet understands."""
    kind, ctx, raw = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return "必填，不能为空。"
    if kind == "string_too_short":
        return f"至少要填 {ctx.get('min_length')} 个字。"
    if kind == "string_too_long":
        return f"不能超过 {ctx.get('max_length')} 个字（现有 {len(str(raw))} 个）。"
    if kind == "string_pattern_mismatch":
        return (
            f"“{raw}”不符合要求：须以小写英文字母开头，只含小写字母、数字和下划线，最长 63 位，如 id_number。"
        )
    if kind == "enum" and column is not None and column.vocab is not None:
        labels = CHOICE_SEPARATOR.join(m.label for m in column.vocab)
        return f"“{raw}”不是可选值，请从下拉列表中选择（{labels}）。"
    if kind == "bool_parsing":
        return f"“{raw}”无法识别，请填写“是”或“否”。"
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"“{raw}”不是整数，请填写整数。"
    if kind == "greater_than_equal":
        return f"不能小于 {ctx.get('ge')}。"
    if kind == "less_than_equal":
        return f"不能大于 {ctx.get('le')}。"
    if kind == "too_long":
        return f"一个条目最多 {MAX_ITEMS} 个信息项。"
    return "取值不正确，请按列名上的说明填写。"


def _schema_errors(exc: ValidationError, entry: _Entry) -> list[RowError]:
    errors = []
    for error in exc.errors():
        loc = error["loc"]
        if len(loc) >= 3 and loc[0] == "items" and isinstance(loc[1], int):
            column = _ITEM_BY_FIELD.get(str(loc[2]))
            where = (ITEM_SHEET, entry.item_rows[loc[1]])
        else:
            column = _ENTRY_BY_FIELD.get(str(loc[0])) if loc else None
            where = (ENTRY_SHEET, entry.row)
        errors.append(RowError(*where, column.header if column else None, _problem(error, column)))
    return errors


def _rule_error(exc: Invalid, entry: _Entry) -> RowError:
    field = exc.details.get("field") if isinstance(exc.details, dict) else None
    if field == "items":
        position = _ITEM_POSITION.match(exc.message)
        if position and 1 <= int(position.group(1)) <= len(entry.item_rows):
            return RowError(ITEM_SHEET, entry.item_rows[int(position.group(1)) - 1], None, exc.message)
    column = _ENTRY_BY_FIELD.get(str(field))
    return RowError(ENTRY_SHEET, entry.row, column.header if column else None, exc.message)


def _existing_names(db: Session, org_id: int, entries: list[_Entry], errors: list[RowError]) -> None:
    """Refuse names the department already uses: importing the same file twice must not double it."""
    names = {e.data["name"]: e for e in entries if isinstance(e.data.get("name"), str)}
    taken = db.execute(
        select(Resource.name, Resource.code).where(
            Resource.org_id == org_id,
            Resource.status != EntryStatus.retired.value,
            Resource.name.in_(list(names)),
        )
    )
    for name, code in taken:
        errors.append(
            RowError(
                ENTRY_SHEET,
                names[name].row,
                "信息资源名称",
                f"本单位目录中已有“{name}”（{code}）。批量导入只新建条目：修改已有条目请在条目页面操作，"
                "新条目请换一个名称。",
            )
        )


def _importing_org(db: Session, actor: Actor) -> Organisation:
    require(actor, Action.catalog_compile)
    org = db.get(Organisation, actor.org_id) if actor.org_id is not None else None
    if org is None:
        raise NotFound("导入的条目归属本人所在单位，您的账号没有所属单位。", "The actor has no organisation.")
    require(actor, Action.catalog_compile, org)
    return org


def import_workbook(db: Session, *, actor: Actor, source: IO[bytes], filename: str | None) -> list[Resource]:
    """Create a draft of the actor's department for every entry of a filled template, or none.

    Raises Forbidden (the actor does not compile), TooLarge (over MAX_UPLOAD_BYTES, read no further),
    Invalid with `details.field == "file"` (not a readable .xlsx of the template, over the limits), or
    Invalid with `details.errors` — every problem as {sheet, row, column, message} — in which case
    nothing was created. The service audits each entry; the import is audited once with its count.
    """
    org = _importing_org(db, actor)
    data = read_upload(source, filename)
    entry_rows, item_rows = read_workbook(data)
    errors: list[RowError] = []
    entries = _collect(entry_rows, item_rows, errors)
    _existing_names(db, org.id, entries, errors)
    created: list[Resource] = []
    with db.begin_nested():  # rolled back as a whole when anything is wrong
        for entry in entries:
            try:
                metadata = ResourceCreate.model_validate(entry.data)
            except ValidationError as exc:
                errors.extend(_schema_errors(exc, entry))
                continue
            if entry.duplicate:
                continue
            try:
                with db.begin_nested():  # the rules refuse an entry after the service flushed part of it
                    created.append(service.create_resource(db, actor=actor, data=metadata))
            except Invalid as exc:
                errors.append(_rule_error(exc, entry))
        if errors:
            order = {ENTRY_SHEET: 0, ITEM_SHEET: 1}
            errors.sort(key=lambda e: (order[e.sheet], e.row))
            raise Invalid(
                f"文件中有 {len(errors)} 处错误，没有导入任何条目。请按下面的清单逐项修改后重新上传。",
                f"{len(errors)} problems in the workbook; nothing was imported.",
                details={"errors": [e.as_dict() for e in errors]},
            )
        audit.record(
            db,
            EventType.catalog_imported,
            actor=actor,
            object_type="resources",
            org_id=org.id,
            details={
                "count": len(created),
                "file_name": filename,
                "file_sm3": sm3_hex(data),
                "codes": [r.code for r in created],
            },
        )
    return created


def row_errors(exc: Invalid) -> list[RowError]:
    """The row-by-row problems an import was refused for (none for a refused file)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    return [RowError(**e) for e in details.get("errors", [])]
