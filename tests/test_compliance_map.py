"""docs/compliance.md maps every article of both regulations (石政规〔2020〕3号 M1–M27, 石政规〔2020〕4号
S1–S32) to the feature that implements it and the tests that prove it. An article missing from the
map, a row out of article order, a named test that does not exist, or a row that names no test without
saying why, fails here."""

from __future__ import annotations

import re

import pytest

from tests.article_maps import ROOT, Row, articles, exists, first_article, missing, references, table_rows

DOC = ROOT / "docs" / "compliance.md"
EXPECTED = {f"M{n}" for n in range(1, 28)} | {f"S{n}" for n in range(1, 33)}
NO_BEHAVIOUR = re.compile(r"^—（无可测行为：[^）]+）$")
MAX_NO_BEHAVIOUR = 8
MIN_REFERENCES = 300


def _rows() -> list[Row]:
    return table_rows(DOC.read_text(encoding="utf-8"), "MS")


def test_the_article_cells_are_read_as_written() -> None:
    assert articles("M14, M15(1)(2)") == {"M14", "M15"}
    assert articles("S28–S29") == {"S28", "S29"}
    assert articles("M5–M7") == {"M5", "M6", "M7"}
    assert articles("M24(2)–(6)") == {"M24"}
    assert articles("S26 (service interfaces), S23 (masking in services)") == {"S23", "S26"}
    assert articles("M13 ¶2") == {"M13"} and articles("M16 (10-working-day clock)") == {"M16"}
    assert first_article("S10–S12 (abuse detection)") == ("S", 10)


def test_references_continue_their_file_and_name_whole_files() -> None:
    cell = "`tests/a/test_x.py::test_one`, `::test_two`, `tests/test_y.py`, `tests/b/test_z.py::test_three`"
    assert references(cell) == [
        "tests/a/test_x.py::test_one",
        "tests/a/test_x.py::test_two",
        "tests/test_y.py",
        "tests/b/test_z.py::test_three",
    ]
    with pytest.raises(AssertionError, match="without its file"):
        references("`::test_orphan`")


def test_a_reference_exists_only_as_a_test_defined_in_a_test_file() -> None:
    assert exists("tests/test_security_map.py::test_every_article_is_mapped")
    assert exists("tests/test_security_map.py")
    assert not exists("tests/test_security_map.py::test_nothing_by_this_name")
    assert not exists("tests/test_no_such_file.py")
    assert not exists("tests/article_maps.py")  # a helper module, not a test file
    assert not exists("tests/test_security_map.py::_map_rows")  # a helper, not a test


def test_every_row_has_four_cells() -> None:
    rows = _rows()
    assert rows, "docs/compliance.md has no article rows"
    bad = [row.line[:60] for row in rows if len(row.cells) != 4 or not all(row.cells[:3])]
    assert bad == [], "rows need Article | Requirement | Feature | Tests"


def test_every_article_of_both_regulations_is_mapped_and_nothing_else() -> None:
    mapped: set[str] = set()
    for row in _rows():
        mapped |= articles(row.article)
    assert EXPECTED - mapped == set(), "articles missing from docs/compliance.md"
    assert mapped - EXPECTED == set(), "docs/compliance.md maps articles the regulations do not have"


def test_rows_are_in_article_order_m_first() -> None:
    keys = [first_article(row.article) for row in _rows()]
    order = [(0 if letter == "M" else 1, number) for letter, number in keys]
    assert order == sorted(order), "rows of docs/compliance.md out of article order"


def test_every_named_test_exists() -> None:
    assert missing(_rows()) == [], "docs/compliance.md names tests that do not exist"


def test_only_rows_without_behaviour_name_no_test() -> None:
    untested = [row for row in _rows() if not references(row.tests)]
    explained = [row for row in untested if NO_BEHAVIOUR.match(row.tests)]
    assert [row.article for row in untested if row not in explained] == [], (
        "a row without tests must say why in its Tests cell: —（无可测行为：…）"
    )
    assert len(explained) <= MAX_NO_BEHAVIOUR
    for row in _rows():
        if NO_BEHAVIOUR.match(row.tests) is None:
            assert "无可测行为" not in row.tests, f"{row.article}: tests and 无可测行为 in one cell"


def test_no_row_is_planned() -> None:
    """Every article is implemented: no row may say it is only planned."""
    assert [row.article for row in _rows() if "planned" in row.line.lower()] == []


def test_the_map_names_many_tests() -> None:
    assert sum(len(references(row.tests)) for row in _rows()) >= MIN_REFERENCES
