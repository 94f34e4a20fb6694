"""Masking rules and paths (S23): each rule on Chinese data, paths into nested JSON, fail-closed
behaviour for values and documents that do not fit."""

from __future__ import annotations

import copy
import random
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from govshare import masking
from govshare.crypto import hmac_sm3
from govshare.masking import MaskingError, ShapeError, compile_masks, mask_value, parse_path, parse_rule
from tests.conftest import settings_override


def masked(rule: str, value: object) -> object:
    return mask_value(parse_rule(rule), value)


CHINESE_DATA = [
    ("id_number", "130102198503177718", "130102********7718"),
    ("id_number", "13010219850317771X", "130102********771X"),
    ("id_number", "130102850317771", "130102*****7771"),  # 15-digit ID of the first generation
    ("id_number", "1301 0219 8503 1777 18", "130102********7718"),
    ("id_number", "1234567890", "**********"),  # nothing left to hide behind: hidden whole
    ("mobile", "13912345678", "139****5678"),
    ("mobile", "139-1234-5678", "139****5678"),
    ("mobile", 13912345678, "139****5678"),  # a number in the JSON
    ("bank_card", "6222021234567890123", "622202*********0123"),
    ("bank_card", "6222 0212 3456 7890", "622202******7890"),
    ("name", "张伟", "张*"),
    ("name", "张三丰", "张**"),
    ("name", "欧阳娜娜", "欧阳**"),
    ("name", "司马光", "司马*"),
    ("name", "诸葛亮", "诸葛*"),
    ("name", "上官婉儿", "上官**"),
    ("name", "慕容复", "慕容*"),
    ("name", "司马", "司*"),  # two characters: surname 司, given name 马
    ("name", "阿沛·阿旺晋美", "阿*·****"),
    ("name", "李", "*"),
    ("address", "河北省石家庄市长安区中山东路39号", "河北省石家庄市长安区****"),
    ("address", "北京市朝阳区建国路88号", "北京市朝阳区****"),
    ("address", "内蒙古自治区呼和浩特市新城区新华大街1号", "内蒙古自治区呼和浩特市新城区****"),
    ("address", "河北省石家庄市井陉矿区矿市街12号", "河北省石家庄市井陉矿区****"),
    ("address", "河北省辛集市旧城镇南街", "河北省辛集市****"),
    ("address", "石家庄市中华北大街城市花园", "石家庄市****"),  # 街 is no part of a district
    ("address", "河北省石家庄市中山路小区5号", "河北省石家庄市****"),  # a 小区 is no district
    ("address", "长安区广安市场", "长安区****"),
    ("address", "中山东路39号", "****"),
    ("keep(1,1)", "石家庄", "石*庄"),
    ("keep(2, 0)", "冀A12345", "冀A*****"),
    ("keep(3,3)", "短值", "**"),
    ("nullify", "任何内容", None),
    ("name", None, None),
    ("address", {"province": "河北省"}, None),  # a structure under a text rule is hidden whole
]


@pytest.mark.parametrize(("rule", "value", "expected"), CHINESE_DATA)
def test_rules_on_chinese_data(rule: str, value: object, expected: object) -> None:
    assert masked(rule, value) == expected


