"""The registers the demo's entries refer to — people, enterprises (91…), 个体工商户 (92…) and schools —
and the `World` that bundles them for one run.

Each register is random-access: member k is a pure function of (seed, k), so that an entry which
mentions enterprise k shows the same credit code and name as row k of 企业登记信息. Organisation codes
(the 9 characters inside a 统一社会信用代码) come from disjoint serial blocks per kind of
organisation, so no two organisations of the demo ever share a code.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from itertools import count
from typing import NamedTuple

from govshare.demo.synthetic import (
    AS_OF,
    COUNTIES,
    COUNTY_SLOTS,
    MASK64,
    SURNAME_SLOTS,
    County,
    People,
    Person,
    affine,
    landline,
    mix,
    office_address,
    parse_weighted,
    people,
    seeded,
    slots,
    words,
)
from govshare.identifiers import CREDIT_ALPHABET, credit_code_check_char, id_number_valid

# First serial of each kind of organisation; a block holds BLOCK serials, and blocks never overlap.
BLOCK = 5_000_000
ENTERPRISE_SERIALS, SHOP_SERIALS, SCHOOL_SERIALS = 0, 20_000_000, 30_000_000
SOCIAL_SERIALS, PENSION_SERIALS, MEDICAL_SERIALS = 40_000_000, 45_000_000, 50_000_000
CHECKUP_SERIALS, PHARMACY_SERIALS = 55_000_000, 60_000_000
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code(serial: int, marker: str, offset: int) -> str:
    """A 9-character organisation code (GB 11714: 8 characters and a MOD 11 check character).

    New codes (marker "MA" enterprises, "MJ" social organisations, "MB" public institutions, as issued
    since 2015) carry six base-31 characters, old ones (marker "") eight digits; either way, distinct
    serials below 10**8 give distinct codes.
    """
    if marker:
        value = (serial * 1_103_515_245 + offset) % 31**6
        chars = []
        for _ in range(6):
            value, digit = divmod(value, 31)
            chars.append(CREDIT_ALPHABET[digit])
        body = marker + "".join(chars)
    else:
        body = f"{(serial * 48_271 + offset) % 10**8:08d}"
    remainder = 11 - sum(int(c, 36) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True)) % 11
    return body + ("X" if remainder == 10 else "0" if remainder == 11 else str(remainder))


def credit_code(head: str, region: str, organisation: str) -> str:
    """GB 32100: registration authority and kind (91 enterprise, 92 个体工商户, 51/52/53 social
    organisation, 12 public institution), region, organisation code, check character."""
    first17 = head + region + organisation
    return first17 + credit_code_check_char(first17)


def registered_code(head: str, region: str, serial: int, marker: str, offset: int) -> str:
    """The credit code of the organisation with `serial`. About one old-style (all-digit) code in
    eleven would also pass the citizen ID number check (GB 11643 MOD 11-2) and could be taken for a
    person's ID by a checksum-only scanner of open data; such a serial takes the next offset's
    organisation code instead. The shift moves a code by a multiple of about 8.6 million serials,
    far outside any register's block, so codes stay distinct."""
    for step in range(64):
        code = credit_code(head, region, org_code(serial, marker, offset + step))
        if not id_number_valid(code):
            return code
    raise AssertionError(f"no unambiguous credit code for serial {serial}")  # 64 misses: (1/11)**64


def new_style(established: date) -> bool:
    """Whether an organisation established then has a new-style (MA…) organisation code."""
    return established >= date(2015, 10, 1)


def _since(h: int, start: date) -> date:
    """A day between start and AS_OF from 16 bits of h, more likely recent (registrations grow)."""
    span = AS_OF.toordinal() - start.toordinal()
    return date.fromordinal(start.toordinal() + int(span * ((h & 0xFFFF) / 65536) ** 0.6))


ZIHAO = "华泰恒信瑞德鑫盛宏达丰源隆兴昌祥顺通博创新远安嘉佳和诚合金润正宇天海晨光明辉凯腾翔鸿旭益众联中冀燕康美卓越锦荣泽汇永"  # noqa: E501
ZIHAO_SPACE = len(ZIHAO) * (len(ZIHAO) - 1)


