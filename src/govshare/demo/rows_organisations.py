"""Rows of the demo entries about organisations and places: market regulation, social
organisations, care homes, medical institutions, schools, housing presales, the old taxi register
and 长安区's grids and community facilities. Each generator yields rows until its key space is
exhausted; keys are unique because they come from a register's distinct members or from a
permutation of the key space."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import NamedTuple

from govshare.demo.registers import (
    BLOCK,
    CHECKUP_SERIALS,
    FOOD_SHOPS,
    MEDICAL_SERIALS,
    PENSION_SERIALS,
    PHARMACY_SERIALS,
    SALES_SHOPS,
    SOCIAL_SERIALS,
    Enterprise,
    World,
    distinct_indices,
    new_style,
    zihao,
)
from govshare.demo.synthetic import (
    AS_OF,
    COUNTIES,
    COUNTY_BY_CODE,
    COUNTY_SLOTS,
    PLATE_SPACE,
    SURNAME_SLOTS,
    County,
    add_years,
    affine,
    age_on,
    aged,
    day_between,
    landline,
    money,
    office_address,
    parse_weighted,
    plate,
    recent_day,
    slots,
    words,
)

Row = dict[str, str]


def _county(rng: random.Random) -> County:
    return COUNTIES[COUNTY_SLOTS[rng.randrange(1024)]]


def enterprises(world: World) -> Iterator[Row]:
    rng = world.rng("企业登记信息")
    for k in range(BLOCK):
        e = world.enterprises[k]
        representative = world.anyone(rng, aged(18, on=e.established))
        yield {
            "credit_code": e.credit_code,
            "enterprise_name": e.name,
            "legal_representative": representative.name,
            "registered_capital": money(e.capital_cents),
            "established_on": e.established.isoformat(),
            "address": e.address,
            "region_code": e.county.code,
            "business_status": e.status,
        }


def shops(world: World) -> Iterator[Row]:
    rng = world.rng("个体工商户登记信息")
    for k in range(BLOCK):
        s = world.shops[k]
        keeper = world.anyone(rng, aged(18, on=s.established))
        yield {
            "credit_code": s.credit_code,
            "enterprise_name": s.name,
            "legal_representative": keeper.name,
            "established_on": s.established.isoformat(),
            "region_code": s.county.code,
        }


class _Holder(NamedTuple):
    credit_code: str
    name: str
    county: County
    established: date


def _holder(world: World, rng: random.Random, enterprise_share: float) -> tuple[_Holder, bool]:
    """A food business (an enterprise or a 个体工商户) and whether it sells food (else 餐饮服务)."""
    if rng.random() < enterprise_share:
        e = world.enterprise(rng, "food")
        return _Holder(e.credit_code, e.name, e.county, e.established), "餐饮" not in e.name
    s = world.shop(rng, lambda s: s.kind in FOOD_SHOPS)
    return _Holder(s.credit_code, s.name, s.county, s.established), s.kind in SALES_SHOPS


def food_licences(world: World) -> Iterator[Row]:
    """食品经营许可证编号: JY + 主体业态 (1 食品销售, 2 餐饮服务) + county + 6-digit serial + check digit."""
    rng = world.rng("食品经营许可信息")
    a, b = affine(rng, 10**6)
    for j in range(10**6):
        holder, sales = _holder(world, rng, 0.4)
        # Licences run five years and are renewed, so the current one was issued in the last five.
        issued = recent_day(rng, max(add_years(AS_OF, -5) + timedelta(days=1), holder.established))
        body = f"{1 if sales else 2}{holder.county.code}{(a * j + b) % 10**6:06d}"
        yield {
            "licence_no": f"JY{body}{sum(map(int, body)) % 10}",
            "credit_code": holder.credit_code,
            "enterprise_name": holder.name,
            "issued_on": issued.isoformat(),
            "valid_until": (add_years(issued, 5) - timedelta(days=1)).isoformat(),
        }


# (violation, lowest and highest fine in 100 元)
_VIOLATIONS = (
    ("销售不符合食品安全标准的食品", 50, 1000),
    ("经营超过保质期的食品", 50, 500),
    ("未取得食品经营许可从事食品经营活动", 100, 1000),
    ("未按规定公示年度报告", 10, 100),
    ("虚假宣传", 200, 2000),
    ("不明码标价", 5, 50),
    ("销售不合格产品", 30, 500),
    ("使用未经定期检验的特种设备", 300, 3000),
    ("侵犯注册商标专用权", 50, 2500),
)


def penalties(world: World) -> Iterator[Row]:
    """Every penalty is against a different business, so (credit code, date) is unique."""
    rng = world.rng("市场主体行政处罚信息")
    firms = distinct_indices(world.rng("处罚企业"), world.enterprise_register)
    shops = distinct_indices(world.rng("处罚个体工商户"), world.shop_register)
    numbers: dict[int, int] = {}  # 决定书 numbers run per year
    while True:
        if rng.random() < 0.7:
            e = world.enterprises[next(firms)]
            code, name, since = e.credit_code, e.name, e.established
        else:
            s = world.shops[next(shops)]
            code, name, since = s.credit_code, s.name, s.established
        issued = recent_day(rng, max(date(2019, 1, 1), since))
        numbers[issued.year] = numbers.get(issued.year, 0) + 1
        violation, low, high = rng.choice(_VIOLATIONS)
        yield {
            "credit_code": code,
            "enterprise_name": name,
            "title": f"石市监罚〔{issued.year}〕{numbers[issued.year]}号 {violation}",
            "amount": money(rng.randint(low, high) * 10_000),
            "issued_on": issued.isoformat(),
        }


_EQUIPMENT = [
    (f"{code}{name}", weight)
    for code, name, weight in (
        ("梯", "曳引驱动乘客电梯", 50),
        ("梯", "自动扶梯", 6),
        ("梯", "杂物电梯", 4),
        ("容", "储气罐", 8),
        ("容", "液化石油气储罐", 3),
        ("锅", "燃气热水锅炉", 6),
        ("锅", "燃气蒸汽锅炉", 3),
        ("起", "桥式起重机", 8),
        ("起", "门式起重机", 3),
        ("车", "叉车", 9),
    )
]


def special_equipment(world: World) -> Iterator[Row]:
    """使用登记证编号 (TSG 08): 设备类别代号 + 机关代码 + 冀A + serial + (year)."""
    rng = world.rng("特种设备登记信息")
    kinds = slots([(kind, float(weight)) for kind, weight in _EQUIPMENT], 256)
    a, b = affine(rng, 10**6)
    for j in range(10**6):
        user = world.enterprise(rng)
        kind = kinds[rng.randrange(256)]
        issued = recent_day(rng, max(date(2010, 1, 1), user.established))
        value = (a * j + b) % 10**6
        yield {
            "licence_no": f"{kind[0]}1{value // 10**5}冀A{value % 10**5:05d}({issued.year % 100:02d})",
            "credit_code": user.credit_code,
            "title": kind[1:],
            "location": office_address(user.county, rng.getrandbits(64)),
            "issued_on": issued.isoformat(),
        }


_ASSOCIATIONS = words(
    "餐饮行业协会 物流行业协会 软件行业协会 书法家协会 摄影家协会 老年体育协会 围棋协会 建筑业协会"
    " 食品工业协会 青年企业家协会 女企业家协会 电子商务协会 中医药学会 养老服务业协会 家政服务业协会"
    " 物业管理协会 旅游协会"
    " 汽车流通商会 浙江商会 福建商会 心理学会 篮球协会 足球协会 诗词学会 收藏家协会 钓鱼协会 志愿者协会"
)
_NON_ENTERPRISE = words(
    "培训学校 艺术培训学校 社会工作服务中心 康复中心 职业技能培训学校 青少年活动中心 社区服务中心"
)
_SOCIAL_STATUS = slots(parse_weighted("正常85 注销10 撤销5"), 256)


def social_organisations(world: World) -> Iterator[Row]:
    """社会团体 (51), 民办非企业单位 (52) and 基金会 (53), registered by the city or a county."""
    rng = world.rng("社会组织登记信息")
    pool = len(_ASSOCIATIONS) * (len(COUNTIES) + 1)
    associations = distinct_indices(world.rng("社会团体"), pool)
    for j in range(BLOCK):
        established = recent_day(rng, date(1995, 1, 1))
        county = _county(rng)
        city = rng.random() < 0.4
        if (r := rng.random()) < 0.35:
            # Each (registering county or the city, association) once; then with a trade name.
            head, index = "51", next(associations)
            where, topic = divmod(index % pool, len(_ASSOCIATIONS))
            city = where == len(COUNTIES)
            county = county if city else COUNTIES[where]
            brand = zihao(index) if index >= pool else ""
            name = ("石家庄市" if city else f"石家庄市{county.name}") + brand + _ASSOCIATIONS[topic]
        elif r < 0.93:
            head = "52"
            place = "石家庄市" if city else f"石家庄市{county.name}"
            name = f"{place}{zihao(rng.randrange(1 << 30))}{rng.choice(_NON_ENTERPRISE)}"
        else:
            head, city = "53", True
            name = f"石家庄市{zihao(rng.randrange(1 << 30))}{rng.choice(words('慈善 教育 助学 公益'))}基金会"
        marker = "MJ" if new_style(established) else ""
        yield {
            "credit_code": world.credit_code(
                head, "130100" if city else county.code, SOCIAL_SERIALS + j, marker
            ),
            "org_name": name,
            "legal_representative": world.anyone(rng, aged(18, on=established)).name,
            "established_on": established.isoformat(),
            "business_status": _SOCIAL_STATUS[rng.randrange(256)],
        }


def pension_institutions(world: World) -> Iterator[Row]:
    rng = world.rng("养老服务机构信息")
    for j in range(BLOCK):
        county, brand = _county(rng), zihao(rng.randrange(1 << 30))
        established = recent_day(rng, date(2000, 1, 1))
        if (r := rng.random()) < 0.5:  # private care homes: 民办非企业单位
            head, marker, beds = "52", "MJ", rng.randint(30, 400)
            name = f"石家庄市{county.name}{brand}{rng.choice(('养老院', '老年公寓', '护理院'))}"
        elif r < 0.8:  # public: 事业单位
            head, marker = "12", "MB"
            if county.towns:
                name, beds = f"{county.name}{rng.choice(county.towns)}敬老院", rng.randint(20, 150)
            else:
                name, beds = (
                    f"石家庄市{county.name}{rng.choice(county.roads)}社区养老服务中心",
                    rng.randint(10, 60),
                )
        else:
            head, marker, beds = "91", "MA", rng.randint(50, 300)
            name = f"石家庄{brand}康养服务有限公司"
        marker = marker if new_style(established) else ""
        yield {
            "credit_code": world.credit_code(head, county.code, PENSION_SERIALS + j, marker),
            "org_name": name,
            "address": office_address(county, rng.getrandbits(64)),
            "count": str(beds),
            "phone": landline(rng.getrandbits(64)),
        }


class _Clinic(NamedTuple):
    name: str
    category: str  # 医疗机构类别代码
    head: str  # of its credit code: 12 public, 52 private non-profit, 91 for-profit
    county: County
    large: bool  # 100 beds or more: licence valid 15 years, else 5


def _clinic(rng: random.Random, kinds: str) -> _Clinic:
    """A medical institution of one of `kinds` (letters: H hospital, C community, O outpatient,
    S surgery, P health checkup centre)."""
    county, brand = _county(rng), zihao(rng.randrange(1 << 30))
    kind = rng.choice(kinds)
    if kind == "H":
        if rng.random() < 0.5:
            name = f"{county.name}{rng.choice(('人民医院', '中医院', '妇幼保健院'))}"
            if not county.towns:
                name = f"石家庄市第{rng.randint(1, 9)}医院" if rng.random() < 0.5 else f"石家庄市{name}"
            return _Clinic(name, "A1", "12", county, True)
        name = f"石家庄{brand}{rng.choice(('医院', '妇产医院', '眼科医院', '骨科医院', '口腔医院'))}"
        return _Clinic(name, "A1", "52", county, rng.random() < 0.3)
    if kind == "C":
        if county.towns:
            return _Clinic(f"{county.name}{rng.choice(county.towns)}卫生院", "B1", "12", county, False)
        return _Clinic(
            f"石家庄市{county.name}{rng.choice(county.roads)}社区卫生服务中心", "B2", "12", county, False
        )
    if kind == "O":
        return _Clinic(
            f"石家庄{brand}{rng.choice(('口腔', '综合', '中医'))}门诊部", "D1", "91", county, False
        )
    if kind == "P":
        return _Clinic(f"石家庄{brand}健康体检中心", "D9", "91", county, False)
    doctor = SURNAME_SLOTS[rng.randrange(1024)]
    specialty = rng.choice(("中医诊所", "口腔诊所", "西医内科诊所"))
    return _Clinic(f"石家庄市{county.name}{doctor}{brand[0]}{specialty}", "E1", "52", county, False)


def _registration(world: World, clinic: _Clinic, serial: int) -> str:
    """医疗机构执业许可证登记号: organisation code + county + category + ownership + number (22)."""
    owner = "1" if clinic.head == "12" else "2"
    return f"{world.org_code(serial, '')}{clinic.county.code}{clinic.category}{owner}{serial % 10_000:04d}"


def medical_institutions(world: World) -> Iterator[Row]:
    rng = world.rng("医疗机构执业登记信息")
    for j in range(BLOCK):
        clinic = _clinic(rng, "HHCCCOOSSSS")
        years = 15 if clinic.large else 5  # 校验 renews the licence: the current one is in force
        issued = day_between(rng, add_years(AS_OF, -years) + timedelta(days=1), AS_OF)
        yield {
            "licence_no": _registration(world, clinic, MEDICAL_SERIALS + j),
            "org_name": clinic.name,
            "address": office_address(clinic.county, rng.getrandbits(64)),
            "issued_on": issued.isoformat(),
            "valid_until": (add_years(issued, years) - timedelta(days=1)).isoformat(),
        }


def checkup_institutions(world: World) -> Iterator[Row]:
    rng = world.rng("健康体检机构信息")
    for j in range(BLOCK):
        clinic = _clinic(rng, "HHHPPO")
        yield {
            "licence_no": _registration(world, clinic, CHECKUP_SERIALS + j),
            "org_name": clinic.name,
            "address": office_address(clinic.county, rng.getrandbits(64)),
            "phone": landline(rng.getrandbits(64)),
        }


def designated_providers(world: World) -> Iterator[Row]:
    """医保定点医疗机构 and 定点零售药店: chain pharmacies' branches, single pharmacies, clinics."""
    rng = world.rng("定点医药机构信息")
    for j in range(BLOCK):
        r = rng.random()
        if r < 0.6:
            county, brand = _county(rng), zihao(rng.randrange(1 << 30))
            if r < 0.4:
                head = "91"
                name = f"石家庄{brand}大药房连锁有限公司{county.name}{rng.choice(county.roads)}店"
            else:
                head, name = "92", f"石家庄市{county.name}{brand}大药房"
        else:
            clinic = _clinic(rng, "HHCCCOSSS")
            county, head, name = clinic.county, clinic.head, clinic.name
        marker = {"12": "MB", "52": "MJ"}.get(head, "MA") if rng.random() < 0.5 else ""
        yield {
            "credit_code": world.credit_code(head, county.code, PHARMACY_SERIALS + j, marker),
            "org_name": name,
            "address": office_address(county, rng.getrandbits(64)),
            "phone": landline(rng.getrandbits(64)),
        }


