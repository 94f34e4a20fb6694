"""Building blocks of the demo city's synthetic data: hashing and drawing helpers, its places
(Shijiazhuang's counties, roads and villages), its people, and 号牌号码.

People are *random-access*: person k is a pure function of (seed, k), so every entry that mentions
person k shows the same ID number, name, gender, birth date and county, and the population register
is simply persons 0 … n-1. Uniqueness comes from construction, not from remembering what was
issued, so memory does not grow with the row count.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache
from itertools import accumulate
from typing import NamedTuple

from govshare.identifiers import id_number_check_char

AS_OF = date(2024, 12, 31)  # the demo data's "today": fixed, so the data does not drift
MASK64 = (1 << 64) - 1


def mix(x: int) -> int:
    """SplitMix64's finaliser: a bijection on 64-bit integers that scatters neighbouring inputs."""
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def seeded(seed: int, salt: str) -> random.Random:
    # Seeding with a string is stable across processes (it goes through SHA-512, not hash()).
    return random.Random(f"govshare-demo:{seed}:{salt}")  # noqa: S311  # synthetic data  # nosec B311


def slots(weighted: Sequence[tuple[str, float]], size: int = 1024) -> list[str]:
    """`size` slots filled in proportion to the weights, for lookups by a few random bits."""
    cum = list(accumulate(w for _, w in weighted))
    return [weighted[bisect(cum, (i + 0.5) * cum[-1] / size)][0] for i in range(size)]


def words(text: str) -> list[str]:
    """Vocabulary written as space-separated words."""
    return text.split()


def parse_weighted(text: str) -> list[tuple[str, float]]:
    """`"王85 李83"` → `[("王", 85.0), ("李", 83.0)]`: compact weighted vocabularies."""
    pairs = []
    for token in text.split():
        word = token.rstrip("0123456789")
        pairs.append((word, float(token[len(word) :])))
    return pairs


def affine(rng: random.Random, size: int) -> tuple[int, int]:
    """(a, b) such that j → (a·j + b) mod size permutes range(size)."""
    if size == 1:
        return 1, 0
    while True:
        a = rng.randrange(1, size)
        if _gcd(a, size) == 1:
            return a, rng.randrange(size)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def day_between(rng: random.Random, start: date, end: date) -> date:
    return date.fromordinal(rng.randint(start.toordinal(), end.toordinal()))


def recent_day(rng: random.Random, start: date, end: date = AS_OF) -> date:
    """A day in [start, end], more likely near the end (registrations grow over the years)."""
    span = end.toordinal() - start.toordinal()
    return date.fromordinal(start.toordinal() + int(span * rng.random() ** 0.6))


def clock(rng: random.Random, day: date) -> str:
    """`YYYY-MM-DD HH:MM:SS` in office hours."""
    return f"{day.isoformat()} {rng.randint(8, 16):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


# --- Places ---------------------------------------------------------------------------------------

