from __future__ import annotations

import re
import time
import tracemalloc
from collections import Counter
from datetime import date, datetime
from itertools import islice

import pytest

from govshare.demo.catalog import ENTRIES, ITEMS
from govshare.demo.data import DEMO_ROWS, POPULATION, POPULATION_DERIVED, demo_row_counts, rows_for
from govshare.identifiers import credit_code_valid, id_number_valid

TABLES = {e.name: e for e in ENTRIES if e.method == "table"}
# Shijiazhuang's county-level divisions (GB/T 2260) and the prefix of every mobile number range.
COUNTY_TABLE = (
    "130102 130104 130105 130107 130108 130109 130110 130111 130121 130123 130125 130126 130127 130128"
    " 130129 130130 130131 130132 130133 130181 130183 130184"
)
COUNTY_CODES = set(COUNTY_TABLE.split())
MOBILE = re.compile(r"^1(3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])\d{8}$")
PLATE = re.compile(r"^冀A([0-9A-HJ-NP-Z]{5}|[DF]\d{5})$")
UNIT_NO = re.compile(r"^(1301\d{2})(\d{3})(\d{3})GB(\d{5})F(\d{4})(\d{4})$")
FORMATS = {
    "D": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "T": re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"),
    "N": re.compile(r"^\d+(\.\d+)?$"),
    "Y": re.compile(r"^\d+\.\d{2}$"),
    "I": re.compile(r"^\d+$"),
    "F": re.compile(r"^-?\d+\.\d+$"),
}


def sample(name: str, limit: int = 3000) -> list[dict[str, str]]:
    return list(rows_for(name, min(DEMO_ROWS[name], limit)))


