"""Who lives in the demo city."""

from __future__ import annotations

from dataclasses import dataclass

from govshare.authz import Role
from govshare.identifiers import credit_code_check_char
from govshare.orgs.models import OrgKind

DEMO_PASSWORD = "govshare-demo"


@dataclass(frozen=True)
class DemoOrg:
    code: str
    name: str
    short_name: str
    kind: OrgKind
    org_number: str  # 8 digits of the 组织机构代码 body (GB 11714), check digit computed
    system_code: str
    system_name: str
    register_class: str = "11"  # 登记管理部门 1 (机构编制) + 机构类别 1 (机关)


ORGS = [
    DemoOrg(
        "bureau",
        "石家庄市数据资源管理局",
        "市数据局",
        OrgKind.bureau,
        "MB0P2617",
        "bureau-platform",
        "共享平台运维系统",
    ),
    DemoOrg(
        "police",
        "石家庄市公安局",
        "市公安局",
        OrgKind.department,
        "00010243",
        "police-hukou",
        "人口信息管理系统",
    ),
    DemoOrg(
        "civil",
        "石家庄市民政局",
        "市民政局",
        OrgKind.department,
        "00010358",
        "civil-assist",
        "社会救助信息系统",
    ),
    DemoOrg(
        "hrss",
        "石家庄市人力资源和社会保障局",
        "市人社局",
        OrgKind.department,
        "00010471",
        "hrss-insurance",
        "社会保险经办系统",
    ),
    DemoOrg(
        "health",
        "石家庄市卫生健康委员会",
        "市卫健委",
        OrgKind.department,
        "00010585",
        "health-records",
        "全民健康信息平台",
    ),
    DemoOrg(
        "market",
        "石家庄市市场监督管理局",
        "市市场监管局",
        OrgKind.department,
        "00010692",
        "market-registry",
        "市场主体登记系统",
    ),
    DemoOrg(
        "land",
        "石家庄市自然资源和规划局",
        "市自然资源和规划局",
        OrgKind.department,
        "00010718",
        "land-registry",
        "不动产登记系统",
    ),
    DemoOrg(
        "housing",
        "石家庄市住房和城乡建设局",
        "市住建局",
        OrgKind.department,
        "00010823",
        "housing-permit",
        "工程建设项目审批系统",
    ),
    DemoOrg(
        "medical",
        "石家庄市医疗保障局",
        "市医保局",
        OrgKind.department,
        "MB1C5904",
        "medical-settlement",
        "医保结算系统",
    ),
    DemoOrg(
        "edu",
        "石家庄市教育局",
        "市教育局",
        OrgKind.department,
        "00010931",
        "edu-enrolment",
        "招生入学管理系统",
    ),
    DemoOrg(
        "transport",
        "石家庄市交通运输局",
        "市交通运输局",
        OrgKind.department,
        "00011047",
        "transport-license",
        "道路运输管理系统",
    ),
    DemoOrg(
        "changan",
        "石家庄市长安区人民政府",
        "长安区政府",
        OrgKind.district,
        "00020136",
        "changan-grid",
        "网格化社会治理系统",
    ),
    DemoOrg(
        "qiaoxi",
        "石家庄市桥西区人民政府",
        "桥西区政府",
        OrgKind.district,
        "00020241",
        "qiaoxi-service",
        "政务服务系统",
    ),
    DemoOrg(
        "citydigital",
        "石家庄城市数字运营有限公司",
        "城市数字运营公司",
        OrgKind.enterprise,
        "MA0CX4R1",
        "citydigital-app",
        "城市服务应用",
        register_class="91",
    ),
]

_GB11714_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code(body8: str) -> str:
    """组织机构代码 (GB 11714): 8 characters and a MOD 11 check character."""
    total = sum(_GB11714_ALPHABET.index(c) * w for c, w in zip(body8, _GB11714_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body8 + {10: "X", 11: "0"}.get(check, str(check))


def credit_code(org: DemoOrg, region: str = "130100") -> str:
    first17 = org.register_class + region + org_code(org.org_number)
    return first17 + credit_code_check_char(first17)


# (username suffix, roles, registered role or None)
BUREAU_PEOPLE = [
    ("bureau_admin", "张建国", [Role.bureau_admin]),
    ("bureau_reviewer", "李雅琴", [Role.bureau_reviewer]),
    ("bureau_auditor", "王志强", [Role.auditor]),
    ("bureau_metadata", "刘静文", [Role.bureau_metadata_admin]),
]
DEPARTMENT_POSTS = [
    ("admin", Role.data_admin),
    ("compiler", Role.catalog_compiler),
    ("approver", Role.approver),
    ("security", Role.security_officer),
    ("supervisor", Role.destruction_supervisor),
    ("user", Role.business_user),
]
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = [
    "晓明",
    "丽华",
    "建军",
    "海燕",
    "志刚",
    "秀英",
    "文博",
    "静怡",
    "国栋",
    "晓燕",
    "立新",
    "雪梅",
    "宏伟",
    "春梅",
    "子涵",
    "浩然",
    "思远",
    "佳琪",
    "振华",
    "玉兰",
]


def person_name(index: int) -> str:
    return SURNAMES[index * 7 % len(SURNAMES)] + GIVEN[index * 3 % len(GIVEN)]
