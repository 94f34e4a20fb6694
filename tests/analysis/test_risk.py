"""The output checks on their own: identifiers by value, quasi-identifiers, small cells, differencing."""

from __future__ import annotations

from govshare.analysis import risk
from govshare.analysis.sql import Output
from tests.exchange.test_ingest import idn

PLAIN = Output("v", count=False)
COUNT = Output("n", count=True, measure=True)


def failed(entries: list[dict]) -> list[dict]:
    return [e for e in entries if not e["passed"]]


def test_direct_identifiers_are_found_by_value_whatever_the_column_is_called() -> None:
    number = idn("130102", "19850317", "771")
    cases = {
        "身份证号": [number],
        "手机号码": ["13912345678"],
        "银行卡号": ["6222021234567890128"],  # passes Luhn
        "部分遮盖的身份证号": ["130102********7718"],
        "部分遮盖的手机号码": ["139****5678"],
        "姓名": ["张伟", "欧阳娜娜", "李娜"],
    }
    for kind, values in cases.items():
        [entry] = failed(risk.direct_identifiers(["remark"], [[v] for v in values]))
        assert entry["column"] == "remark" and kind in entry["detail"], (kind, entry)
    harmless = [
        ["张*"],
        ["欧阳**"],
        ["高新区"],
        ["6222021234567890123"],
        [number[:17] + "0"],
        ["abcdefghijklmnop"],
    ]
    assert failed(risk.direct_identifiers(["v"], harmless)) == []
    # Mostly categories with one surname-like word among them: not a name column.
    assert failed(risk.direct_identifiers(["edu"], [["高中"], ["本科"], ["大专"], ["硕士研究生"]])) == []


def test_quasi_identifiers_are_found_by_value() -> None:
    rows = [["1985-03-17", "男", "130102", 34, "河北省石家庄市长安区****", "甲"]] * 3
    columns = ["a", "b", "c", "d", "e", "f"]
    found = risk.quasi_identifiers(columns, [PLAIN] * 6, rows)
    assert set(found.values()) == {"日期（年月或年月日）", "性别", "行政区划代码", "年龄", "地址"}
    assert 5 not in found
    assert risk.quasi_identifiers(["n"], [COUNT], [[34]]) == {}  # a count is not an age


def test_k_anonymity_counts_rows_or_the_groups_counts() -> None:
    rows = [["男", "130102"]] * 5 + [["女", "130102"]] * 2
    entries = risk.k_anonymity(["g", "r"], [PLAIN, PLAIN], rows, False, 5)
    [entry] = failed(entries)
    assert entry["group"] == "g=女，r=130102" and "2 人" in entry["detail"]
    assert failed(risk.k_anonymity(["g", "r"], [PLAIN, PLAIN], rows[:5], False, 5)) == []
    grouped = [["男", 12], ["女", 4]]
    assert len(failed(risk.k_anonymity(["g", "n"], [PLAIN, COUNT], grouped, True, 5))) == 1
    no_count = risk.k_anonymity(["g", "avg"], [PLAIN, Output("avg", False, True)], [["男", 3.5]], True, 5)
    assert "COUNT(*)" in failed(no_count)[0]["detail"]
    assert failed(risk.k_anonymity(["g"], [PLAIN], [["男"]], False, 1)) == []  # k = 1: off


def test_small_cells_and_differencing() -> None:
    rows = [["130102", 12], ["130105", 2], ["130104", 0]]
    [cell] = failed(risk.small_cells(["r", "n"], [PLAIN, COUNT], rows, True, 5))
    assert cell["group"] == "r=130105" and cell["column"] == "n"
    before = risk.Earlier(7, ["r", "n"], [PLAIN, COUNT], [["130102", 15]])
    [diff] = failed(risk.differencing(["r", "n"], [PLAIN, COUNT], rows, [before], 5))
    assert "第 7 号" in diff["detail"] and "相差 3 人" in diff["detail"]
    far = risk.Earlier(8, ["r", "n"], [PLAIN, COUNT], [["130102", 30]])
    assert failed(risk.differencing(["r", "n"], [PLAIN, COUNT], rows, [far], 5)) == []
    other_groups = risk.Earlier(9, ["g", "n"], [PLAIN, COUNT], [["男", 11]])
    assert failed(risk.differencing(["r", "n"], [PLAIN, COUNT], rows, [other_groups], 5)) == []


def test_luhn() -> None:
    assert risk.luhn("4111111111111111") and not risk.luhn("4111111111111112")