_PROJECTS = words("府 苑 花园 名邸 壹号院 公馆 华庭 天著 悦府 城")
_PRESALE_YEARS = 20  # 2005–2024, up to 999 licences a year


def presales(world: World) -> Iterator[Row]:
    rng = world.rng("商品房预售许可信息")
    space = _PRESALE_YEARS * 999
    a, b = affine(rng, space)
    for j in range(space):
        number, offset = divmod((a * j + b) % space, _PRESALE_YEARS)
        year = AS_OF.year - offset

        def active(e: Enterprise, year: int = year) -> bool:
            return e.established.year <= year

        developer = world.enterprise(rng, "estate", active)
        issued = day_between(rng, max(date(year, 1, 1), developer.established), date(year, 12, 31))
        county = developer.county
        first, second = rng.sample(county.roads, 2)
        building = rng.randint(1, 30)
        yield {
            "licence_no": f"石房预售证第{year}{number + 1:03d}号",
            "credit_code": developer.credit_code,
            "title": f"{zihao(rng.randrange(1 << 30))}{rng.choice(_PROJECTS)}{building}#、{building + 1}#楼",
            "location": f"{county.name}{first}以{rng.choice('东西')}、{second}以{rng.choice('南北')}",
            "area": money(rng.randint(800_000, 8_000_000)),
            "issued_on": issued.isoformat(),
        }