def zihao(index: int) -> str:
    """The index-th two-character trade name (字号); distinct for distinct index below ZIHAO_SPACE."""
    first, rest = divmod(index % ZIHAO_SPACE, len(ZIHAO) - 1)
    return ZIHAO[first] + ZIHAO[rest + (rest >= first)]


# Lines of business of enterprises: (word, weight, tag)
SECTORS = (
    ("商贸", 14, ""),
    ("科技", 12, ""),
    ("建筑工程", 8, "build"),
    ("网络科技", 6, ""),
    ("机械设备", 5, "factory"),
    ("物流", 5, ""),
    ("餐饮管理", 5, "food"),
    ("食品", 5, "food"),
    ("超市", 3, "food"),
    ("医药", 3, ""),
    ("房地产开发", 3, "estate"),
    ("物业服务", 3, ""),
    ("文化传媒", 4, ""),
    ("农业开发", 3, "food"),
    ("环保科技", 3, ""),
    ("汽车销售服务", 3, ""),
    ("建材", 3, "factory"),
    ("服装", 2, ""),
    ("印刷", 2, "factory"),
    ("化工", 2, "factory"),
    ("电子", 3, "factory"),
    ("劳务服务", 3, ""),
    ("教育咨询", 2, ""),
    ("医疗器械", 2, ""),
    ("装饰工程", 3, "build"),
    ("钢结构", 1, "factory"),
    ("纺织", 2, "factory"),
    ("出租汽车", 1, "taxi"),
)
_SECTOR_SLOTS = [int(i) for i in slots([(str(i), float(w)) for i, (_, w, _) in enumerate(SECTORS)], 256)]
_STATUS = slots(parse_weighted("存续80 在业6 注销10 吊销，未注销3 迁出1"), 256)


class Enterprise(NamedTuple):
    credit_code: str
    name: str
    tag: str  # food, estate, factory, build, taxi or ""
    county: County
    established: date
    address: str
    capital_cents: int  # 注册资本 in 万元, times 100
    status: str


class Enterprises:
    def __init__(self, seed: int) -> None:
        rng = seeded(seed, "enterprises")
        self._base = rng.getrandbits(64)
        self._offset = rng.getrandbits(40)
        self._names = affine(rng, ZIHAO_SPACE)

    def __getitem__(self, k: int) -> Enterprise:
        h = mix((self._base + k) & MASK64)
        county = COUNTIES[COUNTY_SLOTS[h & 1023]]
        word, _, tag = SECTORS[_SECTOR_SLOTS[(h >> 10) & 255]]
        established = _since(h >> 18, date(1993, 1, 1))
        marker = "MA" if new_style(established) else ""
        code = registered_code("91", county.code, ENTERPRISE_SERIALS + k, marker, self._offset)
        a, b = self._names  # trade names are distinct among the first ZIHAO_SPACE enterprises
        shares = "股份" if (h >> 34) % 40 == 0 else ""
        scale = 100 if tag == "estate" else 10 if tag in ("factory", "build") else 1
        capital = scale * (3, 5, 10, 20, 30, 50, 100, 200, 500, 1000)[(h >> 40) % 10]
        # Only enterprises of some age have been struck off or moved away.
        status = _STATUS[(h >> 50) & 255] if established < date(2023, 1, 1) else "存续"
        return Enterprise(
            credit_code=code,
            name=f"石家庄{zihao((a * k + b) % ZIHAO_SPACE)}{word}{shares}有限公司",
            tag=tag,
            county=county,
            established=established,
            address=office_address(county, mix(h)),
            capital_cents=capital * 100,
            status=status,
        )


