"""Masking profiles without a database: kinds of items, the built-in profiles' tables, the compiled
row masker (S23)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from govshare.masking import MaskingError
from govshare.masking.profiles import (
    AS_IS,
    BUILTIN_PROFILES,
    DROPPED_LABEL,
    KINDS,
    Profile,
    RowMasker,
    builtin,
    kind_of,
)


def item(
    name: str, title: str, level: str = "L3", data_type: str = "C", element: str | None = None
) -> dict[str, Any]:
    return {"name": name, "title": title, "data_type": data_type, "sensitivity": level, "element": element}


def profile(code: str) -> Profile:
    found = builtin(code)
    assert found is not None
    return Profile.parse(found.code, found.name, found.levels, found.elements)


@pytest.mark.parametrize(
    ("given", "kind"),
    [
        (item("sfz", "编号", element="DE0001"), "id_number"),  # the element decides first
        (item("x", "社保号", element="DE0008"), "id_number"),
        (item("xzqh", "代码", element="DE0004"), "region"),
        (item("birth_date", "出生日期", data_type="D"), "date"),
        (item("event_time", "发生时间", data_type="T"), "date"),
        (item("owner_id", "所有人身份证号"), "id_number"),  # an ID "of a person" is an ID
        (item("zjhm", "证件号码"), "id_number"),
        (item("lr_phone", "法定代表人联系电话"), "mobile"),
        (item("phone", "联系电话"), "mobile"),
        (item("acct", "银行账号"), "bank_card"),
        (item("card", "银行卡号"), "bank_card"),
        (item("location", "坐落"), "address"),
        (item("jtzz", "家庭住址"), "address"),
        (item("region", "所属行政区划"), "region"),
        (item("xm", "姓名"), "name"),
        (item("owner", "所有人"), "name"),
        (item("legal_representative", "法定代表人"), "name"),
        (item("enterprise_name", "企业名称"), "other"),  # an enterprise's name is no person's
        (item("amount", "金额（元）", data_type="Y"), "other"),
        (item("mobile", "备用"), "mobile"),  # the field name when the title says nothing
        (item("sfzh", "号码"), "id_number"),
        (item("name", "称呼"), "name"),
        (item("note", "情况说明", data_type="M"), "other"),
    ],
)
def test_kinds_come_from_the_element_then_the_type_title_and_name(given: dict[str, Any], kind: str) -> None:
    assert kind_of(given) == kind


def test_builtin_profiles_are_complete_and_parse() -> None:
    assert [b.code for b in BUILTIN_PROFILES] == ["standard", "strict", "linkage", "open"]
    assert [b.name for b in BUILTIN_PROFILES] == ["标准脱敏", "严格脱敏", "关联分析", "开放数据脱敏"]
    for b in BUILTIN_PROFILES:
        parsed = Profile.parse(b.code, b.name, b.levels, b.elements)
        assert set(parsed.levels) == {"L1", "L2", "L3"}
        assert all(set(row) == set(KINDS) for row in parsed.levels.values())
        if b.code != "open":  # L1: as it is, except in open data (see the test of that profile)
            assert all(rule is None for rule in parsed.levels["L1"].values())


def test_standard_profile_follows_level_and_kind() -> None:
    standard = profile("standard")
    expected = {
        "L2": {
            "name": "name",
            "id_number": "id_number",
            "mobile": "mobile",
            "bank_card": "bank_card",
            "address": "address",
            "date": "date_month",
            "region": AS_IS,
            "other": AS_IS,
        },
        "L3": {
            "name": "name",
            "id_number": "id_number",
            "mobile": "mobile",
            "bank_card": "bank_card",
            "address": "address",
            "date": "date_year",
            "region": "region(4)",
            "other": "keep(1,1)",
        },
    }
    for level, row in expected.items():
        assert {k: str(r) if r else AS_IS for k, r in standard.levels[level].items()} == row


ITEMS = [
    item("id_number", "公民身份号码", "L3", element="DE0001"),
    item("name", "姓名", "L2", element="DE0005"),
    item("gender", "性别", "L1"),
    item("birth_date", "出生日期", "L2", data_type="D"),
    item("mobile", "手机号码", "L3", element="DE0006"),
    item("address", "住址", "L3"),
    item("region_code", "行政区划代码", "L3", element="DE0004"),
    item("income", "年收入", "L3", data_type="Y"),
    item("diagnosis", "诊断结论", "L4"),
]
ROW = {
    "id_number": "130102198503177718",
    "name": "欧阳娜娜",
    "gender": "女",
    "birth_date": date(1985, 3, 17),
    "mobile": "13912345678",
    "address": "河北省石家庄市长安区中山东路39号",
    "region_code": "130102",
    "income": Decimal("123456.78"),
    "diagnosis": "高血压",
    "_batch_id": 7,  # no item: never delivered
}


def test_the_standard_row_masker_masks_drops_and_describes() -> None:
    masker = RowMasker.compile(profile("standard"), ITEMS)
    assert masker(ROW) == {
        "id_number": "130102********7718",
        "name": "欧阳**",
        "gender": "女",
        "birth_date": "1985-03",
        "mobile": "139****5678",
        "address": "河北省石家庄市长安区****",
        "region_code": "130100",
        "income": "1*******8",
    }
    assert masker.dropped == {"diagnosis"}
    assert masker.rules["diagnosis"] == DROPPED_LABEL
    assert masker.rules["gender"] == "原样提供"
    assert masker.rules["id_number"] == "公民身份号码（保留前 6 位和后 4 位）"
    assert masker.rules["region_code"].startswith("行政区划代码保留前 4 位")
    # Nulls stay null, a missing item stays missing, and the input row is not changed.
    assert masker({"name": None, "gender": "男"}) == {"name": None, "gender": "男"}
    assert ROW["name"] == "欧阳娜娜"


def test_strict_profile_leaves_nothing_above_l1_readable() -> None:
    out = RowMasker.compile(profile("strict"), ITEMS)(ROW)
    assert out["gender"] == "女"
    for name in ("id_number", "name", "mobile"):
        assert isinstance(out[name], str) and len(out[name]) == 32 and out[name] != ROW[name]
    assert out["birth_date"] is None and out["address"] is None and out["income"] is None
    assert "diagnosis" not in out


def test_element_rules_win_over_levels_even_at_l1() -> None:
    linkage = profile("linkage")
    low = [item("id_number", "公民身份号码", "L1", element="DE0001")]
    high = [item("sfzh", "身份证号", "L3", element="DE0001")]
    a = RowMasker.compile(linkage, low)({"id_number": "130102198503177718"})
    b = RowMasker.compile(linkage, high)({"sfzh": "130102198503177718"})
    assert a["id_number"] == b["sfzh"] and len(a["id_number"]) == 32


def test_profiles_are_checked_cell_by_cell() -> None:
    good = builtin("standard")
    assert good is not None
    levels = {level: dict(row) for level, row in good.levels.items()}
    levels["L3"]["date"] = "date_week"
    with pytest.raises(MaskingError, match="L3 级“日期”"):
        Profile.parse("x", "x", levels, {})
    levels["L3"]["date"] = "date_year"
    del levels["L2"]["address"]
    with pytest.raises(MaskingError, match="L2 级缺少这些类别的规则：地址"):
        Profile.parse("x", "x", levels, {})
    levels["L2"]["address"] = "address"
    with pytest.raises(MaskingError, match="不认识的级别"):
        Profile.parse("x", "x", {**levels, "L4": dict(levels["L3"])}, {})
    with pytest.raises(MaskingError, match="数据元 DE0001"):
        Profile.parse("x", "x", levels, {"DE0001": "keep(1)"})
    with pytest.raises(MaskingError, match="缺少 L1"):
        Profile.parse("x", "x", {"L2": levels["L2"], "L3": levels["L3"]}, {})


def test_an_item_of_an_unknown_level_is_refused() -> None:
    with pytest.raises(MaskingError, match="敏感级别"):
        RowMasker.compile(profile("standard"), [item("x", "备注", "L9")])


def test_the_open_data_profile_hides_people_even_at_l1_and_is_strict_above() -> None:
    masker = RowMasker.compile(
        profile("open"),
        [
            item("legal_representative", "法定代表人", "L1"),
            item("id_number", "公民身份号码", "L1", element="DE0001"),
            item("phone", "联系电话", "L1"),
            item("credit_code", "统一社会信用代码", "L1"),
            item("address", "住所", "L1"),
            item("income", "收入", "L2"),
        ],
    )
    row = {
        "legal_representative": "张伟",
        "id_number": "130102198503177710",
        "phone": "13912345678",
        "credit_code": "91130100MA0ABCDE12",
        "address": "河北省石家庄市长安区建设北大街1号",
        "income": "12000",
    }
    out = masker(row)
    for name in ("legal_representative", "id_number", "phone"):
        assert out[name] and out[name] != row[name] and row[name] not in str(out[name])
    assert out["credit_code"] == row["credit_code"]  # an enterprise's code is public information
    assert out["address"] != row["address"] and out["income"] is None
    strict = profile("strict")
    opened = profile("open")
    for level in ("L2", "L3"):
        assert opened.levels[level] == strict.levels[level]


def test_a_householder_is_a_persons_name_and_is_masked_at_l2() -> None:
    """户主 is a person's title on its own (not 户主人): its values are names."""
    householder = item("hz", "户主", level="L2")
    assert kind_of(householder) == "name"
    masker = RowMasker.compile(profile("standard"), [householder])
    assert masker({"hz": "张三丰"}) == {"hz": "张**"}
