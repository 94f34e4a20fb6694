"""The demo city's catalog: classes with their lead departments, standard data elements, and
entries compiled, reviewed and published through the catalog services like real ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.auth.service import actor_for
from govshare.authz import Actor
from govshare.catalog import classes, elements, service
from govshare.catalog.schemas import (
    CatalogClassCreate,
    DataElementIn,
    Item,
    ResourceCreate,
    ResourceUpdate,
    ReviewDecision,
    SecrecyReview,
)
from govshare.catalog.vocab import SecrecyConclusion
from govshare.orgs.models import Organisation, OrgKind
from govshare.users.models import User
from govshare.workdays import today

# Lead departments of base and theme sub-classes (M15(3)(4)); None: any department may compile.
BASE_LEADS = {
    "人口": "police",
    "法人": "market",
    "自然资源和空间地理": "land",
    "社会信用": None,
    "电子证照": None,
}
THEME_LEADS = {
    "健康保障": "health",
    "社会保障": "hrss",
    "食品药品安全": "market",
    "安全生产": None,
    "价格监管": "market",
    "能源安全": None,
    "信用体系": None,
    "城乡建设": "housing",
    "社区治理": "civil",
    "生态环保": None,
}

# (code, name, definition, type, length, standard, source department)
ELEMENTS = [
    ("DE0001", "公民身份号码", "公民身份号码，18 位，末位为校验码", "C", 18, "GB 11643-1999", "police"),
    (
        "DE0002",
        "统一社会信用代码",
        "法人和其他组织统一社会信用代码，18 位",
        "C",
        18,
        "GB 32100-2015",
        "market",
    ),
    ("DE0003", "不动产单元号", "不动产单元的唯一编码，28 位", "C", 28, "GB/T 37346-2019", "land"),
    ("DE0004", "行政区划代码", "县级及以上行政区划代码，6 位", "C", 6, "GB/T 2260-2007", "civil"),
    ("DE0005", "姓名", "自然人在户籍管理部门登记的姓名", "C", 50, None, "police"),
    ("DE0006", "手机号码", "自然人的移动电话号码，11 位", "C", 11, None, None),
    ("DE0007", "号牌号码", "机动车号牌号码", "C", 15, "GA 36-2018", "police"),
    ("DE0008", "社会保障号码", "社会保障卡号码", "C", 18, None, "hrss"),
]

# Reusable items: name -> (title, type, length, sensitivity, element, description)
ITEMS: dict[str, tuple[str, str, int | None, str, str | None]] = {
    "id_number": ("公民身份号码", "C", 18, "L3", "DE0001"),
    "name": ("姓名", "C", 50, "L2", "DE0005"),
    "gender": ("性别", "C", 1, "L1", None),
    "birth_date": ("出生日期", "D", None, "L2", None),
    "mobile": ("手机号码", "C", 11, "L3", "DE0006"),
    "address": ("住址", "C", 200, "L3", None),
    "region_code": ("行政区划代码", "C", 6, "L1", "DE0004"),
    "plate_number": ("号牌号码", "C", 15, "L2", "DE0007"),
    "vehicle_type": ("车辆类型", "C", 20, "L1", None),
    "first_registered_on": ("初次登记日期", "D", None, "L1", None),
    "credit_code": ("统一社会信用代码", "C", 18, "L1", "DE0002"),
    "enterprise_name": ("企业名称", "C", 200, "L1", None),
    "legal_representative": ("法定代表人", "C", 50, "L1", None),
    "registered_capital": ("注册资本（万元）", "Y", 18, "L1", None),
    "established_on": ("成立日期", "D", None, "L1", None),
    "business_status": ("登记状态", "C", 20, "L1", None),
    "unit_no": ("不动产单元号", "C", 28, "L1", "DE0003"),
    "location": ("坐落", "C", 200, "L2", None),
    "area": ("面积（平方米）", "N", 12, "L1", None),
    "social_security_no": ("社会保障号码", "C", 18, "L3", "DE0008"),
    "insurance_type": ("险种", "C", 20, "L1", None),
    "status": ("状态", "C", 20, "L1", None),
    "started_on": ("起始日期", "D", None, "L1", None),
    "issued_on": ("发证日期", "D", None, "L1", None),
    "valid_until": ("有效期至", "D", None, "L1", None),
    "licence_no": ("许可证编号", "C", 40, "L1", None),
    "org_name": ("机构名称", "C", 200, "L1", None),
    "title": ("名称", "C", 200, "L1", None),
    "amount": ("金额（元）", "Y", 16, "L2", None),
    "price": ("价格（元）", "Y", 12, "L1", None),
    "observed_on": ("采集日期", "D", None, "L1", None),
    "event_time": ("发生时间", "T", None, "L1", None),
    "description": ("情况说明", "M", None, "L1", None),
    "count": ("数量", "I", None, "L1", None),
    "longitude": ("经度", "F", None, "L1", None),
    "latitude": ("纬度", "F", None, "L1", None),
    "phone": ("联系电话", "C", 20, "L1", None),
}

PI_LAW = "《中华人民共和国个人信息保护法》第三十四条"


@dataclass(frozen=True)
class DemoEntry:
    org: str
    category: str  # sub-class name, or "部门" for the department's own sub-class
    name: str
    summary: str
    items: list[str]
    keys: tuple[str, ...]
    authoritative: tuple[str, ...] = ()
    queryable: tuple[str, ...] = ()  # 查询项: what consumers look rows up by (the store indexes them)
    sharing: str = "unconditional"
    condition: str | None = None
    basis: tuple[str, str] | None = None  # (kind, text)
    not_shared_reason: str | None = None
    open_type: str = "closed"
    open_condition: str | None = None
    cycle: str = "daily"
    format: str = "database"
    method: str = "table"
    fate: str = "published"  # published | submitted | draft | returned | changed | retired
    # Items whose level differs here from `ITEMS` (分类分级): (name, sensitivity, importance). An
    # organisation's address or a published penalty is public information, not personal (L1).
    levels: tuple[tuple[str, str, str], ...] = ()


ENTRIES = [
    DemoEntry(
        "police",
        "人口",
        "人口基础信息",
        "全市户籍人口和登记在册的常住人口基础信息，由公安人口信息管理系统每日更新。",
        ["id_number", "name", "gender", "birth_date", "mobile", "address", "region_code"],
        ("id_number",),
        ("id_number", "name"),
        queryable=("id_number", "region_code"),
    ),
    DemoEntry(
        "police",
        "部门",
        "机动车登记信息",
        "本市登记机动车的号牌、车辆类型、所有人及初次登记日期等信息。",
        ["plate_number", "name", "id_number", "mobile", "vehicle_type", "first_registered_on", "region_code"],
        ("plate_number",),
        ("plate_number",),
        queryable=("plate_number", "id_number"),
        sharing="conditional",
        condition="仅向履行交通管理、社会救助、税费征收职责的部门共享，所有人身份信息须脱敏使用。",
        basis=("law", "《中华人民共和国道路交通安全法》第八条"),
    ),
    DemoEntry(
        "police",
        "人口",
        "户籍迁移信息",
        "户口迁入、迁出及市内迁移登记信息。",
        ["id_number", "name", "region_code", "started_on", "description"],
        ("id_number", "started_on"),
        queryable=("id_number", "region_code", "started_on"),
    ),
    DemoEntry(
        "police",
        "部门",
        "驾驶人信息",
        "本市核发机动车驾驶证的驾驶人信息。",
        ["id_number", "name", "licence_no", "issued_on", "valid_until", "status"],
        ("licence_no",),
        queryable=("id_number", "licence_no"),
        sharing="conditional",
        condition="仅向交通运输、应急管理部门共享驾驶证状态。",
        basis=("law", "《中华人民共和国道路交通安全法》第十九条"),
    ),
    DemoEntry(
        "police",
        "部门",
        "出入境证件办理信息",
        "普通护照、往来港澳通行证等出入境证件的受理与签发信息。",
        ["id_number", "name", "licence_no", "issued_on"],
        ("licence_no",),
        queryable=("id_number", "licence_no"),
        sharing="not_shared",
        not_shared_reason="涉及出入境管理工作秘密和公民出入境个人信息，依法不向其他部门提供。",
        basis=("law", "《中华人民共和国出境入境管理法》第八十五条"),
        cycle="irregular",
        levels=(("licence_no", "L1", "core"),),
    ),
    DemoEntry(
        "police",
        "人口",
        "流动人口居住登记信息",
        "来石居住半年以上流动人口的居住登记和居住证信息。",
        ["id_number", "name", "address", "region_code", "started_on"],
        ("id_number",),
        queryable=("id_number", "region_code"),
        fate="submitted",
    ),
    DemoEntry(
        "market",
        "法人",
        "企业登记信息",
        "在本市登记注册的各类企业的登记信息。",
        [
            "credit_code",
            "enterprise_name",
            "legal_representative",
            "registered_capital",
            "established_on",
            "address",
            "region_code",
            "business_status",
        ],
        ("credit_code",),
        ("credit_code",),
        queryable=("credit_code", "region_code"),
        open_type="open",
        levels=(("address", "L1", "general"),),
    ),
    DemoEntry(
        "market",
        "法人",
        "个体工商户登记信息",
        "本市个体工商户登记注册信息。",
        ["credit_code", "enterprise_name", "legal_representative", "established_on", "region_code"],
        ("credit_code",),
        queryable=("credit_code", "region_code"),
        open_type="open",
    ),
    DemoEntry(
        "market",
        "食品药品安全",
        "食品经营许可信息",
        "食品经营许可证的核发、变更和注销信息。",
        ["licence_no", "credit_code", "enterprise_name", "issued_on", "valid_until"],
        ("licence_no",),
        queryable=("licence_no", "credit_code"),
        open_type="open",
        cycle="weekly",
    ),
    DemoEntry(
        "market",
        "社会信用",
        "市场主体行政处罚信息",
        "市场监管领域作出的行政处罚决定公示信息。",
        ["credit_code", "enterprise_name", "title", "amount", "issued_on"],
        ("credit_code", "issued_on"),
        queryable=("credit_code", "issued_on"),
        open_type="open",
        cycle="weekly",
        levels=(("amount", "L1", "general"),),
    ),
    DemoEntry(
        "market",
        "价格监管",
        "重点商品价格监测信息",
        "粮油、肉蛋、蔬菜等重点民生商品价格监测数据。",
        ["title", "price", "observed_on", "region_code"],
        ("title", "observed_on", "region_code"),
        open_type="open",
        format="spreadsheet",
        method="file",
        cycle="weekly",
    ),
    DemoEntry(
        "market",
        "安全生产",
        "特种设备登记信息",
        "锅炉、压力容器、电梯等特种设备使用登记信息。",
        ["licence_no", "credit_code", "title", "location", "issued_on"],
        ("licence_no",),
        queryable=("licence_no", "credit_code"),
        open_type="conditional",
        open_condition="向从事特种设备检验检测、保险和安全研究的企业和单位开放，须经市数据资源管理局授权（M8）。",
        cycle="monthly",
    ),
    DemoEntry(
        "civil",
        "部门",
        "最低生活保障对象信息",
        "城乡最低生活保障对象及其保障金发放信息。",
        ["id_number", "name", "region_code", "amount", "started_on", "status"],
        ("id_number",),
        queryable=("id_number", "region_code"),
        sharing="conditional",
        condition="仅向承担社会救助、教育资助、医疗救助职责的部门共享。",
        basis=("regulation", "《社会救助暂行办法》第六十六条"),
        cycle="monthly",
    ),
    DemoEntry(
        "civil",
        "部门",
        "婚姻登记信息",
        "结婚、离婚登记信息。",
        ["id_number", "name", "title", "issued_on"],
        ("id_number", "issued_on"),
        queryable=("id_number", "issued_on"),
    ),
    DemoEntry(
        "civil",
        "部门",
        "社会组织登记信息",
        "社会团体、民办非企业单位和基金会登记信息。",
        ["credit_code", "org_name", "legal_representative", "established_on", "business_status"],
        ("credit_code",),
        queryable=("credit_code",),
        open_type="open",
        cycle="monthly",
    ),
    DemoEntry(
        "civil",
        "社区治理",
        "养老服务机构信息",
        "养老机构、社区养老服务设施的基本信息和床位数。",
        ["credit_code", "org_name", "address", "count", "phone"],
        ("credit_code",),
        queryable=("credit_code",),
        open_type="open",
        cycle="monthly",
        levels=(("address", "L1", "general"),),
    ),
    DemoEntry(
        "civil",
        "部门",
        "临时救助对象信息",
        "遭遇突发困难家庭的临时救助审批信息。",
        ["id_number", "name", "amount", "event_time"],
        ("id_number", "event_time"),
        queryable=("id_number", "event_time"),
        fate="draft",
        sharing="conditional",
        condition="仅向承担社会救助职责的部门共享。",
        basis=("regulation", "《社会救助暂行办法》第六十六条"),
    ),
    DemoEntry(
        "hrss",
        "社会保障",
        "社会保险参保信息",
        "企业职工养老、失业、工伤保险参保缴费信息。",
        ["social_security_no", "id_number", "name", "insurance_type", "status", "started_on"],
        ("social_security_no", "insurance_type"),
        ("social_security_no",),
        queryable=("social_security_no", "id_number", "insurance_type"),
        cycle="monthly",
    ),
    DemoEntry(
        "hrss",
        "社会保障",
        "就业登记信息",
        "劳动者就业、失业登记信息。",
        ["id_number", "name", "credit_code", "started_on", "status"],
        ("id_number", "started_on"),
        queryable=("id_number", "credit_code", "started_on"),
        cycle="monthly",
    ),
    DemoEntry(
        "hrss",
        "电子证照",
        "职业资格证书信息",
        "职业资格和职业技能等级证书信息。",
        ["licence_no", "id_number", "name", "title", "issued_on"],
        ("licence_no",),
        queryable=("licence_no", "id_number"),
        cycle="monthly",
    ),
    DemoEntry(
        "health",
        "健康保障",
        "出生医学证明信息",
        "《出生医学证明》签发信息。",
        ["licence_no", "name", "gender", "birth_date", "region_code"],
        ("licence_no",),
        queryable=("licence_no", "region_code"),
        sharing="conditional",
        condition="仅向公安户籍、医保、教育部门按需共享。",
        basis=("law", "《中华人民共和国基本医疗卫生与健康促进法》第九十二条"),
    ),
    DemoEntry(
        "health",
        "健康保障",
        "医疗机构执业登记信息",
        "医疗机构执业许可和校验信息。",
        ["licence_no", "org_name", "address", "issued_on", "valid_until"],
        ("licence_no",),
        queryable=("licence_no",),
        open_type="open",
        cycle="monthly",
        levels=(("address", "L1", "general"),),
    ),
    DemoEntry(
        "health",
        "健康保障",
        "预防接种信息",
        "儿童预防接种记录。",
        ["id_number", "name", "title", "event_time"],
        ("id_number", "event_time"),
        queryable=("id_number", "event_time"),
        sharing="conditional",
        condition="仅向教育部门在入托入学查验时共享接种完成情况。",
        basis=("law", "《中华人民共和国基本医疗卫生与健康促进法》第九十二条"),
        levels=(("title", "L1", "important"),),
    ),
    DemoEntry(
        "health",
        "健康保障",
        "健康体检机构信息",
        "开展健康体检服务的医疗机构名单。",
        ["licence_no", "org_name", "address", "phone"],
        ("licence_no",),
        queryable=("licence_no",),
        open_type="open",
        fate="returned",
        levels=(("address", "L1", "general"),),
    ),
    DemoEntry(
        "land",
        "自然资源和空间地理",
        "不动产登记信息",
        "不动产权利及其变更登记信息。",
        ["unit_no", "name", "id_number", "location", "area", "issued_on"],
        ("unit_no",),
        ("unit_no",),
        queryable=("unit_no", "id_number"),
    ),
    DemoEntry(
        "land",
        "自然资源和空间地理",
        "国土空间规划信息",
        "市、县国土空间总体规划成果图件。",
        ["title", "issued_on", "description"],
        ("title",),
        open_type="open",
        format="image",
        method="file",
        cycle="yearly",
    ),
    DemoEntry(
        "housing",
        "城乡建设",
        "住房公积金缴存信息",
        "职工住房公积金缴存、提取信息。",
        ["id_number", "name", "credit_code", "amount", "status"],
        ("id_number", "credit_code"),
        queryable=("id_number", "credit_code"),
        sharing="conditional",
        condition="仅向不动产登记、个人所得税专项附加扣除核验部门共享。",
        basis=("law", PI_LAW),
        cycle="monthly",
    ),
    DemoEntry(
        "housing",
        "城乡建设",
        "商品房预售许可信息",
        "商品房预售许可证核发信息。",
        ["licence_no", "credit_code", "title", "location", "area", "issued_on"],
        ("licence_no",),
        queryable=("licence_no", "credit_code"),
        open_type="open",
        cycle="weekly",
        levels=(("location", "L1", "general"),),
    ),
    DemoEntry(
        "medical",
        "部门",
        "医疗保障参保信息",
        "基本医疗保险参保缴费信息。",
        ["social_security_no", "id_number", "name", "insurance_type", "status"],
        ("social_security_no",),
        queryable=("social_security_no", "id_number"),
        sharing="conditional",
        condition="仅向社会救助、卫生健康部门按需核验参保状态。",
        basis=("law", PI_LAW),
        cycle="monthly",
    ),
    DemoEntry(
        "medical",
        "部门",
        "定点医药机构信息",
        "医保定点医疗机构和定点零售药店名单。",
        ["credit_code", "org_name", "address", "phone"],
        ("credit_code",),
        queryable=("credit_code",),
        open_type="open",
        cycle="monthly",
        levels=(("address", "L1", "general"),),
    ),
    DemoEntry(
        "edu",
        "部门",
        "学校基本信息",
        "全市中小学、幼儿园基本信息。",
        ["credit_code", "org_name", "address", "count", "phone"],
        ("credit_code",),
        queryable=("credit_code",),
        open_type="open",
        cycle="yearly",
        levels=(("address", "L1", "general"),),
    ),
    DemoEntry(
        "edu",
        "部门",
        "学生学籍信息",
        "中小学生学籍注册和变动信息。",
        ["id_number", "name", "org_name", "started_on", "status"],
        ("id_number",),
        queryable=("id_number",),
        sharing="conditional",
        condition="仅向卫生健康、民政部门在入学查验、教育资助时共享。",
        basis=("law", PI_LAW),
        cycle="monthly",
    ),
    DemoEntry(
        "transport",
        "部门",
        "道路运输经营许可信息",
        "道路客货运输经营许可信息，以接口方式提供核验。",
        ["licence_no", "credit_code", "enterprise_name", "issued_on", "valid_until"],
        ("licence_no",),
        open_type="open",
        format="service",
        method="api",
        cycle="realtime",
    ),
    DemoEntry(
        "transport",
        "部门",
        "公交线路站点信息",
        "公交线路、站点名称和经纬度。",
        ["title", "longitude", "latitude", "region_code"],
        ("title",),
        open_type="open",
        format="self_describing",
        method="api",
        cycle="monthly",
        fate="changed",
    ),
    DemoEntry(
        "transport",
        "部门",
        "出租汽车经营权信息（旧）",
        "机构改革前由原市客运管理处维护的出租汽车经营权信息。",
        ["licence_no", "plate_number", "enterprise_name"],
        ("licence_no",),
        queryable=("licence_no", "plate_number"),
        cycle="irregular",
        fate="retired",
    ),
    DemoEntry(
        "changan",
        "部门",
        "长安区网格员信息",
        "长安区网格划分及网格员联系方式。",
        ["title", "name", "phone", "region_code"],
        ("title",),
        queryable=("title", "region_code"),
        cycle="quarterly",
    ),
    DemoEntry(
        "changan",
        "部门",
        "长安区社区服务设施信息",
        "长安区社区服务中心、便民服务站点信息。",
        ["title", "address", "phone", "longitude", "latitude"],
        ("title",),
        queryable=("title",),
        open_type="open",
        cycle="quarterly",
        levels=(("address", "L1", "general"),),
    ),
]


def _item(name: str, entry: DemoEntry) -> Item:
    title, data_type, length, sensitivity, element = ITEMS[name]
    importance = "general"
    for item, level, weight in entry.levels:
        if item == name:
            sensitivity, importance = level, weight
    return Item(
        name=name,
        title=title,
        data_type=data_type,
        length=length,
        sensitivity=sensitivity,
        importance=importance,
        is_key=name in entry.keys,
        queryable=name in entry.queryable,
        element=element,
        authoritative=name in entry.authoritative,
    )


def _person(db: Session, username: str) -> tuple[Actor, str]:
    user = db.scalar(select(User).where(User.username == username))
    assert user is not None, username
    return actor_for(db, user), user.display_name


def load(db: Session, *, bureau_admin: Actor) -> int:
    """Create classes, elements and entries; returns the number of entries."""
    classes.ensure_top_classes(db)
    org_ids = {code: org_id for code, org_id in db.execute(select(Organisation.code, Organisation.id))}
    for parent, leads in (("1", BASE_LEADS), ("2", THEME_LEADS)):
        for name, lead in leads.items():
            classes.create_class(
                db,
                actor=bureau_admin,
                data=CatalogClassCreate(
                    parent=parent, name=name, lead_org_id=org_ids[lead] if lead else None
                ),
            )
    departments = db.execute(
        select(Organisation.code, Organisation.short_name, Organisation.id)
        .where(Organisation.kind.in_([OrgKind.department.value, OrgKind.district.value]))
        .order_by(Organisation.id)
    ).all()
    for _code, short_name, org_id in departments:
        classes.create_class(
            db,
            actor=bureau_admin,
            data=CatalogClassCreate(
                parent="3", name=short_name, lead_org_id=org_id, description=f"{short_name}部门信息资源"
            ),
        )
    for code, name, definition, data_type, length, standard, source in ELEMENTS:
        elements.create_element(
            db,
            actor=bureau_admin,
            data=DataElementIn(
                code=code,
                name=name,
                definition=definition,
                data_type=data_type,
                length=length,
                standard=standard,
                source_org_id=org_ids[source] if source else None,
            ),
        )
    reviewer, _ = _person(db, "bureau_reviewer")
    sub = {
        c.name: c.code for c in classes.list_classes(db) if c.parent_id is not None and c.kind != "department"
    }
    own = {c.lead_org_id: c.code for c in classes.list_classes(db) if c.kind == "department" and c.parent_id}
    for entry in ENTRIES:
        org_id = org_ids[entry.org]
        compiler, _ = _person(db, f"{entry.org}_admin")
        security, security_name = _person(db, f"{entry.org}_security")
        category = own[org_id] if entry.category == "部门" else sub[entry.category]
        data = ResourceCreate(
            category=category,
            name=entry.name,
            summary=entry.summary,
            format=entry.format,
            provision_method=entry.method,
            sharing_type=entry.sharing,
            sharing_condition=entry.condition,
            not_shared_reason=entry.not_shared_reason,
            legal_basis_kind=entry.basis[0] if entry.basis else None,
            legal_basis=entry.basis[1] if entry.basis else None,
            open_type=entry.open_type,
            open_condition=entry.open_condition,
            update_cycle=entry.cycle,
            items=[_item(n, entry) for n in entry.items],
        )
        resource = service.create_resource(db, actor=compiler, data=data)
        if entry.fate == "draft":
            continue
        secrecy = SecrecyReview(
            reviewer=f"{security_name}（安全管理员）",
            reviewed_on=today() - timedelta(days=3),
            conclusion=SecrecyConclusion.passed,
            opinion="经审查，不涉及国家秘密。",
        )
        service.record_secrecy(db, actor=security, resource_id=resource.id, data=secrecy)
        service.submit(db, actor=compiler, resource_id=resource.id)
        if entry.fate == "submitted":
            continue
        if entry.fate == "returned":
            service.review(
                db,
                actor=reviewer,
                resource_id=resource.id,
                data=ReviewDecision(
                    decision="return",
                    comment="请补充体检机构的备案编号和服务范围。",
                    field_comments={"summary": "摘要过于简略，请写明数据范围和来源系统。"},
                ),
            )
            continue
        service.review(
            db,
            actor=reviewer,
            resource_id=resource.id,
            data=ReviewDecision(decision="approve", comment="符合目录编制要求。"),
        )
        if entry.fate == "changed":
            changed = data.model_copy(update={"summary": entry.summary + "新增地铁接驳站点。"})
            db.refresh(resource)
            service.update_resource(
                db,
                actor=compiler,
                resource_id=resource.id,
                data=ResourceUpdate(
                    **changed.model_dump(),
                    lock_version=resource.lock_version,
                    change_reason="新增地铁接驳站点",
                ),
            )
            service.record_secrecy(db, actor=security, resource_id=resource.id, data=secrecy)
            service.submit(db, actor=compiler, resource_id=resource.id)
        elif entry.fate == "retired":
            service.retire(
                db, actor=compiler, resource_id=resource.id, reason="机构改革后由新系统重新编目，旧目录撤销。"
            )
            service.review(
                db,
                actor=reviewer,
                resource_id=resource.id,
                data=ReviewDecision(decision="approve", comment="同意撤销。"),
            )
    return len(ENTRIES)