def org_code_valid(code: str) -> bool:
    """GB 11714: the 9th character checks the first 8 (MOD 11, letters A=10 … Z=35)."""
    total = sum(int(c, 36) * w for c, w in zip(code[:8], (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = 11 - total % 11
    return code[8] == ("X" if check == 10 else "0" if check == 11 else str(check))


def test_every_table_entry_has_a_default_row_count() -> None:
    assert set(DEMO_ROWS) == set(TABLES)
    assert DEMO_ROWS[POPULATION] == 100_000
    assert all(200 <= rows <= 5_000 for name, rows in DEMO_ROWS.items() if name != POPULATION)


def test_only_table_entries_of_the_demo_catalog_have_rows() -> None:
    with pytest.raises(ValueError, match="库表"):
        rows_for("重点商品价格监测信息", 10)  # a file resource
    with pytest.raises(ValueError, match="库表"):
        rows_for("不存在的目录", 10)
    with pytest.raises(ValueError, match="negative"):
        rows_for(POPULATION, -1)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_rows_are_deterministic_and_prefix_stable(name: str) -> None:
    rows = list(rows_for(name, 120, seed=7))
    assert len(rows) == 120
    assert rows == list(rows_for(name, 120, seed=7))
    assert rows[:40] == list(rows_for(name, 40, seed=7))
    assert rows != list(rows_for(name, 120, seed=8))


@pytest.mark.parametrize("name", sorted(TABLES))
def test_values_have_the_items_types_and_fit_their_lengths(name: str) -> None:
    entry = TABLES[name]
    for row in sample(name):
        assert list(row) == entry.items
        for item, value in row.items():
            _, data_type, length, _, _ = ITEMS[item]
            assert value, (name, item)
            if data_type == "C":
                assert len(value) <= (length or 0), (name, item, value)
            elif data_type in FORMATS:
                assert FORMATS[data_type].match(value), (name, item, value)
            if data_type in ("N", "Y"):
                assert len(value.replace(".", "")) <= (length or 0), (name, item, value)
            if data_type == "D":
                date.fromisoformat(value)
            if data_type == "T":
                datetime.fromisoformat(value)
        if "gender" in row:
            assert row["gender"] in ("男", "女")


@pytest.mark.parametrize("name", sorted(TABLES))
def test_business_keys_are_unique(name: str) -> None:
    keys = TABLES[name].keys
    rows = list(rows_for(name, DEMO_ROWS[name]))
    assert len(rows) == DEMO_ROWS[name]
    assert len({tuple(row[k] for k in keys) for row in rows}) == len(rows)


def test_population_id_numbers_stay_unique_beyond_the_first_cells() -> None:
    # 131,072 people have distinct (county, birth day) cells; later ones share cells.
    ids = {row["id_number"] for row in rows_for(POPULATION, 300_000)}
    assert len(ids) == 300_000


@pytest.mark.parametrize("name", sorted(n for n, e in TABLES.items() if "id_number" in e.items))
def test_id_numbers_are_valid_and_agree_with_the_row(name: str) -> None:
    for row in sample(name):
        number = row["id_number"]
        assert id_number_valid(number), number
        assert number[:6] in COUNTY_CODES
        born = datetime.strptime(number[6:14], "%Y%m%d").date()
        assert date(1930, 1, 1) <= born <= date(2024, 12, 31)
        if "birth_date" in row:
            assert row["birth_date"] == born.isoformat()
        if "gender" in row:
            assert row["gender"] == ("男" if int(number[16]) % 2 else "女")
        if "region_code" in row:
            assert row["region_code"] == number[:6]
        if "social_security_no" in row:
            assert row["social_security_no"] == number  # the 社会保障号码 is the ID number
        for item, value in row.items():
            data_type = ITEMS[item][1]
            if data_type in ("D", "T") and item != "birth_date":
                day = date.fromisoformat(value[:10])
                assert day >= born, (name, item, row)
                assert item == "valid_until" or day <= date(2024, 12, 31), (name, item, row)


@pytest.mark.parametrize("name", sorted(n for n, e in TABLES.items() if "credit_code" in e.items))
def test_credit_codes_pass_gb_32100(name: str) -> None:
    heads = {"企业登记信息": {"91"}, "个体工商户登记信息": {"92"}, "社会组织登记信息": {"51", "52", "53"}}
    for row in sample(name):
        code = row["credit_code"]
        assert credit_code_valid(code), code
        assert code[2:6] == "1301" and (code[2:8] == "130100" or code[2:8] in COUNTY_CODES), code
        assert org_code_valid(code[8:17]), code
        assert code[:2] in heads.get(name, {"91", "92", "12", "51", "52", "53"}), code
        # No organisation's code also passes the citizen ID check: a checksum-only scanner of open
        # data would take it for a person's ID number.
        assert not id_number_valid(code), code


def test_mobile_numbers_and_phones() -> None:
    for name in ("人口基础信息", "机动车登记信息", "长安区网格员信息"):
        for row in sample(name):
            assert MOBILE.match(row.get("mobile") or row["phone"]), row
    for name in ("养老服务机构信息", "学校基本信息", "长安区社区服务设施信息"):
        assert all(re.match(r"^0311-[5-8]\d{7}$", row["phone"]) for row in sample(name))


def test_plates_and_real_estate_units() -> None:
    for row in sample("机动车登记信息") + sample("出租汽车经营权信息（旧）"):
        plate = row["plate_number"]
        assert PLATE.match(plate), plate
        assert sum(c.isalpha() for c in plate[2:]) <= 2 or plate[2] in "DF"
    names = {"130102": "长安区", "130123": "正定县", "130181": "辛集市"}
    for row in sample("不动产登记信息"):
        match = UNIT_NO.match(row["unit_no"])
        assert match and len(row["unit_no"]) == 28, row["unit_no"]
        assert match[1] in COUNTY_CODES
        if match[1] in names:
            assert row["location"].startswith(names[match[1]])
        assert 20 <= float(row["area"]) <= 300


def test_people_and_organisations_join_across_entries() -> None:
    people = {row["id_number"]: row for row in rows_for(POPULATION, 20_000)}
    for name in ("最低生活保障对象信息", "驾驶人信息", "预防接种信息", "学生学籍信息"):
        for row in islice(rows_for(name, 500, population=20_000), 500):
            person = people[row["id_number"]]
            assert row["name"] == person["name"]
    enterprises = {row["credit_code"]: row["enterprise_name"] for row in sample("企业登记信息", 5000)}
    shops = {row["credit_code"]: row["enterprise_name"] for row in sample("个体工商户登记信息")}
    for row in sample("食品经营许可信息"):
        register = enterprises if row["credit_code"].startswith("91") else shops
        assert register[row["credit_code"]] == row["enterprise_name"]
    for row in sample("住房公积金缴存信息"):
        assert row["credit_code"] in enterprises
    schools = {row["org_name"] for row in sample("学校基本信息")}
    assert {row["org_name"] for row in sample("学生学籍信息")} <= schools


def test_entries_about_people_draw_beyond_a_small_population() -> None:
    rows = list(rows_for("医疗保障参保信息", 300, population=50))
    assert len({row["id_number"] for row in rows}) == 300
    assert all(id_number_valid(row["id_number"]) for row in rows)


def test_population_looks_like_a_city() -> None:
    rows = list(rows_for(POPULATION, 50_000))
    years = Counter(int(row["birth_date"][:4]) for row in rows)
    share = {
        "before 1950": sum(v for y, v in years.items() if y < 1950) / len(rows),
        "1960s": sum(v for y, v in years.items() if 1960 <= y < 1970) / len(rows),
        "since 2020": sum(v for y, v in years.items() if y >= 2020) / len(rows),
    }
    assert 0.03 < share["before 1950"] < 0.12
    assert 0.11 < share["1960s"] < 0.2  # the baby boom
    assert 0.02 < share["since 2020"] < 0.07  # falling births
    men = sum(row["gender"] == "男" for row in rows) / len(rows)
    assert 0.47 < men < 0.53
    surnames = [s for s, _ in Counter(row["name"][0] for row in rows).most_common(4)]
    assert {"王", "李", "张"} <= set(surnames)
    assert all(2 <= len(row["name"]) <= 3 for row in rows)
    counties = Counter(row["region_code"] for row in rows)
    assert set(counties) == COUNTY_CODES
    assert counties["130104"] > 8 * counties["130107"]  # 桥西区 against 井陉矿区
    assert all(row["address"].startswith("河北省石家庄市") for row in rows)


def test_demo_row_counts_scale_entries_about_people() -> None:
    assert demo_row_counts(100_000) == DEMO_ROWS
    counts = demo_row_counts(1_000_000)
    assert counts[POPULATION] == 1_000_000
    assert counts["户籍迁移信息"] == 10 * DEMO_ROWS["户籍迁移信息"]
    assert counts["流动人口居住登记信息"] == 10 * DEMO_ROWS["流动人口居住登记信息"]
    assert counts["企业登记信息"] == DEMO_ROWS["企业登记信息"]
    assert all(counts[n] == 10 * DEMO_ROWS[n] for n in POPULATION_DERIVED)
    assert min(demo_row_counts(10).values()) >= 1
    with pytest.raises(ValueError):
        demo_row_counts(0)


def test_running_out_of_keys_is_an_error_not_a_short_table() -> None:
    # 13 streets × 28 communities × 8 kinds of facility
    with pytest.raises(ValueError, match="at most 2912"):
        list(rows_for("长安区社区服务设施信息", 3000))


def test_rows_are_generated_lazily_in_flat_memory() -> None:
    huge = rows_for(POPULATION, 10**12)
    assert len(list(islice(huge, 5))) == 5
    started = time.perf_counter()
    for _ in rows_for(POPULATION, 100_000):
        pass
    print(f"population: {100_000 / (time.perf_counter() - started):,.0f} rows/s")  # not asserted
    tracemalloc.start()
    try:
        for _ in rows_for(POPULATION, 20_000):
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, peak  # 20,000 rows kept in memory would take ~20 MB