def schools(world: World) -> Iterator[Row]:
    for k in range(BLOCK):
        school = world.schools[k]
        yield {
            "credit_code": school.credit_code,
            "org_name": school.name,
            "address": school.address,
            "count": str(school.pupils),
            "phone": school.phone,
        }


def taxi_licences(world: World) -> Iterator[Row]:
    rng = world.rng("出租汽车经营权信息（旧）")
    a, b = affine(rng, 10**5)
    plate_a, plate_b = affine(rng, PLATE_SPACE)
    for j in range(10**5):
        company = world.enterprise(rng, "taxi")
        yield {
            "licence_no": f"石客出经字第{(a * j + b) % 10**5:05d}号",
            "plate_number": plate((plate_a * j + plate_b) % PLATE_SPACE),
            "enterprise_name": company.name,
        }


CHANGAN = COUNTY_BY_CODE["130102"]
_STREETS = words(
    "建北街道 青园街道 广安街道 育才街道 跃进街道 河东街道 长丰街道 谈固街道 中山东路街道 阜康街道 滨华街道"
    " 高营镇 西兆通镇"
)
_COMMUNITIES = words(
    "和平 建设 青园 广安 育才 跃进 长丰 谈固 阜康 滨华 光华 胜利 丰收 友谊 北宋 东风 金马 紫晶 海悦 塔冢"
    " 范谈 柏林 东里 西里 花园 光明 义堂 兴安"
)
_FACILITIES = words(
    "党群服务中心 居家养老服务站 日间照料中心 新时代文明实践站 便民服务站 社区卫生服务站 综合文化服务室"
    " 儿童之家"
)
_GRIDS = 12  # per community


