"""docs/security.md maps every article of the security regulation (石政规〔2020〕4号, S1–S32) to the
control that implements it and the tests that prove it: an article missing from the map, or a named
test that does not exist, fails here."""

from __future__ import annotations

from tests.article_maps import ROOT, Row, articles, missing, references, table_rows

DOC = ROOT / "docs" / "security.md"
ARTICLES = {f"S{n}" for n in range(1, 33)}


def _map_rows() -> list[Row]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Article map", 1)[1].split("\n## ", 1)[0]
    return table_rows(section, "S")


def test_every_article_is_mapped() -> None:
    mapped: set[str] = set()
    for row in _map_rows():
        mapped |= articles(row.article)
    assert ARTICLES - mapped == set(), "articles missing from the map in docs/security.md"


def test_every_named_test_exists() -> None:
    rows = _map_rows()
    assert missing(rows) == [], "docs/security.md names tests that do not exist"
    assert sum(len(references(row.tests)) for row in rows) > 40  # the map names its tests in this form
