"""Rows of the demo entries about people: police, civil affairs, human resources, health, medical
insurance, housing fund, land registry and education. Each generator yields rows until its key
space is exhausted; keys are unique because every row is about a different person (drawn with
`World.distinct`) or carries a number taken from a permutation of its key space."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta

from govshare.demo.registers import World, zihao
from govshare.demo.synthetic import (
    AS_OF,
    COUNTIES,
    COUNTY_SLOTS,
    ESTATE_TAILS,
    OUTSIDE,
    PLATE_LETTERS,
    PLATE_SPACE,
    Person,
    add_years,
    affine,
    age_on,
    aged,
    clock,
    day_between,
    mix,
    money,
    parse_weighted,
    plate,
    recent_day,
    slots,
    street_address,
    words,
)

Row = dict[str, str]


def population(world: World) -> Iterator[Row]:
    people = world.people
    for k in range(people.capacity):
        p = people[k]
        yield {
            "id_number": p.id_number,
            "name": p.name,
            "gender": p.gender,
            "birth_date": p.birth_date,
            "mobile": p.mobile,
            "address": p.address,
            "region_code": p.county.code,
        }


_VEHICLE_TYPES = slots(
    parse_weighted(
        "小型普通客车60 小型轿车15 小型越野客车8 轻型普通货车6 普通二轮摩托车4 重型半挂牵引车2"
        " 重型仓栅式货车2 中型普通客车1 大型普通客车1 轻型厢式货车1"
    ),
    256,
)


def vehicles(world: World) -> Iterator[Row]:
    rng = world.rng("机动车登记信息")
    a, b = affine(rng, PLATE_SPACE)
    for j in range(PLATE_SPACE):
        owner = world.anyone(rng, aged(18))
        registered = recent_day(rng, max(date(2000, 1, 1), add_years(owner.born, 18)))
        yield {
            "plate_number": plate((a * j + b) % PLATE_SPACE),
            "name": owner.name,
            "id_number": owner.id_number,
            "mobile": owner.mobile,
            "vehicle_type": _VEHICLE_TYPES[rng.randrange(256)],
            "first_registered_on": registered.isoformat(),
            "region_code": owner.county.code,
        }


_MOVES_CHILD = ("迁入：随父母由{outside}迁入", "市内迁移：随父母由{other}迁入{county}")
_MOVES_ADULT = (
    "迁入：因工作调动由{outside}迁入",
    "迁入：因婚姻由{outside}迁入",
    "迁入：投靠亲属由{outside}迁入",
    "迁出：因升学迁往{outside}",
    "迁出：因工作调动迁往{outside}",
    "市内迁移：由{other}迁入{county}",
)


def migrations(world: World) -> Iterator[Row]:
    rng = world.rng("户籍迁移信息")
    for p in world.distinct("户籍迁移信息"):
        moved = recent_day(rng, max(date(1995, 1, 1), p.born))
        other = p.county
        while other == p.county:
            other = COUNTIES[rng.randrange(len(COUNTIES))]
        moves = _MOVES_CHILD if age_on(p.born, moved) < 16 else _MOVES_ADULT
        yield {
            "id_number": p.id_number,
            "name": p.name,
            "region_code": p.county.code,
            "started_on": moved.isoformat(),
            "description": rng.choice(moves).format(
                outside=rng.choice(OUTSIDE), other=other.name, county=p.county.name
            ),
        }


_DRIVER_STATUS = slots(parse_weighted("正常90 超分2 暂扣1 注销5 吊销1 锁定1"), 256)


def drivers(world: World) -> Iterator[Row]:
    """The 驾驶证号 is the holder's 公民身份号码; a licence is valid 6 years, then 10."""
    rng = world.rng("驾驶人信息")
    for p in world.distinct("驾驶人信息", aged(18, 80)):
        years = rng.choice((6, 10, 10))
        first = add_years(p.born, 18)
        issued = day_between(rng, max(first, add_years(AS_OF, -years) + timedelta(days=1)), AS_OF)
        if rng.random() < 0.03:  # a few have not renewed in time
            issued = max(first, add_years(issued, -years))
        valid = add_years(issued, years)
        yield {
            "id_number": p.id_number,
            "name": p.name,
            "licence_no": p.id_number,
            "issued_on": issued.isoformat(),
            "valid_until": valid.isoformat(),
            "status": "逾期未换证" if valid < AS_OF else _DRIVER_STATUS[rng.randrange(256)],
        }