TRICKY_VALUES = [
    # ID numbers: 18 digits, a final X (either case), the 15-digit first generation, noise.
    ("id_number", "11010519491231002x", "110105********002x"),
    ("id_number", " 130102 19850317 771X ", "130102********771X"),
    ("id_number", 130102198503177718, "130102********7718"),  # a number in the data
    # Mobiles: +86 / 0086 / 86 prefixes, spaces, brackets; landlines keep their shape.
    ("mobile", "+86 139 1234 5678", "139****5678"),
    ("mobile", "+86-13912345678", "139****5678"),
    ("mobile", "0086 13912345678", "139****5678"),
    ("mobile", "8613912345678", "139****5678"),
    ("mobile", "(+86)139 1234 5678", "139****5678"),
    ("mobile", "0311-86012345", "031*****2345"),
    # Bank cards of 16 to 19 digits.
    ("bank_card", "6222021234567890", "622202******7890"),
    ("bank_card", "62220212345678901", "622202*******8901"),
    ("bank_card", "622202123456789012", "622202********9012"),
    ("bank_card", "6222-0212-3456-7890-123", "622202*********0123"),
    # Names: compound surnames, a minority name with its dot, a name with a space.
    ("name", "东方不败", "东方**"),
    ("name", "欧阳修", "欧阳*"),
    ("name", "单于", "单*"),
    ("name", "买买提·艾力", "买**·**"),
    ("name", " 王小明 ", "王**"),
    # Addresses: 自治区, 自治州, 县级市, 盟, 旗.
    (
        "address",
        "新疆维吾尔自治区伊犁哈萨克自治州伊宁市解放路1号",
        "新疆维吾尔自治区伊犁哈萨克自治州伊宁市****",
    ),
    ("address", "广西壮族自治区南宁市青秀区民族大道100号", "广西壮族自治区南宁市青秀区****"),
    ("address", "吉林省延边朝鲜族自治州延吉市光明街", "吉林省延边朝鲜族自治州延吉市****"),
    ("address", "河北省晋州市总十庄镇", "河北省晋州市****"),  # 州 in a name is no 自治州
    ("address", "河北省沧州市运河区解放路", "河北省沧州市运河区****"),
    ("address", "北京市通州区新华大街", "北京市通州区****"),
    ("address", "浙江省杭州市西湖区文三路", "浙江省杭州市西湖区****"),
    ("address", "内蒙古自治区锡林郭勒盟正蓝旗上都镇", "内蒙古自治区锡林郭勒盟正蓝旗****"),
    ("address", "河北省石家庄市正定县常山路5号", "河北省石家庄市正定县****"),
    # A road is no county: 路 begins county names (路南区) but never stands inside one.
    ("address", "湖北省仙桃市钱沟路二区12号", "湖北省仙桃市****"),
    ("address", "河北省辛集市教育路东方超市", "河北省辛集市****"),
    ("address", "河北省唐山市路南区新华道1号", "河北省唐山市路南区****"),
    ("address", "浙江省台州市路桥区路桥大道", "浙江省台州市路桥区****"),
    # Autonomous counties and banners may have long names.
    ("address", "河北省承德市围场满族蒙古族自治县围场镇新华街1号", "河北省承德市围场满族蒙古族自治县****"),
    (
        "address",
        "内蒙古自治区呼伦贝尔市莫力达瓦达斡尔族自治旗尼尔基镇",
        "内蒙古自治区呼伦贝尔市莫力达瓦达斡尔族自治旗****",
    ),
    ("address", "重庆市石柱土家族自治县南宾街道", "重庆市石柱土家族自治县****"),
    # keep and its other spelling, on text and on values that are not text.
    ("mask(3,4)", "13912345678", "139****5678"),
    ("mask( 1 , 1 )", "石家庄", "石*庄"),
    ("keep(1,1)", Decimal("1234.50"), "1*****0"),
    ("keep(4,0)", date(2026, 11, 27), "2026******"),
    ("keep(1,0)", True, "T***"),
    # Dates: date, datetime, ISO and Chinese text; anything unreadable becomes null.
    ("date_year", date(2026, 11, 27), "2026"),
    ("date_month", date(2026, 1, 5), "2026-01"),
    ("date_month", datetime(2026, 11, 27, 10, 30, tzinfo=UTC), "2026-11"),
    ("date_month", "2026-11-27", "2026-11"),
    ("date_month", "2026-11-27T10:30:00+08:00", "2026-11"),
    ("date_month", "2026/3/5", "2026-03"),
    ("date_month", "20261127", "2026-11"),
    ("date_month", "2026年11月27日", "2026-11"),
    ("date_year", "2026年11月27日", "2026"),
    ("date_year", 20261127, "2026"),
    ("date_year", "2026", "2026"),
    ("date_month", "2026", None),  # no month to keep: null rather than a guess
    ("date_month", "2026-13-01", None),
    ("date_year", "昨天", None),
    ("date_year", "20261127103000", None),
    ("date_year", 3.5, None),
    # Region codes: cut and padded; 9- and 12-digit statistical codes too; anything else null.
    ("region(4)", "130102", "130100"),
    ("region(2)", "130102", "130000"),
    ("region(4)", 130102, "130100"),
    ("region(4)", "130102001001", "130100000000"),
    ("region(4)", "13010", None),
    ("region(4)", "石家庄市", None),
    ("region(2)", True, None),
    ("pseudonym", None, None),
    ("pseudonym", [1, 2], None),
]


@pytest.mark.parametrize(("rule", "value", "expected"), TRICKY_VALUES)
def test_rules_on_tricky_values(rule: str, value: object, expected: object) -> None:
    assert masked(rule, value) == expected


