"""The public report as a PDF (公示报告), with a Chinese font embedded as a subset.

fpdf2 writes the file; the font is `GOVSHARE_REPORT_FONT` or the system's Noto Sans CJK SC, looked
for where font packages install it (the face inside a .ttc collection is chosen by its family
name). Without such a font there is no honest way to print Chinese, so generation stops with advice
rather than printing empty boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from govshare.errors import Invalid
from govshare.settings import get_settings
from govshare.workdays import BEIJING

FAMILY = "Noto Sans CJK SC"
# Where Debian (fonts-noto-cjk), other distributions and local installs put Noto Sans CJK.
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FONT_FILES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSansSC-Regular.otf")


@dataclass(frozen=True)
class Font:
    path: Path
    index: int


def _face_index(path: Path) -> int:
    """The face of a collection whose family is Noto Sans CJK SC (0 for a single font)."""
    if path.suffix.lower() not in {".ttc", ".otc"}:
        return 0
    from fontTools.ttLib import TTCollection

    with TTCollection(str(path), lazy=True) as collection:
        for index, face in enumerate(collection.fonts):
            if face["name"].getBestFamilyName() == FAMILY:
                return index
    return 0


@lru_cache(maxsize=4)
def _find(configured: Path | None) -> Font:
    if configured is not None:
        if not configured.is_file():
            raise Invalid(
                f"找不到公示报告字体文件 {configured}，请检查 GOVSHARE_REPORT_FONT。",
                "GOVSHARE_REPORT_FONT does not name a file.",
            )
        return Font(configured, _face_index(configured))
    for root in FONT_DIRS:
        for name in FONT_FILES:
            for path in sorted(root.glob(f"**/{name}")) if root.is_dir() else []:
                return Font(path, _face_index(path))
    raise Invalid(
        "没有可嵌入公示报告的中文字体：请安装 fonts-noto-cjk（apt-get install fonts-noto-cjk），"
        "或用 GOVSHARE_REPORT_FONT 指定一个含中文字形的字体文件。",
        "No CJK font for the report PDF: install fonts-noto-cjk or set GOVSHARE_REPORT_FONT.",
    )


def report_font() -> Font:
    return _find(get_settings().report_font)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


# Table headings in the document's one face, not the bold that fpdf2 would look for.
HEADINGS = FontFace(emphasis="")


class _Report(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("cjk", size=8)
        self.cell(0, 8, f"{self.footer_text}    第 {self.page_no()} 页 / 共 {{nb}} 页", align="C")


def render(
    *,
    title: str,
    period_text: str,
    generated_at: datetime,
    intro: str,
    columns: list[tuple[str, str, str]],
    departments: list[dict[str, Any]],
    total: dict[str, Any],
    notes: list[str],
) -> bytes:
    """The report as PDF bytes: heading, explanation, the city's totals, one row per department."""
    font = report_font()
    pdf = _Report(orientation="landscape", format="A4")
    pdf.set_creator("GovShare")
    pdf.set_title(title)
    pdf.set_lang("zh-CN")
    pdf.footer_text = title
    # One face: the font file is parsed per document (about 0.4 s for Noto Sans CJK), and table
    # headings, bold by default, are set in it too (HEADINGS) rather than in a second copy.
    pdf.add_font("cjk", fname=str(font.path), collection_font_number=font.index)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    pdf.set_font("cjk", size=16)
    pdf.cell(0, 10, title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=10)
    stamp = generated_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    pdf.cell(0, 7, f"统计期：{period_text}    生成时间：{stamp}（北京时间）", align="C")
    pdf.ln(10)
    pdf.multi_cell(0, 6, intro)
    pdf.ln(2)
    pdf.set_font("cjk", size=11)
    pdf.cell(0, 8, "一、全市总体情况", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=9)
    with pdf.table(text_align="CENTER", line_height=6, headings_style=HEADINGS) as table:
        heading = table.row()
        for _key, label, unit in columns:
            heading.cell(f"{label}（{unit}）")
        row = table.row()
        for key, _label, _unit in columns:
            row.cell(_cell(total.get(key)))
    pdf.ln(4)
    pdf.set_font("cjk", size=11)
    pdf.cell(0, 8, "二、各部门情况", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=8)
    widths = (30, *((pdf.epw - 30) / len(columns) for _ in columns))
    with pdf.table(col_widths=widths, text_align="CENTER", line_height=5, headings_style=HEADINGS) as table:
        heading = table.row()
        heading.cell("部门")
        for _key, label, unit in columns:
            heading.cell(f"{label}（{unit}）")
        for department in departments:
            row = table.row()
            row.cell(department["short_name"])
            for key, _label, _unit in columns:
                row.cell(_cell(department.get(key)))
    pdf.ln(4)
    pdf.set_font("cjk", size=11)
    pdf.cell(0, 8, "三、说明", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=9)
    for note in notes:
        pdf.multi_cell(0, 5, note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