# Shijiazhuang's county-level divisions (GB/T 2260): code, name, population in 10,000s (2020 census,
# rounded), share of rural addresses (%), main roads, and towns (镇/乡) for rural addresses.
_COUNTY_TABLE = """
130102 长安区 89 0 中山东路 建设北大街 和平东路 体育北大街 广安大街 胜利北大街 谈固东街 青园街 建华北大街
130104 桥西区 96 0 中山西路 新石中路 裕华西路 自强路 维明南大街 槐安西路 红旗大街 友谊南大街 站前街 新华路
130105 新华区 79 0 和平西路 石清路 友谊北大街 合作路 泰华街 联盟路 民族路 中华北大街 北二环西路 西三庄街
130107 井陉矿区 8 35 矿市街 凤山路 贾庄路 新华街 | 贾庄镇 凤山镇 横涧乡
130108 裕华区 85 0 裕华东路 槐安东路 塔坛路 翟营南大街 建华南大街 体育南大街 东岗路 槐中路 富强大街 南二环东路
130109 藁城区 72 40 廉州路 府前街 兴安大街 胜利路 | 廉州镇 兴安镇 岗上镇 梅花镇 贾市庄镇
130110 鹿泉区 47 35 向阳大街 振华街 石铜路 胜利街 | 获鹿镇 铜冶镇 寺家庄镇 上庄镇
130111 栾城区 38 40 裕翔街 栾武路 育才街 城角路 | 栾城镇 冶河镇 窦妪镇 楼底镇
130121 井陉县 26 55 微水大街 人民路 建设路 | 微水镇 上安镇 天长镇 秀林镇
130123 正定县 59 45 中山路 燕赵南大街 常山路 恒州路 | 正定镇 诸福屯镇 新城铺镇 南牛乡
130125 行唐县 38 60 龙州大街 兴业路 人民路 | 龙州镇 南桥镇 上碑镇 口头镇
130126 灵寿县 28 60 松阳大街 建设路 人民路 | 灵寿镇 青同镇 塔上镇 慈峪镇
130127 高邑县 17 55 千秋大街 建设路 人民路 | 高邑镇 大营镇 富村镇 万城镇
130128 深泽县 23 55 城关大街 建设路 人民路 | 深泽镇 铁杆镇 赵八镇
130129 赞皇县 23 60 赞皇大街 建设路 人民路 | 赞皇镇 院头镇 南邢郭乡
130130 无极县 47 55 无极大街 建设路 人民路 | 无极镇 七汲镇 张段固镇 北苏镇 郭庄镇
130131 平山县 40 60 冶河路 建设路 人民路 | 平山镇 西柏坡镇 温塘镇 下槐镇 岗南镇
130132 元氏县 41 55 槐阳大街 建设路 人民路 | 槐阳镇 因村镇 马村镇 宋曹镇
130133 赵县 54 55 石塔路 建设路 人民路 | 赵州镇 范庄镇 北王里镇 新寨店镇
130181 辛集市 59 50 兴华路 建设路 教育路 | 辛集镇 旧城镇 张古庄镇 位伯镇
130183 晋州市 52 50 中兴路 建设路 人民路 | 晋州镇 总十庄镇 营里镇 桃园镇
130184 新乐市 49 50 长寿路 建设路 人民路 | 承安镇 正莫镇 化皮镇 邯邰镇
"""


@dataclass(frozen=True)
class County:
    code: str
    name: str
    weight: float
    rural: int
    roads: tuple[str, ...]
    towns: tuple[str, ...]


def _counties() -> tuple[County, ...]:
    counties = []
    for line in _COUNTY_TABLE.strip().splitlines():
        urban, _, rural_part = line.partition(" | ")
        code, name, weight, rural, *roads = urban.split()
        counties.append(
            County(code, name, float(weight), int(rural), tuple(roads), tuple(rural_part.split()))
        )
    return tuple(counties)


COUNTIES = _counties()
COUNTY_BY_CODE = {c.code: c for c in COUNTIES}
COUNTY_SLOTS = [int(i) for i in slots([(str(i), c.weight) for i, c in enumerate(COUNTIES)])]
OUTSIDE = words(
    "河北省保定市 河北省邢台市 河北省衡水市 河北省邯郸市 河北省沧州市 山西省阳泉市 山东省德州市 河南省安阳市"
    " 北京市海淀区 天津市河西区"
)

_VILLAGE_HEADS = ["", "", "", "东", "西", "南", "北", "前", "后", "大", "小", "上", "下", "中", "新", "高"]
_VILLAGE_NAMES = words("王 李 张 刘 赵 杨 高 郭 马 孙 陈 田 韩 徐 周 吴")
_VILLAGE_TAILS = ["庄", "家庄", "营", "屯", "寨", "店", "村", "堡"]
ESTATE_TAILS = words("花园 小区 家园 名苑 新村 华府 雅居 公寓")