def travel_documents(world: World) -> Iterator[Row]:
    """普通护照 E + 8 digits, 往来港澳通行证 C + letter + 7 digits, 往来台湾通行证 T + 8 digits."""
    rng = world.rng("出入境证件办理信息")
    kinds = {"E": affine(rng, 10**8), "C": affine(rng, 24 * 10**7), "T": affine(rng, 10**8)}
    issued_count = dict.fromkeys(kinds, 0)
    for p in world.distinct("出入境证件办理信息"):
        kind = "E" if (r := rng.random()) < 0.55 else "C" if r < 0.9 else "T"
        (a, b), n = kinds[kind], issued_count[kind]
        issued_count[kind] += 1
        if kind == "C":
            value = (a * n + b) % (24 * 10**7)
            number = f"C{PLATE_LETTERS[value // 10**7]}{value % 10**7:07d}"
        else:
            number = f"{kind}{(a * n + b) % 10**8:08d}"
        yield {
            "id_number": p.id_number,
            "name": p.name,
            "licence_no": number,
            "issued_on": recent_day(rng, max(date(2012, 1, 1), p.born)).isoformat(),
        }


def floating_population(world: World) -> Iterator[Row]:
    rng = world.rng("流动人口居住登记信息")
    for p in world.distinct("流动人口居住登记信息", aged(16)):
        yield {
            "id_number": p.id_number,
            "name": p.name,
            "address": street_address(p.county, rng.getrandbits(64)),
            "region_code": p.county.code,
            "started_on": recent_day(rng, max(date(2015, 1, 1), add_years(p.born, 16))).isoformat(),
        }


_SUBSISTENCE_STATUS = slots(parse_weighted("正常保障82 暂停发放4 已退出14"), 256)


def subsistence(world: World) -> Iterator[Row]:
    rng = world.rng("最低生活保障对象信息")
    for p in world.distinct("最低生活保障对象信息"):
        yield {
            "id_number": p.id_number,
            "name": p.name,
            "region_code": p.county.code,
            "amount": money(rng.randint(30, 98) * 1000),  # monthly, 300–980 元
            "started_on": recent_day(rng, max(date(2012, 1, 1), p.born)).isoformat(),
            "status": _SUBSISTENCE_STATUS[rng.randrange(256)],
        }


_MARRIAGE = slots(parse_weighted("结婚登记70 离婚登记22 补领结婚证8"), 256)


def _marriageable(p: Person) -> bool:
    """Of legal marrying age (22 for men, 20 for women)."""
    return age_on(p.born, AS_OF) >= (22 if p.gender == "男" else 20)


def marriages(world: World) -> Iterator[Row]:
    rng = world.rng("婚姻登记信息")
    for p in world.distinct("婚姻登记信息", _marriageable):
        legal = add_years(p.born, 22 if p.gender == "男" else 20)
        yield {
            "id_number": p.id_number,
            "name": p.name,
            "title": _MARRIAGE[rng.randrange(256)],
            "issued_on": recent_day(rng, max(date(1985, 1, 1), legal)).isoformat(),
        }


def temporary_assistance(world: World) -> Iterator[Row]:
    rng = world.rng("临时救助对象信息")
    for p in world.distinct("临时救助对象信息"):
        yield {
            "id_number": p.id_number,
            "name": p.name,
            "amount": money(rng.randint(5, 100) * 10_000),  # 500–10,000 元
            "event_time": clock(rng, recent_day(rng, max(date(2023, 1, 1), p.born))),
        }


_INSURANCE_STATUS = slots(parse_weighted("参保缴费80 暂停缴费12 终止参保8"), 256)


def social_insurance(world: World) -> Iterator[Row]:
    """One row per person and 险种; the 社会保障号码 is the 公民身份号码."""
    rng = world.rng("社会保险参保信息")
    for p in world.distinct("社会保险参保信息", aged(16, 75)):
        started = recent_day(rng, max(date(1995, 1, 1), add_years(p.born, 16))).isoformat()
        status = _INSURANCE_STATUS[rng.randrange(256)]
        kinds = ["企业职工基本养老保险"]
        kinds += ["失业保险"] if rng.random() < 0.75 else []
        kinds += ["工伤保险"] if rng.random() < 0.7 else []
        for kind in kinds:
            yield {
                "social_security_no": p.id_number,
                "id_number": p.id_number,
                "name": p.name,
                "insurance_type": kind,
                "status": status,
                "started_on": started,
            }


_EMPLOYMENT = slots(parse_weighted("就业70 失业12 解除劳动关系18"), 256)


def employment(world: World) -> Iterator[Row]:
    rng = world.rng("就业登记信息")
    for p in world.distinct("就业登记信息", aged(16, 65)):
        employer = world.enterprise(rng)
        started = recent_day(rng, max(date(2008, 1, 1), add_years(p.born, 16), employer.established))
        yield {
            "id_number": p.id_number,
            "name": p.name,
            "credit_code": employer.credit_code,
            "started_on": started.isoformat(),
            "status": _EMPLOYMENT[rng.randrange(256)],
        }