FOOD_SHOPS = words(
    "面馆 饺子馆 烧烤店 包子铺 熟食店 水果店 超市 便利店 蛋糕店 饭店 快餐店 早餐店 粮油店 烟酒店 奶茶店"
)
SALES_SHOPS = frozenset(words("熟食店 水果店 超市 便利店 粮油店 烟酒店"))  # 食品销售, the rest 餐饮服务
OTHER_SHOPS = words(
    "五金店 理发店 服装店 手机维修部 汽车修理部 干洗店 建材门市 家电维修部 文具店 花店 美容店"
)


class Shop(NamedTuple):
    credit_code: str
    name: str
    kind: str  # e.g. 面馆
    county: County
    established: date


class Shops:
    def __init__(self, seed: int) -> None:
        rng = seeded(seed, "shops")
        self._base = rng.getrandbits(64)
        self._offset = rng.getrandbits(40)

    def __getitem__(self, k: int) -> Shop:
        h = mix((self._base + k) & MASK64)
        county = COUNTIES[COUNTY_SLOTS[h & 1023]]
        kinds = FOOD_SHOPS if (h >> 10) % 100 < 45 else OTHER_SHOPS
        kind = kinds[(h >> 40) % len(kinds)]
        surname = SURNAME_SLOTS[(h >> 20) & 1023]
        brand = (zihao(h >> 30), f"{surname}记", f"老{surname}家", f"{surname}氏")[(h >> 17) & 3]
        established = _since(h >> 46, date(2000, 1, 1))
        code = registered_code(
            "92", county.code, SHOP_SERIALS + k, "MA" if new_style(established) else "", self._offset
        )
        return Shop(
            credit_code=code,
            name=f"石家庄市{county.name}{brand}{kind}",
            kind=kind,
            county=county,
            established=established,
        )


# Kinds of school: (kind, weight, pupils from, pupils to)
SCHOOL_KINDS = (
    ("幼儿园", 35, 80, 480),
    ("小学", 40, 300, 2800),
    ("初中", 15, 500, 2400),
    ("高中", 10, 800, 3600),
)
_SCHOOL_SLOTS = [int(i) for i in slots([(str(i), float(k[1])) for i, k in enumerate(SCHOOL_KINDS)], 256)]


class School(NamedTuple):
    credit_code: str
    name: str
    kind: str
    county: County
    address: str
    pupils: int
    phone: str


class Schools:
    """Kindergartens and schools; public ones are 事业单位 (12…), private ones 民办非企业单位 (52…)."""

    def __init__(self, seed: int, register: int) -> None:
        rng = seeded(seed, "schools")
        self._base = rng.getrandbits(64)
        self._offset = rng.getrandbits(40)
        self.register = register
        # The register's schools by kind and county, for placing pupils.
        self._index: dict[tuple[str, str], list[int]] = {}
        for k in range(register):
            school = self[k]
            for key in ((school.kind, school.county.code), (school.kind, "")):
                self._index.setdefault(key, []).append(k)

    def __getitem__(self, k: int) -> School:
        h = mix((self._base + k) & MASK64)
        county = COUNTIES[COUNTY_SLOTS[h & 1023]]
        kind, _, low, high = SCHOOL_KINDS[_SCHOOL_SLOTS[(h >> 10) & 255]]
        private = (h >> 18) % 100 < (45 if kind == "幼儿园" else 8)
        brand, n = zihao(h >> 25), (h >> 38) % 9 + 1
        place = county.towns[(h >> 42) % len(county.towns)] if county.towns else ""
        road = county.roads[(h >> 42) % len(county.roads)]
        if private:
            name = f"石家庄市{county.name}{brand}{'幼儿园' if kind == '幼儿园' else '实验学校'}"
        elif kind == "幼儿园":
            name = f"{county.name}{place}中心幼儿园" if place else f"石家庄市{county.name}第{n}幼儿园"
        elif kind == "小学":
            name = f"{county.name}{place}中心小学" if place else f"石家庄市{county.name}{road}小学"
        elif kind == "初中":
            name = f"{county.name}{place}中学" if place else f"石家庄市{county.name}{road}中学"
        else:
            name = f"{county.name}第{n}中学" if county.towns else f"石家庄市第{(h >> 47) % 45 + 1}中学"
        marker = ("MJ" if private else "MB") if (h >> 52) % 10 < 3 else ""
        return School(
            credit_code=registered_code(
                "52" if private else "12", county.code, SCHOOL_SERIALS + k, marker, self._offset
            ),
            name=name,
            kind=kind,
            county=county,
            address=office_address(county, mix(h)),
            pupils=low + (h >> 56) * (high - low) // 256,
            phone=landline(mix(h) >> 20),
        )

    def pick(self, draw: Callable[[int], int], kind: str, county: County) -> School:
        """A school of the register of that kind, in the county when it has one."""
        choices = self._index.get((kind, county.code)) or self._index.get((kind, ""))
        return self[choices[draw(len(choices))]] if choices else self[draw(self.register)]


