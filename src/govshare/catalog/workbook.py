"""The spreadsheet side of bulk compiling: the template's sheets and columns, writing them, and
reading a filled workbook back into rows without trusting it.

The template's sheet 目录 has one row per entry and 信息项 one row per item, tied to its entry by
信息资源名称; 说明 explains every column and 分类 lists the sub-classes the department may use.
Vocabulary cells are written with their Chinese labels; reading accepts the label or the code. An
export adds read-only columns after the template's, so an exported file can be imported again.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from govshare.catalog.vocab import (
    DataType,
    Importance,
    Labelled,
    LegalBasisKind,
    OpenType,
    ProvisionMethod,
    ResourceFormat,
    Sensitivity,
    SharingType,
    UpdateCycle,
)
from govshare.errors import Invalid, TooLarge

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ENTRIES = 1000
MAX_ITEM_ROWS = 50_000
# A 5 MB workbook legitimately inflates to a few tens of MB of XML; more is a zip bomb.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024

ENTRY_SHEET = "目录"
ITEM_SHEET = "信息项"
HELP_SHEET = "说明"
CLASS_SHEET = "分类"
YES, NO = "是", "否"
# Labels may contain 、 (党中央、国务院政策), so lists of them are separated otherwise.
CHOICE_SEPARATOR = " / "
_TRUE = {"是", "y", "yes", "true", "1", "√"}
_FALSE = {"否", "n", "no", "false", "0", "×"}


@dataclass(frozen=True)
class Column:
    """One column of the template: its header, the schema field it fills and the note on its header."""

    header: str
    field: str  # a `Metadata` / `Item` field; empty for the columns an import only reads or ignores
    note: str
    width: int = 14
    vocab: type[Labelled] | None = None
    flag: bool = False  # a 是/否 column
    required: bool = False
    # Added to the template after departments had filled it in: a file without the column reads as
    # if the column were blank, so their workbooks (and earlier exports) still import.
    may_be_absent: bool = False


ENTRY_COLUMNS = [
    Column(
        "信息资源分类代码",
        "category",
        "必填。小类代码，见「分类」工作表，如 101（人口）。"
        "基础、主题小类有牵头部门的，只有牵头部门能在该小类下编目。",
        required=True,
    ),
    Column(
        "信息资源名称",
        "name",
        "必填，2 至 128 字。同一文件内不能重名，也不能与本单位已有的条目重名；"
        "「信息项」工作表按名称对应条目。",
        28,
        required=True,
    ),
    Column("摘要", "summary", "必填，4 至 2000 字：资源的内容、范围和用途。", 40, required=True),
    Column("格式", "format", "信息资源格式，从下拉列表选择；不填为“数据库”。", 12, ResourceFormat),
    Column("格式说明", "format_detail", "可选，如 CSV、PDF、MySQL 表，最多 64 字。"),
    Column(
        "提供方式",
        "provision_method",
        "库表、接口或文件；不填为“库表”。库表类资源至少要有一个信息项，且至少一个信息项是业务主键。",
        10,
        ProvisionMethod,
    ),
    Column(
        "共享类型",
        "sharing_type",
        "不填为“无条件共享”。基础信息资源只能无条件共享；有条件共享、不予共享须填写共享依据（第十五条）。",
        12,
        SharingType,
    ),
    Column(
        "共享条件", "sharing_condition", "有条件共享时必填：可向哪些部门、为何种用途、共享哪些信息项。", 30
    ),
    Column("不予共享理由", "not_shared_reason", "不予共享时必填，该理由向所有部门展示（第十六条）。", 30),
    Column(
        "依据类型",
        "legal_basis_kind",
        "共享依据的文件类别：法律、行政法规或党中央、国务院政策。",
        14,
        LegalBasisKind,
    ),
    Column(
        "共享依据",
        "legal_basis",
        "有条件共享、不予共享时必填：文件名称（用书名号）和具体条款，如《中华人民共和国户口登记条例》第三条。",
        36,
    ),
    Column("开放类型", "open_type", "不填为“不予开放”。不予共享的资源只能不予开放。", 12, OpenType),
    Column("开放条件", "open_condition", "有条件开放时必填。", 24),
    Column("更新周期", "update_cycle", "不填为“不定期”。", 10, UpdateCycle),
]
ITEM_COLUMNS = [
    Column(
        "信息资源名称",
        "",
        "必填：该信息项所属条目的信息资源名称，须与「目录」工作表中的名称完全一致。",
        28,
        required=True,
    ),
    Column(
        "字段名",
        "name",
        "必填：小写英文字母开头，只含小写字母、数字和下划线，如 id_number；同一条目内不能重复。",
        16,
        required=True,
    ),
    Column("中文名称", "title", "必填，最多 64 字，如 公民身份号码。", 16, required=True),
    Column(
        "数据类型",
        "data_type",
        "必填，从下拉列表选择（也可填类型代码 C、N、Y 等）。字符型C、数值型N、货币型Y 须填写长度。",
        12,
        DataType,
        required=True,
    ),
    Column("长度", "length", "字符型C、数值型N、货币型Y 必填：1 至 65535 的整数。", 8),
    Column(
        "是否主键",
        "is_key",
        "是否业务主键的一部分（用于识别和更新数据行），填是或否。库表类资源至少一个“是”。",
        10,
        flag=True,
    ),
    Column(
        "是否查询项",
        "queryable",
        "使用部门是否按该信息项查询数据（如公民身份号码、行政区划代码），填是或否；"
        "平台为查询项建立索引，按其查询在数据量大时也很快。不填为“否”。",
        10,
        flag=True,
        may_be_absent=True,
    ),
    Column(
        "敏感级别", "sensitivity", "个人信息敏感级别，不填为 L1。L4 高度敏感信息不予共享。", 26, Sensitivity
    ),
    Column(
        "重要程度",
        "importance",
        "数据重要程度（GB/T 43697）：一般数据、重要数据或核心数据，不填为一般数据。"
        "各级别的共享、导出、开放要求见市数据资源管理局的分类分级方案。",
        12,
        Importance,
        may_be_absent=True,
    ),
    Column("数据元编码", "element", "可选：关联的标准数据元编码，如 DE0001（公民身份号码）。", 12),
    Column(
        "是否权威来源",
        "authoritative",
        "本单位是否该数据元的权威来源（一数一源），填是或否；填“是”须同时填写数据元编码。",
        12,
        flag=True,
    ),
    Column("说明", "description", "可选，最多 200 字。", 30),
]
# Columns an export adds after the template's; an import ignores them (each row becomes a new draft).
_EXPORTED = "导出时填写，仅供参考；导入时忽略（每行都作为新条目导入）。"
EXPORT_ENTRY_COLUMNS = [
    Column("代码", "", "信息资源代码。" + _EXPORTED, 14),
    Column("提供方", "", "信息资源提供方。" + _EXPORTED, 20),
    Column("状态", "", "条目状态。" + _EXPORTED, 8),
    Column("版本", "", "所示版本号。" + _EXPORTED, 6),
    Column("发布日期", "", "最近一次审核通过发布的日期（北京时间）。" + _EXPORTED, 12),
]
EXPORT_ITEM_COLUMNS = [Column("代码", "", "所属条目的信息资源代码。" + _EXPORTED, 14)]

HELP_LINES = [
    "政务数据资源目录批量编制模板",
    "",
    "1. 「目录」工作表每行填写一个目录条目；「信息项」工作表每行填写一个信息项，用“信息资源名称”对应到条目。",
    "2. 列名不能修改。带下拉列表的列请从列表中选择，也可以填写平台的代码（如 conditional、C、L2）。"
    "鼠标停在列名上可查看该列的填写要求，也可查看本页下方的列说明。",
    "3. 「分类」工作表列出本单位可以使用的信息资源分类（小类）。",
    f"4. 一次最多导入 {MAX_ENTRIES} 个条目，文件不超过 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB，"
    "只支持 .xlsx 格式。",
    "5. 导入时逐行校验，校验规则与在平台上逐条编目相同。只要有一处错误，整个文件都不会导入；"
    "平台会列出全部错误（工作表、行号和列），改正后重新上传即可。",
    "6. 导入成功的条目是本单位的草稿：登记保密审查后报送市数据资源管理局审核，审核通过后发布。",
    "7. 本单位目录中已有同名条目的，不能再导入；修改已有条目请在条目页面操作。",
    "8. 从平台导出的目录文件与本模板格式相同，可修改后再次导入；"
    "导出文件中的代码、提供方、状态、版本、发布日期列导入时忽略。",
]

# --- writing workbooks ---------------------------------------------------------------------------

_HEADER_FONT = Font(bold=True)
_REQUIRED_FILL = PatternFill("solid", fgColor="FDECEA")
_OPTIONAL_FILL = PatternFill("solid", fgColor="EEF1F4")


def _header_cells(sheet: Any, columns: list[Column]) -> list[WriteOnlyCell]:
    cells = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.font = _HEADER_FONT
        cell.fill = _REQUIRED_FILL if column.required else _OPTIONAL_FILL
        cell.alignment = Alignment(vertical="center")
        note = column.note
        if column.vocab is not None:
            note += "\n可选值：" + CHOICE_SEPARATOR.join(m.label for m in column.vocab)
        comment = Comment(note, "GovShare")
        comment.width, comment.height = 320, 140
        cell.comment = comment
        cells.append(cell)
    return cells


def _dropdown(options: str, cells: str, header: str) -> DataValidation:
    validation = DataValidation(type="list", formula1=options, allow_blank=True, showErrorMessage=True)
    validation.errorTitle = header
    validation.error = f"请从下拉列表中选择「{header}」。"
    validation.add(cells)
    return validation


def data_sheet(wb: Workbook, title: str, columns: list[Column], rows: int, class_rows: int) -> Any:
    """A sheet with a frozen header row, header notes and dropdowns on the data rows 2..rows+1."""
    sheet = wb.create_sheet(title)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        cells = f"{letter}2:{letter}{rows + 1}"
        if column.vocab is not None:
            labels = [m.label for m in column.vocab]
            assert not any("," in label for label in labels), "a list validation is comma-separated"
            sheet.data_validations.append(_dropdown('"' + ",".join(labels) + '"', cells, column.header))
        elif column.flag:
            sheet.data_validations.append(_dropdown(f'"{YES},{NO}"', cells, column.header))
        elif column.field == "category" and class_rows:
            sheet.data_validations.append(
                _dropdown(f"'{CLASS_SHEET}'!$A$2:$A${class_rows + 1}", cells, column.header)
            )
    sheet.append(_header_cells(sheet, columns))
    return sheet


def row_cells(sheet: Any, values: list[Any]) -> list[Any]:
    """Values for `sheet.append`, where text beginning with "=" stays text: openpyxl would store it
    as a formula, and what a department typed must never run in the spreadsheet of whoever exports it."""
    cells = []
    for value in values:
        if isinstance(value, str) and value.startswith("="):
            value = WriteOnlyCell(sheet, value=value)
            value.data_type = "s"
        cells.append(value)
    return cells


def help_sheet(wb: Workbook, export: bool) -> None:
    sheet = wb.create_sheet(HELP_SHEET)
    for letter, width in zip("ABCD", (12, 18, 8, 90), strict=True):
        sheet.column_dimensions[letter].width = width
    for line in HELP_LINES:
        sheet.append(["", line] if line else [])
    sheet.append([])
    header = []
    for title in ("工作表", "列名", "必填", "填写要求"):
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = _HEADER_FONT
        header.append(cell)
    sheet.append(header)
    for title, columns in (
        (ENTRY_SHEET, ENTRY_COLUMNS + (EXPORT_ENTRY_COLUMNS if export else [])),
        (ITEM_SHEET, ITEM_COLUMNS + (EXPORT_ITEM_COLUMNS if export else [])),
    ):
        for column in columns:
            choices = CHOICE_SEPARATOR.join(m.label for m in column.vocab) if column.vocab else ""
            allowed = f"（可选值：{choices}）" if choices else ""
            sheet.append([title, column.header, YES if column.required else "", column.note + allowed])


def class_sheet(wb: Workbook, classes: list[tuple[str, str, str, str]]) -> None:
    """The sub-classes a department may use: (code, name, class, note) per row."""
    sheet = wb.create_sheet(CLASS_SHEET)
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCD", (12, 22, 16, 36), strict=True):
        sheet.column_dimensions[letter].width = width
    header = []
    for title in ("分类代码", "分类名称", "所属大类", "说明"):
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = _HEADER_FONT
        header.append(cell)
    sheet.append(header)
    for row in classes:
        sheet.append(row_cells(sheet, list(row)))


def save(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# --- reading workbooks ---------------------------------------------------------------------------


@dataclass
class Row:
    number: int
    cells: dict[str, Any]  # header -> raw cell value


def refuse_file(message: str, english: str) -> Invalid:
    return Invalid(message, english, details={"field": "file"})


def not_xlsx() -> Invalid:
    return refuse_file(
        "无法读取该文件：它不是有效的 Excel 工作簿（.xlsx），可能是改了扩展名的 CSV 或旧版 .xls 文件、"
        "设置了打开密码，或已经损坏。请用 Excel 或 WPS 打开后“另存为” Excel 工作簿（*.xlsx），再重新上传。",
        "The file is not a readable .xlsx workbook.",
    )


def read_upload(source: IO[bytes], filename: str | None) -> bytes:
    """The uploaded bytes, read no further than the limit."""
    suffix = filename.rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    if filename and suffix != "xlsx":
        shown = f".{suffix}" if suffix else "没有扩展名的文件"
        raise refuse_file(
            f"只能导入 Excel 工作簿（.xlsx），收到的是{shown}。请在平台下载模板填写，"
            "或用 Excel、WPS 把文件“另存为” Excel 工作簿（*.xlsx）后上传。",
            f"Only .xlsx files can be imported, not {suffix or 'a file without extension'}.",
        )
    data = source.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise TooLarge(
            f"文件超过 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB 的上限，请拆分成多个文件分批导入。",
            f"The file exceeds {MAX_UPLOAD_BYTES} bytes.",
            details={"field": "file", "limit_bytes": MAX_UPLOAD_BYTES},
        )
    if not data:
        raise refuse_file("上传的文件是空的，请选择填写好的模板文件。", "The uploaded file is empty.")
    return data


def cell_text(value: Any) -> str | None:
    """A cell as text: numbers without a spurious ".0", dates as YYYY-MM-DD, blanks as None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip() or None