def street_address(county: County, h: int) -> str:
    """An address in the county from the bits of h: a flat in town, or a house in a village."""
    if county.towns and h % 100 < county.rural:
        town = county.towns[(h >> 8) % len(county.towns)]
        village = (
            _VILLAGE_HEADS[(h >> 12) & 15] + _VILLAGE_NAMES[(h >> 16) & 15] + _VILLAGE_TAILS[(h >> 20) & 7]
        )
        return f"河北省石家庄市{county.name}{town}{village}村{(h >> 24) % 300 + 1}号"
    road = county.roads[(h >> 8) % len(county.roads)]
    number = (h >> 12) % 399 + 1
    building, unit = (h >> 22) % 28 + 1, (h >> 28) % 4 + 1
    floor, room = (h >> 32) % 18 + 1, (h >> 40) % 4 + 1
    return f"河北省石家庄市{county.name}{road}{number}号{building}栋{unit}单元{floor}0{room}室"


def office_address(county: County, h: int) -> str:
    road = county.roads[(h >> 8) % len(county.roads)]
    return f"河北省石家庄市{county.name}{road}{(h >> 12) % 599 + 1}号"


def landline(h: int) -> str:
    return f"0311-{'8865'[h & 3]}{(h >> 2) % 10_000_000:07d}"


# --- People ---------------------------------------------------------------------------------------

# Common surnames of Hebei, weighted by frequency (per mille, approximate).
SURNAMES = parse_weighted(
    "王85 李83 张80 刘60 赵35 杨30 高22 郭18 马16 孙16 陈15 田13 韩12 徐10 贾9 周9 吴8 朱8 冯8 崔8"
    " 董8 宋8 郝7 曹7 梁6 胡6 于6 黄5 齐5 薛5 段5 许5 史5 吕5 侯5 范5 石5 魏5 郑4 谷4 耿4 袁4 苏4"
    " 牛4 白4 孟4 何4 邢4 任4 康4 杜4 武4 申3 常3 霍3 安3 彭3 邓3 程3 尹3 付3 姚3 卢3 葛3 闫3 焦3"
    " 温3 林3 庞2 罗2 谢2 唐2 蔡2 潘2 沈2 蒋2 秦2 姜2 贺2 阎2 路2 岳2 翟2 甄1 籍1 靳1 冀1"
)
SURNAME_SLOTS = slots(SURNAMES)
# Characters of given names by era (born before 1970, 1970–1994, 1995 on) and gender (female, male).
_GIVEN = (
    (
        "秀英兰桂凤玉珍芳淑华荣梅琴云霞丽敏红翠素香爱娥芝巧彩月莲",
        "国建明文华志德福庆军平荣海永林金春胜宝忠发振祥树山兴友贵成学立义东占增全",
    ),
    (
        "丽静敏艳娜燕霞芳红晶颖婷雪琳慧娟玲倩楠洁薇晓丹佳璐瑶欣蕾宁悦莉萍妍",
        "伟磊勇军强杰涛斌超鹏辉刚健明亮峰波宁晓志海东建永新旭飞龙洋帅宇鑫浩冬博雷",
    ),
    (
        "子涵梓萱欣怡雨诗语彤可馨一诺若汐佳琪思梦雅婉晴悦依琳嘉艺沐安芮柔桐瑶",
        "浩宇轩子睿博泽俊一梓涵辰铭航晨昊然宸逸瑞嘉锦奕皓煜明杰文恒景天佑凯阳",
    ),
)
MOBILE_PREFIXES = words(
    "130 131 132 133 134 135 136 137 138 139 147 150 151 152 153 155 156 157 158 159 166 173 175 176"
    " 177 178 180 181 182 183 184 185 186 187 188 189 191 193 195 198 199"
)

