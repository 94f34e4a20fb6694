"""Reading the article maps in docs/ (docs/compliance.md, and the article map in docs/security.md):
Markdown tables whose first cell names regulation articles ("M14, M15(1)(2)", "S28–S29") and whose
last cell names the tests that prove them.

Tests are written as `` `tests/path.py::test_name` ``, a following name of the same file as
`` `::other_test` ``, or a whole file as `` `tests/path.py` ``. A named test exists when its file
defines a function of that name at top level or in a class; a whole file exists when it defines at
least one test.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# "M14", "M15(1)(2)", "S28–S29", "M5–M7", "S28-29": a letter, a number, optionally a range to another.
_ARTICLE = re.compile(r"\b([MS])(\d+)(?:\s*[–-]\s*(?:\1)?(\d+)\b)?")
# `tests/x.py::name`, `::name` or `tests/x.py`, each in its own backticks.
_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")


@dataclass(frozen=True)
class Row:
    """One row of an article table: its cells, in order."""

    line: str
    cells: tuple[str, ...]

    @property
    def article(self) -> str:
        return self.cells[0]

    @property
    def tests(self) -> str:
        return self.cells[-1]


def table_rows(text: str, letters: str) -> list[Row]:
    """The rows of the tables in `text` whose Article cell starts with one of `letters` ("M", "S",
    "MS"), in the order they are written."""
    rows = []
    for line in text.splitlines():
        if line[:3] in {f"| {letter}" for letter in letters}:
            cells = tuple(cell.strip() for cell in line.strip().strip("|").split("|"))
            rows.append(Row(line=line, cells=cells))
    return rows


def articles(cell: str) -> set[str]:
    """The articles an Article cell covers, ranges expanded: "S28–S29" → {"S28", "S29"}."""
    found: set[str] = set()
    for letter, first, last in _ARTICLE.findall(cell):
        found.update(f"{letter}{n}" for n in range(int(first), int(last or first) + 1))
    return found


def first_article(cell: str) -> tuple[str, int]:
    """The article a row starts with, to check the order of a map: ("M", 14)."""
    match = _ARTICLE.search(cell)
    assert match is not None, f"an Article cell without an article: {cell!r}"
    return match.group(1), int(match.group(2))


def references(cell: str) -> list[str]:
    """The tests a Tests cell names, each as "tests/path.py::name" or a whole "tests/path.py"."""
    named: list[str] = []
    current: str | None = None
    for path, name in _REFERENCE.findall(cell):
        if not path and not name:
            continue  # some other code span
        if path:
            current = path
        if current is None:
            raise AssertionError(f"a test name without its file: ::{name} in {cell!r}")
        named.append(f"{current}::{name}" if name else current)
    return named


@cache
def _tests_defined(path: str) -> frozenset[str]:
    """Names of the test functions a test file defines, at top level or in a top-level class."""
    file = ROOT / path
    if not file.is_file():
        return frozenset()
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=path)
    names: set[str] = set()
    for node in tree.body:
        bodies = node.body if isinstance(node, ast.ClassDef) else [node]
        names.update(f.name for f in bodies if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef))
    return frozenset(n for n in names if n.startswith("test"))


def exists(reference: str) -> bool:
    """Whether a reference names a test module pytest collects and, if it names one, a test in it."""
    path, _, name = reference.partition("::")
    if not Path(path).name.startswith("test_"):
        return False
    defined = _tests_defined(path)
    return name in defined if name else bool(defined)


def missing(rows: list[Row]) -> list[str]:
    """The references in the rows' Tests cells that name no existing test."""
    return [ref for row in rows for ref in references(row.tests) if not exists(ref)]