def _aliases(vocab: type[Labelled]) -> dict[str, str]:
    """Label, code and (for data types) the label without its code letter, case-folded → code."""
    found: dict[str, str] = {}
    for member in vocab:
        names = {member.value, member.label}
        if vocab is DataType:
            names.add(member.label.rstrip(member.value))
        found.update({name.replace(" ", "").lower(): member.value for name in names})
    return found


_ALIASES = {c.vocab: _aliases(c.vocab) for c in ENTRY_COLUMNS + ITEM_COLUMNS if c.vocab is not None}


def cell_value(column: Column, raw: Any) -> Any:
    """The cell converted for the schema; a value that cannot be converted is passed on as it is,
    so the schema reports it like any other wrong value."""
    if column.flag and isinstance(raw, bool):
        return raw
    text = cell_text(raw)
    if text is None:
        return None
    if column.flag:
        folded = text.lower()
        return True if folded in _TRUE else False if folded in _FALSE else text
    if column.vocab is not None:
        return _ALIASES[column.vocab].get(text.replace(" ", "").lower(), text)
    return text


def _is_blank(values: tuple[Any, ...]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _sheet_rows(wb: Any, title: str, columns: list[Column], limit: int, unit: str) -> list[Row]:
    if title not in wb.sheetnames:
        raise refuse_file(
            f"文件中没有「{title}」工作表。请在平台下载模板（或导出的目录文件）填写，不要删除或改名工作表。",
            f"The workbook has no sheet {title}.",
        )
    rows = wb[title].iter_rows(values_only=True)
    positions: dict[str, int] = {}
    for index, value in enumerate(next(rows, ())):
        header = cell_text(value)
        if header and header not in positions:
            positions[header] = index
    missing = [c.header for c in columns if c.header not in positions and not c.may_be_absent]
    if missing:
        raise refuse_file(
            f"「{title}」工作表缺少列：{'、'.join(missing)}。请不要修改模板第 1 行的列名。",
            f"Sheet {title} lacks columns {missing}.",
        )
    found: list[Row] = []
    for number, values in enumerate(rows, start=2):
        if _is_blank(values):
            continue
        if len(found) == limit:
            raise refuse_file(
                f"「{title}」工作表超过 {limit} 个{unit}，超出单次导入的上限，请拆分成多个文件分批导入。",
                f"Sheet {title} has more than {limit} rows.",
            )
        cells = {
            c.header: values[positions[c.header]]
            if c.header in positions and positions[c.header] < len(values)
            else None
            for c in columns
        }
        found.append(Row(number, cells))
    return found


def read_workbook(data: bytes) -> tuple[list[Row], list[Row]]:
    """The non-blank rows of 目录 and 信息项; refuses what is not a sound .xlsx of the template."""
    if not data.startswith(b"PK\x03\x04"):
        raise not_xlsx()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise not_xlsx() from exc
    if unpacked > MAX_UNPACKED_BYTES:
        raise refuse_file(
            "文件解压后内容过大，不像是正常的目录模板，请检查后重新保存再上传。",
            "The workbook unpacks too large.",
        )
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            entries = _sheet_rows(wb, ENTRY_SHEET, ENTRY_COLUMNS, MAX_ENTRIES, "条目")
            items = _sheet_rows(wb, ITEM_SHEET, ITEM_COLUMNS, MAX_ITEM_ROWS, "信息项")
        finally:
            wb.close()
    except Invalid:
        raise
    except Exception as exc:  # a damaged workbook fails in openpyxl, zipfile or the XML parser, in many ways
        raise not_xlsx() from exc
    if not entries:
        raise refuse_file(
            "「目录」工作表中没有填写任何条目（从第 2 行开始填写）。", "No entries in the workbook."
        )
    return entries, items