class World:
    """What the entries of one run share: the seed, the people and the registers' sizes.

    People in entries other than 人口基础信息 come from its first `population` people, and the
    organisations they mention from the registers' first rows, so the demo's data joins; when an
    entry needs more than a register holds, the rest come from beyond it, still valid and unique.
    """

    def __init__(self, seed: int, *, population: int, enterprises: int, shops: int, schools: int) -> None:
        if population < 1:
            raise ValueError("population must be at least 1")
        self.seed = seed
        self.population = population
        self.people: People = people(seed)
        self.enterprises = Enterprises(seed)
        self.enterprise_register = enterprises
        self._tags: dict[str, list[int]] = {}
        self.shops = Shops(seed)
        self.shop_register = shops
        self.schools = Schools(seed, schools)
        self.code_offset = mix(seed) & 0xFF_FFFF_FFFF

    def rng(self, salt: str) -> random.Random:
        return seeded(self.seed, salt)

    def org_code(self, serial: int, marker: str) -> str:
        return org_code(serial, marker, self.code_offset)

    def credit_code(self, head: str, region: str, serial: int, marker: str) -> str:
        return registered_code(head, region, serial, marker, self.code_offset)

    def distinct(self, salt: str, where: Callable[[Person], bool] | None = None) -> Iterator[Person]:
        """Distinct people: the population in a shuffled order, then people beyond it."""
        for k in distinct_indices(self.rng(salt), self.population):
            person = self.people[k]
            if where is None or where(person):
                yield person

    def anyone(self, rng: random.Random, where: Callable[[Person], bool]) -> Person:
        """A person of the population (repeats allowed) for whom `where` holds."""
        for tries in count():
            person = self.people[rng.randrange(self.population if tries < 200 else self.people.capacity)]
            if where(person):
                return person
        raise AssertionError("unreachable")

    def enterprise(
        self, rng: random.Random, tag: str | None = None, where: Callable[[Enterprise], bool] | None = None
    ) -> Enterprise:
        """An enterprise of the register (repeats allowed) with that tag (line of business) for which
        `where` holds; one from beyond the register when the register has none."""
        members = self._tagged(tag)
        for tries in count():
            k = members[rng.randrange(len(members))] if members and tries < 200 else rng.randrange(BLOCK)
            enterprise = self.enterprises[k]
            if (tag is None or enterprise.tag == tag) and (where is None or where(enterprise)):
                return enterprise
        raise AssertionError("unreachable")

    def _tagged(self, tag: str | None) -> Sequence[int]:
        if tag is None:
            return range(self.enterprise_register)
        if tag not in self._tags:
            register = range(self.enterprise_register)
            self._tags[tag] = [k for k in register if self.enterprises[k].tag == tag]
        return self._tags[tag]

    def shop(self, rng: random.Random, where: Callable[[Shop], bool]) -> Shop:
        for tries in count():
            shop = self.shops[rng.randrange(self.shop_register if tries < 200 else BLOCK)]
            if where(shop):
                return shop
        raise AssertionError("unreachable")


def distinct_indices(rng: random.Random, pool: int) -> Iterator[int]:
    """range(pool) in a shuffled order (no memory), then pool, pool + 1, …"""
    a, b = affine(rng, pool)
    for j in range(pool):
        yield (a * j + b) % pool
    yield from count(pool)