# Living people by birth year, relative (2020 census age structure moved to the end of 2024):
# (first year, last year, weight per year).
_BIRTH_YEARS = (
    (1930, 1934, 0.08),
    (1935, 1939, 0.22),
    (1940, 1944, 0.40),
    (1945, 1949, 0.65),
    (1950, 1954, 0.95),
    (1955, 1959, 1.00),
    (1960, 1964, 1.35),
    (1965, 1969, 1.65),
    (1970, 1974, 1.60),
    (1975, 1979, 1.25),
    (1980, 1984, 1.30),
    (1985, 1989, 1.50),
    (1990, 1994, 1.55),
    (1995, 1999, 1.10),
    (2000, 2004, 1.00),
    (2005, 2009, 1.05),
    (2010, 2014, 1.20),
    (2015, 2019, 1.25),
    (2020, 2024, 0.85),
)


def _weighted_sum(digits: str, first: int) -> int:
    """GB 11643 (ISO 7064 MOD 11-2): the digit at 0-based position p weighs 2**(17-p) mod 11."""
    return sum(int(c) * pow(2, 17 - (first + i), 11) for i, c in enumerate(digits)) % 11


# The check character depends only on the weighted sum mod 11, so per-row work is three table
# lookups instead of 17 multiplications; the characters themselves come from govshare.identifiers.
_CHECK_BY_SUM = {_weighted_sum(f"{n:017d}", 0): id_number_check_char(f"{n:017d}") for n in range(100)}
_SERIAL_SUMS = [_weighted_sum(f"{s:03d}", 14) for s in range(1000)]
_COUNTY_SUMS = [_weighted_sum(c.code, 0) for c in COUNTIES]


class Day(NamedTuple):
    day: date
    iso: str
    compact: str
    id_sum: int  # this date's part of the GB 11643 weighted sum
    era: int
    male_share: int  # of 65,536: older cohorts have fewer men left


@cache
def calendar() -> tuple[list[Day], list[float]]:
    """Every possible birth day with its cumulative weight for drawing birth days."""
    days: list[Day] = []
    weights: list[float] = []
    for first, last, weight in _BIRTH_YEARS:
        for year in range(first, last + 1):
            start = date(year, 1, 1)
            length = (date(year + 1, 1, 1) - start).days
            era = 0 if year < 1970 else 1 if year < 1995 else 2
            male = 0.51 if year >= 1960 else 0.47 if year >= 1945 else 0.41
            for offset in range(length):
                day = start + timedelta(days=offset)
                compact = day.strftime("%Y%m%d")
                days.append(
                    Day(day, day.isoformat(), compact, _weighted_sum(compact, 6), era, int(male * 65536))
                )
                weights.append(weight / length)
    return days, list(accumulate(weights))


class Person(NamedTuple):
    id_number: str
    name: str
    gender: str  # 男 / 女
    born: date
    birth_date: str
    county: County
    mobile: str
    address: str


CELLS = 1 << 17  # distinct (county, birth day) cells
SERIALS = 499  # serials per cell: 2·m + sex digit, m = 1 … 499 (GB 11643 sequence codes 002–999)


