"""The holiday schedule as a CSV file (the page's upload and `govshare holidays load`):

    日期,类型,名称
    2027-01-01,放假,元旦
    2027-02-20,上班,春节

Columns 日期 (YYYY-MM-DD or YYYY/M/D), 类型 (放假 | 上班, or holiday | workday) and 名称; a header row is
optional. UTF-8 (with or without BOM) or GB18030, as Excel saves it on Chinese Windows.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from govshare.calendar.schemas import DayIn
from govshare.errors import Invalid, TooLarge
from govshare.workdays import DayKind

MAX_BYTES = 64 * 1024
KINDS = {"放假": DayKind.holiday, "休": DayKind.holiday, "上班": DayKind.workday, "班": DayKind.workday}
KINDS |= {k.value: k for k in DayKind}


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return content.decode("gb18030")
        except UnicodeDecodeError:
            raise Invalid(
                "文件既不是 UTF-8 也不是 GB18030 编码：请在 Excel 中另存为"
                "“CSV UTF-8（逗号分隔）”后重新上传。",
                "The file is neither UTF-8 nor GB18030.",
            ) from None


def _date(value: str) -> date | None:
    parts = value.strip().replace("/", "-").split("-")
    if len(parts) != 3 or not all(p.isdecimal() for p in parts):
        return None
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def parse_csv(content: bytes) -> list[DayIn]:
    """The days listed in the file; Invalid naming every bad line (details: `problems`)."""
    if len(content) > MAX_BYTES:
        raise TooLarge(
            f"文件超过 {MAX_BYTES // 1024} KB：一年的节假日安排只有几十行，请检查是否选错了文件。",
            "The file is too large for a holiday schedule.",
        )
    days: list[DayIn] = []
    problems: list[str] = []
    for number, row in enumerate(csv.reader(io.StringIO(_text(content))), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or (number == 1 and cells[0] in ("日期", "date")):
            continue
        if len(cells) < 3:
            problems.append(f"第 {number} 行应有三列：日期,类型,名称")
            continue
        day, kind = _date(cells[0]), KINDS.get(cells[1])
        if day is None:
            problems.append(f"第 {number} 行的日期“{cells[0]}”应写成 2027-01-01 的形式")
        if kind is None:
            problems.append(f"第 {number} 行的类型“{cells[1]}”应为“放假”或“上班”")
        if day is not None and kind is not None:
            days.append(DayIn(date=day, kind=kind, name=cells[2][:100]))
    if problems:
        shown = "；".join(problems[:5]) + ("；……" if len(problems) > 5 else "")
        raise Invalid(
            f"文件有 {len(problems)} 处无法读取：{shown}。请改正后重新上传。",
            f"The file has {len(problems)} unreadable line(s).",
            details={"problems": problems},
        )
    return days


def to_csv(days: list[DayIn]) -> str:
    """The days as the same CSV (carried by the confirmation form, printed by the CLI)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["日期", "类型", "名称"])
    for d in days:
        writer.writerow([d.date.isoformat(), d.kind.label, d.name])
    return out.getvalue()
