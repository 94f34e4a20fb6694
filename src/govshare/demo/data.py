"""Synthetic rows for the demo city's 库表 resources, as the providing departments' CSV exports
would hold them: dates `YYYY-MM-DD`, date-times `YYYY-MM-DD HH:MM:SS`, numbers as plain decimals,
money with two decimals, 性别 as 男/女.

Rules the rows keep (the quality rules of the exchange check them):
- business keys are unique within the rows of an entry, by construction;
- 公民身份号码 pass GB 11643 and agree with the row's 出生日期, 性别 and 行政区划代码; 统一社会信用代码
  pass GB 32100; 手机号码 are 11 digits with real mobile prefixes; every 字符型 value fits its item's
  length;
- entries about people draw them from the first `population` people of 人口基础信息 (and 企业登记信息
  holds the enterprises that licences, penalties and employers refer to), so the demo's data joins:
  a 低保 recipient has the same ID number, name and gender in every entry.

`rows_for` is deterministic and lazy: the same arguments give the same rows, the first n rows of a
longer run are the n rows of a shorter one, and memory does not grow with n.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice

from govshare.demo import rows_organisations, rows_people
from govshare.demo.catalog import ENTRIES
from govshare.demo.registers import World

Row = dict[str, str]

POPULATION = "人口基础信息"
# Default row counts of the demo city; `demo_row_counts` scales the population-derived ones.
DEMO_ROWS: dict[str, int] = {
    POPULATION: 100_000,
    "机动车登记信息": 5_000,
    "户籍迁移信息": 3_000,
    "驾驶人信息": 5_000,
    "出入境证件办理信息": 2_000,
    "流动人口居住登记信息": 4_000,
    "企业登记信息": 5_000,
    "个体工商户登记信息": 3_000,
    "食品经营许可信息": 1_500,
    "市场主体行政处罚信息": 600,
    "特种设备登记信息": 1_000,
    "最低生活保障对象信息": 2_000,
    "婚姻登记信息": 2_000,
    "社会组织登记信息": 500,
    "养老服务机构信息": 200,
    "临时救助对象信息": 300,
    "社会保险参保信息": 5_000,
    "就业登记信息": 3_000,
    "职业资格证书信息": 2_000,
    "出生医学证明信息": 1_000,
    "医疗机构执业登记信息": 800,
    "预防接种信息": 5_000,
    "健康体检机构信息": 200,
    "不动产登记信息": 5_000,
    "住房公积金缴存信息": 3_000,
    "商品房预售许可信息": 300,
    "医疗保障参保信息": 5_000,
    "定点医药机构信息": 600,
    "学校基本信息": 800,
    "学生学籍信息": 5_000,
    "出租汽车经营权信息（旧）": 300,
    "长安区网格员信息": 400,
    "长安区社区服务设施信息": 200,
}
# Entries whose rows are about the city's people: they grow with the population.
POPULATION_DERIVED = frozenset(
    {
        "机动车登记信息",
        "户籍迁移信息",
        "驾驶人信息",
        "出入境证件办理信息",
        "流动人口居住登记信息",
        "最低生活保障对象信息",
        "婚姻登记信息",
        "临时救助对象信息",
        "社会保险参保信息",
        "就业登记信息",
        "职业资格证书信息",
        "出生医学证明信息",
        "预防接种信息",
        "不动产登记信息",
        "住房公积金缴存信息",
        "医疗保障参保信息",
        "学生学籍信息",
    }
)
TABLE_ENTRIES = tuple(e.name for e in ENTRIES if e.method == "table")


def demo_row_counts(population_rows: int) -> dict[str, int]:
    """Row counts for a demo city of `population_rows` people: entries about people scale in
    proportion (at least one row each), organisations and places keep their default counts."""
    if population_rows < 1:
        raise ValueError("population_rows must be at least 1")
    factor = population_rows / DEMO_ROWS[POPULATION]
    return {
        name: population_rows
        if name == POPULATION
        else max(1, round(rows * factor))
        if name in POPULATION_DERIVED
        else rows
        for name, rows in DEMO_ROWS.items()
    }


def rows_for(entry_name: str, n: int, *, seed: int = 0, population: int | None = None) -> Iterator[Row]:
    """n rows of the demo 库表 entry `entry_name`, each keyed by the entry's item names.

    People in entries other than 人口基础信息 are drawn from its first `population` rows (default
    `DEMO_ROWS[POPULATION]`; when `demo_row_counts` scales the population, pass its row count), so
    they are people of the register; an entry that needs more people than that takes the rest from
    beyond it, still valid and unique. Raises ValueError for a name that is not a 库表 entry of the demo
    catalog, a negative n, or more rows than the entry's key space holds (when the excess is
    reached).
    """
    generator = _GENERATORS.get(entry_name)
    if generator is None:
        raise ValueError(f"{entry_name!r} is not a 库表 entry of the demo catalog")
    if n < 0:
        raise ValueError("n must not be negative")
    world = World(
        seed,
        population=DEMO_ROWS[POPULATION] if population is None else population,
        enterprises=DEMO_ROWS["企业登记信息"],
        shops=DEMO_ROWS["个体工商户登记信息"],
        schools=DEMO_ROWS["学校基本信息"],
    )
    return _exactly(entry_name, n, generator(world))


def _exactly(entry_name: str, n: int, rows: Iterator[Row]) -> Iterator[Row]:
    produced = 0
    for row in islice(rows, n):
        produced += 1
        yield row
    if produced < n:
        raise ValueError(f"{entry_name} can have at most {produced} distinct rows")


_GENERATORS: dict[str, Callable[[World], Iterator[Row]]] = {
    **rows_people.GENERATORS,
    **rows_organisations.GENERATORS,
}