def _community(value: int) -> tuple[str, str]:
    street, community = divmod(value, len(_COMMUNITIES))
    return _STREETS[street], _COMMUNITIES[community]


def grids(world: World) -> Iterator[Row]:
    rng = world.rng("长安区网格员信息")
    space = len(_STREETS) * len(_COMMUNITIES) * _GRIDS
    a, b = affine(rng, space)
    for j in range(space):
        value, grid = divmod((a * j + b) % space, _GRIDS)
        street, community = _community(value)
        worker = world.anyone(rng, lambda p: p.county == CHANGAN and 25 <= age_on(p.born, AS_OF) <= 60)
        yield {
            "title": f"长安区{street}{community}社区第{grid + 1}网格",
            "name": worker.name,
            "phone": worker.mobile,
            "region_code": CHANGAN.code,
        }


def facilities(world: World) -> Iterator[Row]:
    """Community facilities inside 长安区 (longitude 114.50–114.62, latitude 38.03–38.11)."""
    rng = world.rng("长安区社区服务设施信息")
    space = len(_STREETS) * len(_COMMUNITIES) * len(_FACILITIES)
    a, b = affine(rng, space)
    for j in range(space):
        value, facility = divmod((a * j + b) % space, len(_FACILITIES))
        street, community = _community(value)
        yield {
            "title": f"长安区{street}{community}社区{_FACILITIES[facility]}",
            "address": office_address(CHANGAN, rng.getrandbits(64)),
            "phone": landline(rng.getrandbits(64)),
            "longitude": f"{114.50 + rng.random() * 0.12:.6f}",
            "latitude": f"{38.03 + rng.random() * 0.08:.6f}",
        }


GENERATORS: dict[str, Callable[[World], Iterator[Row]]] = {
    "企业登记信息": enterprises,
    "个体工商户登记信息": shops,
    "食品经营许可信息": food_licences,
    "市场主体行政处罚信息": penalties,
    "特种设备登记信息": special_equipment,
    "社会组织登记信息": social_organisations,
    "养老服务机构信息": pension_institutions,
    "医疗机构执业登记信息": medical_institutions,
    "健康体检机构信息": checkup_institutions,
    "定点医药机构信息": designated_providers,
    "商品房预售许可信息": presales,
    "学校基本信息": schools,
    "出租汽车经营权信息（旧）": taxi_licences,
    "长安区网格员信息": grids,
    "长安区社区服务设施信息": facilities,
}