_OCCUPATIONS = words(
    "电工 焊工 育婴员 保育师 中式烹调师 中式面点师 健康管理师 养老护理员 汽车维修工 美容师 美发师 茶艺师"
    " 企业人力资源管理师 电子商务师 家政服务员 保安员 钳工 车工 消防设施操作员 西式面点师"
)
_LEVELS = slots(
    parse_weighted("5五级/初级工30 4四级/中级工35 3三级/高级工25 2二级/技师8 1一级/高级技师2"), 256
)


def qualifications(world: World) -> Iterator[Row]:
    """职业技能等级证书: S + issuing authority (130100) + year + level + serial."""
    rng = world.rng("职业资格证书信息")
    a, b = affine(rng, 10**6)
    for j, p in enumerate(world.distinct("职业资格证书信息", aged(18, 64))):
        if j == 10**6:
            return
        level = _LEVELS[rng.randrange(256)]
        issued = recent_day(rng, max(date(2019, 1, 1), add_years(p.born, 18)))
        yield {
            "licence_no": f"S130100{issued.year}{level[0]}{(a * j + b) % 10**6:06d}",
            "id_number": p.id_number,
            "name": p.name,
            "title": f"{rng.choice(_OCCUPATIONS)}（{level[1:]}）",
            "issued_on": issued.isoformat(),
        }


def birth_certificates(world: World) -> Iterator[Row]:
    """《出生医学证明》编号: a letter per issue year, the province (13) and a 7-digit serial."""
    rng = world.rng("出生医学证明信息")
    a, b = affine(rng, 10**7)
    for j, p in enumerate(world.distinct("出生医学证明信息", lambda p: p.born >= date(2015, 1, 1))):
        if j == 10**7:
            return
        yield {
            "licence_no": f"{'NOPQRSTUVW'[p.born.year - 2015]}13{(a * j + b) % 10**7:07d}",
            "name": p.name,
            "gender": p.gender,
            "birth_date": p.birth_date,
            "region_code": p.county.code,
        }


# The national immunisation schedule for children: (vaccine and dose, age in days)
_SCHEDULE = (
    ("乙肝疫苗第1剂", 0),
    ("卡介苗", 0),
    ("乙肝疫苗第2剂", 30),
    ("脊灰灭活疫苗第1剂", 60),
    ("脊灰灭活疫苗第2剂", 90),
    ("百白破疫苗第1剂", 90),
    ("脊灰减毒活疫苗第3剂", 120),
    ("百白破疫苗第2剂", 120),
    ("百白破疫苗第3剂", 150),
    ("乙肝疫苗第3剂", 180),
    ("A群流脑多糖疫苗第1剂", 180),
    ("麻腮风疫苗第1剂", 240),
    ("乙脑减毒活疫苗第1剂", 240),
    ("A群流脑多糖疫苗第2剂", 270),
    ("麻腮风疫苗第2剂", 540),
    ("百白破疫苗第4剂", 540),
    ("甲肝减毒活疫苗", 540),
    ("乙脑减毒活疫苗第2剂", 730),
    ("A群C群流脑多糖疫苗第1剂", 1095),
    ("脊灰减毒活疫苗第4剂", 1460),
    ("A群C群流脑多糖疫苗第2剂", 2190),
    ("白破疫苗", 2190),
)


def vaccinations(world: World) -> Iterator[Row]:
    """Every dose a child born since 2017 has had by AS_OF, at distinct times per child."""
    rng = world.rng("预防接种信息")
    for p in world.distinct("预防接种信息", lambda p: p.born >= date(2017, 1, 1)):
        given: set[str] = set()  # this child's times: doses on one day are minutes apart
        for title, days in _SCHEDULE:
            day = p.born + timedelta(days=days + (rng.randrange(15) if days else 0))
            if day > AS_OF:
                break
            at = clock(rng, day)
            while at in given:
                at = f"{at[:14]}{(int(at[14:16]) + 1) % 60:02d}{at[16:]}"
            given.add(at)
            yield {"id_number": p.id_number, "name": p.name, "title": title, "event_time": at}


# 地籍区 numbers: each of a county's weighted slots is one cadastral district of that county.
_SLOT_ZONE = [COUNTY_SLOTS[: i + 1].count(c) for i, c in enumerate(COUNTY_SLOTS)]
_UNIT_SPACE = 1024 * 20 * 5000 * 30 * 120  # slot × 地籍子区 × 宗地 × 幢 × 户