def _address_by_steps(text: str) -> str:
    """The address rule as written in its specification, one unit after another: the shortest name
    before each unit's suffix, not kept when it holds a character no unit's name has, and no district
    when it ends like a place inside one (小区 …). `masking.rules` does it in one regular expression."""
    text = text.strip()
    end = 0
    for patterns, county in (
        ([r"([\u4e00-\u9fff]{2,8}?)(?:省|自治区|特别行政区)"], False),
        ([r"([\u4e00-\u9fff]{2,9}?)(?:市|自治州|地区|盟)"], False),
        ([r"([\u4e00-\u9fff]{2,12}?)自治[县旗]", r"([\u4e00-\u9fff]{1,6}?)(?:区|县|旗|市)"], True),
    ):
        for pattern in patterns:
            found = re.compile(pattern).match(text, end)
            if found is None or re.search(r"[省市区县旗盟街巷弄号村楼栋室]|自治州", found[1]):
                continue
            if county and "自治" not in found[0] and "路" in found[1][1:]:
                continue  # a road, not a county (路南区 begins with 路)
            if county and found[0].endswith(tuple(c + "区" for c in "小社园校景街厂营院片商")):
                continue
            end = found.end()
            break
    return text[:end] + "****"


def test_the_address_rule_keeps_what_its_specification_keeps() -> None:
    # Strings of every unit's suffix, the characters no name has, the places that end in 区, and
    # plain characters, digits and spaces: the one-pass rule agrees with the rule step by step.
    alphabet = "河北省石家庄市长安区中山东路自治州区县旗盟街巷弄号村楼栋室特别行政地小社园校景厂营院片商"
    alphabet += "内蒙古锡林郭勒正蓝新疆维吾尔延边朝鲜族0123 a-"
    alphabet += "自治县自治旗路路南二教育超围场满蒙"
    rng = random.Random(20261129)
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert masked("address", text) == _address_by_steps(text), text


# Every rule, and values of every shape the cases above use, plus the shapes the column maskers
# take a short cut for (and their near misses).
EVERY_RULE = ["id_number", "bank_card", "mobile", "name", "address", "keep(2,1)", "date_year"]
EVERY_RULE += ["date_month", "region(4)", "nullify", "pseudonym"]
SHORT_CUT_SHAPES = [
    "13010219850317771X",
    "1301021985031777",
    "12345678901",
    "1234567890",
    "1391234567８",  # a full-width digit is a digit to str.isdigit
    "139 1234 567",
    "ａｂｃｄｅｆｇｈｉｊｋ",
    date(1999, 12, 31),
    date(5, 1, 1),
    datetime(2026, 2, 3, 4, 5, tzinfo=UTC),
    "",
    None,
    0,
    -1,
]


@pytest.mark.parametrize("rule", EVERY_RULE)
def test_a_column_is_masked_as_its_values_one_by_one(rule: str) -> None:
    values = [value for _, value, _ in CHINESE_DATA + TRICKY_VALUES] + SHORT_CUT_SHAPES
    parsed = parse_rule(rule)
    one_by_one = [mask_value(parsed, copy.deepcopy(v)) for v in values]
    column = masking.column_masker(parsed)
    assert column(copy.deepcopy(values)) == one_by_one
    assert column(copy.deepcopy(values)) == one_by_one  # again: what a masker remembers is the same
    assert column([]) == []


def test_pseudonyms_of_values_that_are_not_text_are_those_of_their_text() -> None:
    assert masked("pseudonym", 13912345678) == masked("pseudonym", "13912345678")
    assert masked("pseudonym", date(2026, 11, 27)) == masked("pseudonym", "2026-11-27")


def test_rules_describe_themselves_in_chinese() -> None:
    assert parse_rule("keep(1,1)").label == "保留前 1 位和后 1 位，中间以 * 替换"
    assert parse_rule("mask(3,4)") == parse_rule("keep(3,4)")
    assert str(parse_rule("region( 4 )")) == "region(4)"
    assert "地市级" in parse_rule("region(4)").label and "省级" in parse_rule("region(2)").label
    assert parse_rule("date_year").label == "日期（只保留年份）"


def test_pseudonyms_are_stable_keyed_and_not_reversible_by_guessing() -> None:
    first = masked("pseudonym", "130102198503177718")
    assert first == masked("pseudonym", "130102198503177718")  # equal inputs join
    assert first != masked("pseudonym", "130102198503177726")
    assert isinstance(first, str) and len(first) == 32 and "130102" not in first
    # Letters a–p only: the HMAC-SM3 hex digits, so a pseudonym never looks like a number.
    assert re.fullmatch(r"[a-p]{32}", first)
    expected = hmac_sm3(masking.pseudonym_key(), b"130102198503177718")[:32]
    assert first == expected.translate(str.maketrans("0123456789abcdef", "abcdefghijklmnop"))
    # Keyed: another master key gives other pseudonyms, so a plain hash table cannot undo them.
    with settings_override(master_key="ab" * 32):
        assert masked("pseudonym", "130102198503177718") != first