class People:
    """The demo city's people; person k is a pure function of (seed, k).

    ID numbers are unique by construction: person k = (round r, position j) = divmod(k, CELLS) gets
    the cell at a round-specific permutation of j (a distinct county and birth day within a round)
    and a serial that differs between a cell's rounds, so no two people share county + birth day +
    serial. The first CELLS people all have different cells.
    """

    capacity = CELLS * SERIALS

    def __init__(self, seed: int) -> None:
        days, day_cum = calendar()
        rng = seeded(seed, "people")
        county_cum = list(accumulate(c.weight for c in COUNTIES))
        cells: dict[int, None] = {}
        while len(cells) < CELLS:
            need = CELLS - len(cells)
            counties = rng.choices(range(len(COUNTIES)), cum_weights=county_cum, k=need)
            births = rng.choices(range(len(days)), cum_weights=day_cum, k=need)
            cells.update(dict.fromkeys(c * len(days) + d for c, d in zip(counties, births, strict=True)))
        self._cells = list(cells)[:CELLS]
        self._days = days
        self._rounds = [(rng.randrange(1, CELLS, 2), rng.randrange(CELLS)) for _ in range(SERIALS)]
        self._serials = rng.sample(range(1, SERIALS + 1), SERIALS)
        self._base = rng.getrandbits(64)

    def __getitem__(self, k: int) -> Person:
        if not 0 <= k < self.capacity:
            raise IndexError(f"the demo city has at most {self.capacity} people")
        rnd, j = divmod(k, CELLS)
        mult, add = self._rounds[rnd]
        cell = self._cells[(mult * j + add) & (CELLS - 1)]
        county_index, day_index = divmod(cell, len(self._days))
        county, day = COUNTIES[county_index], self._days[day_index]
        h = mix((self._base + k) & MASK64)
        male = (h & 0xFFFF) < day.male_share
        # Round r of a cell takes serial number (r + cell) mod 499 of a shuffled list: distinct for
        # the cell's rounds, and different cells of one round get different serials.
        serial = 2 * self._serials[(rnd + cell) % SERIALS] + male  # odd 17th digit: male (GB 11643)
        check = _CHECK_BY_SUM[(_COUNTY_SUMS[county_index] + day.id_sum + _SERIAL_SUMS[serial]) % 11]
        pool = _GIVEN[day.era][male]
        given = pool[(h >> 26) % len(pool)]
        if (h >> 16) & 7:  # one in eight has a one-character given name
            given += pool[(h >> 34) % len(pool)]
        h2 = mix(h)
        return Person(
            id_number=f"{county.code}{day.compact}{serial:03d}{check}",
            name=SURNAME_SLOTS[(h >> 42) & 1023] + given,
            gender="男" if male else "女",
            born=day.day,
            birth_date=day.iso,
            county=county,
            mobile=f"{MOBILE_PREFIXES[h2 % len(MOBILE_PREFIXES)]}{(h2 >> 8) % 100_000_000:08d}",
            address=street_address(county, mix(h2)),
        )


@lru_cache(maxsize=4)
def people(seed: int) -> People:
    """Cached: building the cell table takes a fraction of a second."""
    return People(seed)


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def aged(low: int, high: int = 200, on: date = AS_OF) -> Callable[[Person], bool]:
    """Whether a person is at least `low` and under `high` years old on `on`."""
    return lambda person: low <= age_on(person.born, on) < high


# --- Vehicles -------------------------------------------------------------------------------------

PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O (GA 36)


def _plate_patterns() -> list[tuple[str, int]]:
    patterns = ["DDDDD"]
    patterns += ["".join("L" if i == p else "D" for i in range(5)) for p in range(5)]
    patterns += [
        "".join("L" if i in (p, q) else "D" for i in range(5)) for p in range(5) for q in range(p + 1, 5)
    ]
    sized = [(p, 24 ** p.count("L") * 10 ** p.count("D")) for p in patterns]
    return [*sized, ("EDDDDD", 2 * 10**5)]  # new-energy plates: D (battery) or F (hybrid) + 5 digits


PLATE_PATTERNS = _plate_patterns()
PLATE_CUM = list(accumulate(size for _, size in PLATE_PATTERNS))
PLATE_SPACE = PLATE_CUM[-1]


def plate(index: int) -> str:
    """The index-th 冀A plate (up to two letters among five characters, or a new-energy plate)."""
    at = bisect(PLATE_CUM, index)
    value = index - (PLATE_CUM[at - 1] if at else 0)
    chars = []
    for kind in reversed(PLATE_PATTERNS[at][0]):
        base = {"D": 10, "L": 24, "E": 2}[kind]
        value, digit = divmod(value, base)
        chars.append(str(digit) if kind == "D" else PLATE_LETTERS[digit] if kind == "L" else "DF"[digit])
    return "冀A" + "".join(reversed(chars))