def real_estate(world: World) -> Iterator[Row]:
    """不动产单元号 (GB/T 37346, 28 characters): county (6) + 地籍区 (3) + 地籍子区 (3) + 宗地特征码
    GB (国有建设用地使用权) + 宗地顺序号 (5) + F (房屋) + 幢号 (4) + 户号 (4)."""
    rng = world.rng("不动产登记信息")
    a, b = affine(rng, _UNIT_SPACE)
    for j in range(_UNIT_SPACE):
        value, slot = divmod((a * j + b) % _UNIT_SPACE, 1024)
        value, subzone = divmod(value, 20)
        value, parcel = divmod(value, 5000)
        house, building = divmod(value, 30)
        county = COUNTIES[COUNTY_SLOTS[slot]]
        h = mix(world.code_offset ^ ((slot * 20 + subzone) * 5000 + parcel))  # the parcel's estate
        road = county.roads[h % len(county.roads)]
        estate = zihao(h >> 8) + ESTATE_TAILS[(h >> 24) % len(ESTATE_TAILS)]
        floor, room = divmod(house, 4)
        flat = f"{building + 1}号楼{floor + 1}{room + 1:02d}室"
        owner = world.anyone(rng, aged(18))
        yield {
            "unit_no": f"{county.code}{_SLOT_ZONE[slot]:03d}{subzone + 1:03d}GB{parcel + 1:05d}"
            f"F{building + 1:04d}{house + 1:04d}",
            "name": owner.name,
            "id_number": owner.id_number,
            "location": f"{county.name}{road}{(h >> 32) % 399 + 1}号{estate}{flat}",
            "area": money(rng.randint(4500, 18000)),
            "issued_on": recent_day(rng, max(date(2016, 1, 1), add_years(owner.born, 18))).isoformat(),
        }


_FUND_STATUS = slots(parse_weighted("正常缴存82 封存14 销户4"), 256)


def housing_fund(world: World) -> Iterator[Row]:
    """Monthly deposits: 12% from the employee and 12% from the employer of a 2,000–25,000 元 base."""
    rng = world.rng("住房公积金缴存信息")
    for p in world.distinct("住房公积金缴存信息", aged(18, 60)):
        employer = world.enterprise(rng, where=lambda e: e.status in ("存续", "在业"))
        yield {
            "id_number": p.id_number,
            "name": p.name,
            "credit_code": employer.credit_code,
            "amount": money(rng.randint(2000, 25000) * 24),
            "status": _FUND_STATUS[rng.randrange(256)],
        }


def medical_insurance(world: World) -> Iterator[Row]:
    rng = world.rng("医疗保障参保信息")
    for p in world.distinct("医疗保障参保信息"):
        employee = 18 <= age_on(p.born, AS_OF) < 65 and rng.random() < 0.45
        yield {
            "social_security_no": p.id_number,
            "id_number": p.id_number,
            "name": p.name,
            "insurance_type": "职工基本医疗保险" if employee else "城乡居民基本医疗保险",
            "status": _INSURANCE_STATUS[rng.randrange(256)],
        }


TERM = date(2024, 9, 1)  # the school year of the demo data
_STAGES = (("高中", 15), ("初中", 12), ("小学", 6))  # school and age on entering
_PUPIL_STATUS = slots(parse_weighted("在籍在读92 休学2 转出6"), 256)


def students(world: World) -> Iterator[Row]:
    """Pupils aged 6–17 on 1 September 2024, at a school of their stage in their county."""
    rng = world.rng("学生学籍信息")
    for p in world.distinct("学生学籍信息", aged(6, 18, on=TERM)):
        age = age_on(p.born, TERM)
        kind, entry_age = next(stage for stage in _STAGES if age >= stage[1])
        school = world.schools.pick(rng.randrange, kind, p.county)
        yield {
            "id_number": p.id_number,
            "name": p.name,
            "org_name": school.name,
            "started_on": date(TERM.year - (age - entry_age), 9, 1).isoformat(),
            "status": _PUPIL_STATUS[rng.randrange(256)],
        }


GENERATORS: dict[str, Callable[[World], Iterator[Row]]] = {
    "人口基础信息": population,
    "机动车登记信息": vehicles,
    "户籍迁移信息": migrations,
    "驾驶人信息": drivers,
    "出入境证件办理信息": travel_documents,
    "流动人口居住登记信息": floating_population,
    "最低生活保障对象信息": subsistence,
    "婚姻登记信息": marriages,
    "临时救助对象信息": temporary_assistance,
    "社会保险参保信息": social_insurance,
    "就业登记信息": employment,
    "职业资格证书信息": qualifications,
    "出生医学证明信息": birth_certificates,
    "预防接种信息": vaccinations,
    "不动产登记信息": real_estate,
    "住房公积金缴存信息": housing_fund,
    "医疗保障参保信息": medical_insurance,
    "学生学籍信息": students,
}