def test_rules_are_parsed_and_refused() -> None:
    assert str(parse_rule(" keep( 3 , 4 ) ")) == "keep(3,4)"
    for bad in ("mask_all", "keep(3)", "keep(-1,2)", "keep(51,0)", "keep", "", "region", "mask(1)", "as_is"):
        with pytest.raises(MaskingError):
            parse_rule(bad)
    for bad in ("region(3)", "region(6)", "region(0)"):
        with pytest.raises(MaskingError, match="只能是 2"):
            parse_rule(bad)


def test_paths_are_parsed_and_refused() -> None:
    assert parse_path("data[*].sfzh") == ("data", None, "sfzh")
    assert parse_path("result.owner.mobile") == ("result", "owner", "mobile")
    assert parse_path("[*].姓名") == (None, "姓名")
    assert parse_path("rows[*][*].phone") == ("rows", None, None, "phone")
    for bad in ("", "a..b", ".a", "a.", "a[0]", "a.[*]", "a b", "a[*]b", "data.*", "x" * 201):
        with pytest.raises(MaskingError, match="脱敏路径"):
            parse_path(bad)
    with pytest.raises(MaskingError, match="层级太深"):
        parse_path(".".join(["a"] * 17))


def test_compile_names_the_wrong_entry_and_refuses_repeats() -> None:
    with pytest.raises(MaskingError, match="第 2 条"):
        compile_masks([{"path": "a", "rule": "name"}, {"path": "b", "rule": "whatever"}])
    with pytest.raises(MaskingError, match="重复"):
        compile_masks([{"path": "a", "rule": "name"}, {"path": "a", "rule": "nullify"}])


DOCUMENT = {
    "code": 0,
    "data": [
        {
            "xm": "欧阳娜娜",
            "sfzh": "130102198503177718",
            "lxdh": "13912345678",
            "jtzz": "河北省石家庄市长安区中山东路39号",
        },
        {"xm": "张伟", "sfzh": None, "lxdh": "13812345678"},  # a missing or null field is nothing to hide
    ],
    "result": {"owner": {"mobile": "13712345678", "bank": "6222021234567890123"}},
}


def test_masks_apply_at_nested_paths() -> None:
    masks = compile_masks(
        [
            {"path": "data[*].xm", "rule": "name"},
            {"path": "data[*].sfzh", "rule": "id_number"},
            {"path": "data[*].lxdh", "rule": "mobile"},
            {"path": "data[*].jtzz", "rule": "address"},
            {"path": "result.owner.mobile", "rule": "nullify"},
            {"path": "result.owner.bank", "rule": "bank_card"},
            {"path": "absent.field", "rule": "name"},
        ]
    )
    out = masking.apply(copy.deepcopy(DOCUMENT), masks)
    assert out["data"][0] == {
        "xm": "欧阳**",
        "sfzh": "130102********7718",
        "lxdh": "139****5678",
        "jtzz": "河北省石家庄市长安区****",
    }
    assert out["data"][1] == {"xm": "张*", "sfzh": None, "lxdh": "138****5678"}
    assert out["result"]["owner"] == {"mobile": None, "bank": "622202*********0123"}
    assert out["code"] == 0


def test_top_level_arrays_and_nested_arrays() -> None:
    masks = compile_masks([{"path": "[*].xm", "rule": "name"}, {"path": "[*].phones[*]", "rule": "mobile"}])
    out = masking.apply([{"xm": "诸葛亮", "phones": ["13912345678", "13812345678"]}], masks)
    assert out == [{"xm": "诸葛*", "phones": ["139****5678", "138****5678"]}]
    assert masking.apply({"sfzh": "130102198503177718"}, []) == {"sfzh": "130102198503177718"}


def test_a_document_of_another_shape_is_refused_not_passed_through() -> None:
    masks = compile_masks([{"path": "data[*].sfzh", "rule": "id_number"}])
    with pytest.raises(ShapeError):  # an object where the path expects an array
        masking.apply({"data": {"sfzh": "130102198503177718"}}, masks)
    with pytest.raises(ShapeError):  # a value where the path expects an object
        masking.apply({"data": ["130102198503177718"]}, masks)
    with pytest.raises(ShapeError):
        masking.apply(["not", "an", "object"], compile_masks([{"path": "data", "rule": "nullify"}]))
