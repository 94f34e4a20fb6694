"""docs/security.md maps every article of the security regulation (石政规〔2020〕4号, S1–S32) to the
control that implements it and the tests that prove it: an article missing from the map, or a named
test that does not exist, fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"
ARTICLES = range(1, 33)


def _map_rows() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Article map", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| S")]


def _articles(cell: str) -> set[int]:
    found: set[int] = set()
    for a, b in re.findall(r"S(\d+)(?:[–-]S(\d+))?", cell):
        found.update(range(int(a), int(b or a) + 1))
    return found


def test_every_article_is_mapped() -> None:
    mapped: set[int] = set()
    for row in _map_rows():
        mapped |= _articles(row.split("|")[1])
    assert set(ARTICLES) - mapped == set(), "articles missing from the map in docs/security.md"


def test_every_named_test_exists() -> None:
    missing: list[str] = []
    checked = 0
    for row in _map_rows():
        current: Path | None = None
        for path, name in re.findall(r"`(tests/[\w/]+\.py)?::(\w+)`", row):
            if path:
                current = ROOT / path
            assert current is not None, f"a test name without its file: {name}"
            checked += 1
            source = current.read_text(encoding="utf-8") if current.exists() else ""
            if not re.search(rf"^(async )?def {name}\(", source, re.M):
                missing.append(f"{current.relative_to(ROOT)}::{name}")
        for path in re.findall(r"`(tests/[\w/]+\.py)`", row):
            if not (ROOT / path).exists():
                missing.append(path)
    assert missing == [], "docs/security.md names tests that do not exist"
    assert checked > 40  # the map names its tests in the form this test reads
