"""Bulk compile and exchange: the .xlsx template, all-or-nothing import with row-by-row errors,
.xlsx export that imports again, and the DCAT JSON-LD export."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from govshare.audit.models import AuditEvent
from govshare.catalog import workbook
from govshare.catalog.models import Resource, ResourceVersion
from tests.catalog.conftest import department_class
from tests.helpers import login, org
from tests.ui import browser, text, texts

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ENTRY_HEADERS = [
    "信息资源分类代码",
    "信息资源名称",
    "摘要",
    "格式",
    "格式说明",
    "提供方式",
    "共享类型",
    "共享条件",
    "不予共享理由",
    "依据类型",
    "共享依据",
    "开放类型",
    "开放条件",
    "更新周期",
]
ITEM_HEADERS = [
    "信息资源名称",
    "字段名",
    "中文名称",
    "数据类型",
    "长度",
    "是否主键",
    "是否查询项",
    "敏感级别",
    "重要程度",
    "数据元编码",
    "是否权威来源",
    "说明",
]
CAR_BASIS = "《中华人民共和国道路交通安全法》第八条"


def _template(client, headers) -> bytes:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/catalog/template.xlsx", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert "attachment" in response.headers["content-disposition"]
    return response.content


def _fill(template: bytes, entries: list[dict[str, Any]], items: list[dict[str, Any]]) -> bytes:
    """The template with rows filled in by column header, as a person would in Excel."""
    book = load_workbook(io.BytesIO(template))
    for sheet, rows in ((book["目录"], entries), (book["信息项"], items)):
        headers = [c.value for c in sheet[1]]
        for row in rows:
            sheet.append([row.get(h) for h in headers])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _upload(client, headers, content: bytes, name: str = "目录.xlsx"):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/catalog/import", headers=headers, files={"file": (name, content, XLSX)})


def _entry(category: str, name: str, **values: Any) -> dict[str, Any]:
    return {"信息资源分类代码": category, "信息资源名称": name, "摘要": f"{name}，按月汇总。", **values}


def _item(entry: str, field: str, title: str, data_type: str = "字符型C", **values: Any) -> dict[str, Any]:
    return {"信息资源名称": entry, "字段名": field, "中文名称": title, "数据类型": data_type, **values}


def _count(db, org_code: str) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(
        select(func.count()).select_from(Resource).where(Resource.org_id == org(db, org_code).id)
    )


def _events(db, event_type: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)))


def test_template_has_the_sheets_headers_notes_and_dropdowns(client, city, db) -> None:
    book = load_workbook(io.BytesIO(_template(client, login(client, "police_admin"))))

    assert book.sheetnames == ["目录", "信息项", "说明", "分类"]
    entries, items = book["目录"], book["信息项"]
    assert [c.value for c in entries[1]] == ENTRY_HEADERS
    assert [c.value for c in items[1]] == ITEM_HEADERS
    assert entries.freeze_panes == "A2" and items.freeze_panes == "A2"
    assert all(c.comment is not None and c.comment.text for c in entries[1])
    assert "书名号" in entries["K1"].comment.text  # 共享依据 explains what a basis looks like
    dropdowns = {str(v.sqref).split(":")[0]: v.formula1 for v in entries.data_validations.dataValidation}
    assert dropdowns["G2"] == '"无条件共享,有条件共享,不予共享"'
    assert dropdowns["N2"].startswith('"实时,每日')
    assert dropdowns["A2"].startswith("'分类'!$A$2")
    item_dropdowns = {str(v.sqref).split(":")[0]: v.formula1 for v in items.data_validations.dataValidation}
    assert "字符型C" in item_dropdowns["D2"] and "浮点型F" in item_dropdowns["D2"]
    assert item_dropdowns["F2"] == item_dropdowns["G2"] == '"是,否"' and "L4 高度敏感" in item_dropdowns["H2"]
    assert "索引" in items["G1"].comment.text  # 是否查询项 says what declaring one does

    classes = {row[0]: row[1] for row in book["分类"].iter_rows(min_row=2, values_only=True)}
    assert classes["101"] == "人口"  # the police lead 人口
    assert department_class(db, "police") in classes
    assert "102" not in classes and department_class(db, "civil") not in classes  # others' to compile
    assert any("全部错误" in (row[1] or "") for row in book["说明"].iter_rows(values_only=True))


def test_a_filled_template_creates_drafts_of_the_department(client, city, db) -> None:
    compiler = login(client, "police_compiler")
    own = department_class(db, "police")
    content = _fill(
        _template(client, compiler),
        [
            _entry(own, "警务辅助人员信息", 共享类型="无条件共享", 更新周期="每月", 格式说明="MySQL 表"),
            _entry(
                own,
                "交通违法处理信息",
                提供方式="api",  # codes are accepted as well as labels
                共享类型="conditional",
                共享条件="仅向交通运输部门共享违法处理结果。",
                依据类型="法律",
                共享依据=CAR_BASIS,
                更新周期="daily",
            ),
        ],
        [
            _item("警务辅助人员信息", "staff_no", "人员编号", 长度=20, 是否主键="是"),
            _item(
                "警务辅助人员信息",
                "id_number",
                "公民身份号码",
                "C",
                长度=18,
                是否查询项="是",
                敏感级别="L3",
                数据元编码="DE0001",
            ),
            _item("警务辅助人员信息", "hired_on", "入职日期", "日期型D", 是否查询项="否"),
            _item("交通违法处理信息", "case_no", "决定书编号", 长度=30, 是否主键=True),
        ],
    )
    before = len(_events(db, "catalog.created"))

    response = _upload(client, compiler, content)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] == 2 and [i["name"] for i in body["items"]] == [
        "警务辅助人员信息",
        "交通违法处理信息",
    ]
    staff = client.get(f"/api/v1/resources/{body['items'][0]['id']}", headers=compiler).json()
    assert staff["status"] == "draft" and staff["provider"]["code"] == "police"
    assert (staff["update_cycle"], staff["format_detail"]) == ("monthly", "MySQL 表")
    assert [
        (i["name"], i["data_type"], i["length"], i["is_key"], i["queryable"], i["sensitivity"])
        for i in staff["items"]
    ] == [
        ("staff_no", "C", 20, True, False, "L1"),
        ("id_number", "C", 18, False, True, "L3"),
        ("hired_on", "D", None, False, False, "L1"),
    ]
    assert staff["items"][1]["element"] == "DE0001"
    violations = client.get(f"/api/v1/resources/{body['items'][1]['id']}", headers=compiler).json()
    assert (violations["provision_method"], violations["sharing_type"], violations["legal_basis"]) == (
        "api",
        "conditional",
        CAR_BASIS,
    )
    assert len(_events(db, "catalog.created")) == before + 2
    imported = _events(db, "catalog.imported")[-1]
    assert json.loads(imported.details)["count"] == 2 and imported.org_id == org(db, "police").id


def test_errors_in_several_rows_are_all_reported_and_nothing_is_imported(client, city, db) -> None:
    admin = login(client, "civil_admin")
    own = department_class(db, "civil")
    content = _fill(
        _template(client, admin),
        [
            _entry(own, "低保家庭走访信息"),  # row 2: fine on its own
            {},  # row 3 left blank
            _entry(own, "养老机构床位信息", 共享类型="有条件"),  # row 4: not a choice
            {"信息资源分类代码": own, "信息资源名称": "殡葬服务机构信息"},  # row 5: no 摘要
            _entry(own, "婚姻登记预约信息"),  # row 6: its item lacks a length
        ],
        [
            _item("低保家庭走访信息", "visit_no", "走访编号", 长度=20, 是否主键="是"),  # row 2
            _item("养老机构床位信息", "bed_no", "床位编号", 长度=20, 是否主键="是"),  # row 3
            _item("殡葬服务机构信息", "org_no", "机构编号", 长度=20, 是否主键="是"),  # row 4
            _item("婚姻登记预约信息", "booking_no", "预约编号", 长度=20, 是否主键="是"),  # row 5
            _item("婚姻登记预约信息", "applicant", "申请人姓名"),  # row 6: 字符型C without 长度
            _item("不存在的条目", "x", "某字段", 长度=1),  # row 7: no such entry
        ],
    )
    before, events = _count(db, "civil"), len(_events(db, "catalog.created"))

    response = _upload(client, admin, content)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert "没有导入任何条目" in error["message"]
    found = {(e["sheet"], e["row"], e["column"]) for e in error["details"]["errors"]}
    assert found == {
        ("目录", 4, "共享类型"),
        ("目录", 5, "摘要"),
        ("信息项", 6, None),
        ("信息项", 7, "信息资源名称"),
    }
    messages = {(e["sheet"], e["row"]): e["message"] for e in error["details"]["errors"]}
    assert "“有条件”不是可选值" in messages[("目录", 4)] and "有条件共享" in messages[("目录", 4)]
    assert "必须填写长度" in messages[("信息项", 6)]
    assert _count(db, "civil") == before  # not even row 2
    assert len(_events(db, "catalog.created")) == events and not _events(db, "catalog.imported")


def test_a_conditional_entry_without_its_basis_is_named_on_the_page(app, city, db) -> None:
    person = browser(app, "police_admin")
    own = department_class(db, "police")
    page = person.get("/catalog/import")
    assert page.status_code == 200 and "下载导入模板" in page.text
    content = _fill(
        person.get("/catalog/template.xlsx").content,
        [
            _entry(own, "警用装备信息", 提供方式="接口"),  # fine, but not imported alone
            _entry(own, "暂住人口补充信息", 共享类型="有条件共享", 共享条件="仅向民政部门共享。"),
        ],
        [_item("暂住人口补充信息", "id_number", "公民身份号码", 长度=18, 是否主键="是")],
    )
    before = _count(db, "police")

    response = person.client.post(
        "/catalog/import", data={"csrf_token": person.csrf}, files={"file": ("目录.xlsx", content, XLSX)}
    )

    assert response.status_code == 422
    errors = texts(response.text, "import-error")
    assert len(errors) == 1
    assert errors[0].startswith("目录 第 3 行「共享依据」：列为有条件共享的资源必须填写共享依据")
    assert "没有导入任何条目" in text(response.text, "form-error")
    # The page comes back and the request commits: the good row must have been rolled back with it.
    assert _count(db, "police") == before
    assert db.scalar(select(Resource).where(Resource.name == "警用装备信息")) is None


def test_the_page_imports_a_good_file_and_links_the_drafts(app, city, db) -> None:
    person = browser(app, "police_compiler")
    own = department_class(db, "police")
    content = _fill(
        person.get("/catalog/template.xlsx").content,
        [_entry(own, "警犬训练记录", 提供方式="文件", 格式="电子表格")],
        [],
    )

    response = person.client.post(
        "/catalog/import", data={"csrf_token": person.csrf}, files={"file": ("警犬.xlsx", content, XLSX)}
    )

    assert response.status_code == 200, response.text
    assert text(response.text, "import-count").startswith("已导入 1 个目录条目")
    resource = db.scalar(select(Resource).where(Resource.name == "警犬训练记录"))
    assert resource is not None and resource.status == "draft" and resource.format == "spreadsheet"
    assert f'href="/catalog/{resource.id}"' in response.text


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("目录.xlsx", b"\x00\x01garbage", "不是有效的 Excel 工作簿"),
        ("目录.xlsx", "信息资源名称,摘要\n人口,全市人口\n".encode(), "改了扩展名的 CSV"),
        ("目录.csv", "信息资源名称,摘要\n".encode(), "收到的是.csv"),
        ("目录.xlsx", b"", "文件是空的"),
        # Larger than a JSON body may be, smaller than the upload limit: the handler judges it.
        ("目录.xlsx", b"\x00" * (2 * 1024 * 1024), "不是有效的 Excel 工作簿"),
    ],
)
def test_files_that_are_not_workbooks_are_refused(client, city, name, content, expected) -> None:
    response = _upload(client, login(client, "police_admin"), content, name)

    assert response.status_code == 422
    assert expected in response.json()["error"]["message"]


def test_a_workbook_made_before_the_query_item_column_still_imports(client, city, db) -> None:
    compiler = login(client, "police_compiler")
    book = load_workbook(io.BytesIO(_template(client, compiler)))
    items = book["信息项"]
    column = [c.value for c in items[1]].index("是否查询项") + 1
    items.delete_cols(column)
    assert "是否查询项" not in [c.value for c in items[1]]
    buffer = io.BytesIO()
    book.save(buffer)
    own = department_class(db, "police")
    content = _fill(
        buffer.getvalue(),
        [_entry(own, "警务辅助人员信息")],
        [
            _item("警务辅助人员信息", "staff_no", "人员编号", 长度=20, 是否主键="是"),
            _item("警务辅助人员信息", "hired_on", "入职日期", "日期型D", 敏感级别="L2"),
        ],
    )

    response = _upload(client, compiler, content)

    assert response.status_code == 201, response.text
    staff = client.get(f"/api/v1/resources/{response.json()['items'][0]['id']}", headers=compiler).json()
    assert [(i["name"], i["is_key"], i["queryable"], i["sensitivity"]) for i in staff["items"]] == [
        ("staff_no", True, False, "L1"),
        ("hired_on", False, False, "L2"),
    ]


def test_a_zip_that_is_not_a_workbook_or_lacks_the_sheets_is_refused(client, city) -> None:
    admin = login(client, "police_admin")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "不是工作簿")
    assert "不是有效的 Excel" in _upload(client, admin, archive.getvalue()).json()["error"]["message"]

    book = load_workbook(io.BytesIO(_template(client, admin)))
    del book["信息项"]
    buffer = io.BytesIO()
    book.save(buffer)
    response = _upload(client, admin, buffer.getvalue())
    assert response.status_code == 422 and "没有「信息项」工作表" in response.json()["error"]["message"]


def test_files_over_the_limits_are_refused(client, city, db, monkeypatch) -> None:
    admin = login(client, "police_admin")
    own = department_class(db, "police")
    content = _fill(
        _template(client, admin),
        [_entry(own, f"测试条目{n}", 提供方式="接口") for n in range(3)],
        [],
    )

    monkeypatch.setattr(workbook, "MAX_ENTRIES", 2)
    too_many = _upload(client, admin, content)
    assert too_many.status_code == 422 and "超过 2 个条目" in too_many.json()["error"]["message"]

    monkeypatch.setattr(workbook, "MAX_UPLOAD_BYTES", len(content) - 1)
    too_big = _upload(client, admin, content)
    assert too_big.status_code == 413 and "分批导入" in too_big.json()["error"]["message"]

    monkeypatch.undo()
    huge = _upload(client, admin, b"PK\x03\x04" + bytes(workbook.MAX_UPLOAD_BYTES + 1))
    assert huge.status_code == 413 and "拆分" in huge.json()["error"]["message"]


def test_an_exported_catalog_imports_again_as_new_drafts(client, city, db) -> None:
    admin = login(client, "police_admin")
    police = org(db, "police")
    response = client.get("/api/v1/catalog/export.xlsx", params={"provider": police.id}, headers=admin)
    assert response.status_code == 200 and response.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(response.content))
    entries, items = book["目录"], book["信息项"]
    headers = [c.value for c in entries[1]]
    assert headers == [*ENTRY_HEADERS, "代码", "提供方", "状态", "版本", "发布日期"]
    rows = [dict(zip(headers, r, strict=True)) for r in entries.iter_rows(min_row=2, values_only=True)]
    assert len(rows) == _count(db, "police")
    population = next(r for r in rows if r["信息资源名称"] == "人口基础信息")
    assert (population["信息资源分类代码"], population["共享类型"], population["提供方"]) == (
        "101",
        "无条件共享",
        "石家庄市公安局",
    )
    assert population["状态"] == "已发布" and population["发布日期"] is not None
    item_headers = [c.value for c in items[1]]
    population_items = [
        dict(zip(item_headers, r, strict=True))
        for r in items.iter_rows(min_row=2, values_only=True)
        if r[0] == "人口基础信息"
    ]
    assert [i["中文名称"] for i in population_items][:2] == ["公民身份号码", "姓名"]
    assert population_items[0]["数据类型"] == "字符型C" and population_items[0]["是否主键"] == "是"
    assert [i["是否查询项"] for i in population_items] == ["是", "否", "否", "否", "否", "否", "是"]

    again = _upload(client, admin, response.content)  # the same names: the department has them
    assert again.status_code == 422
    refusals = again.json()["error"]["details"]["errors"]
    assert len(refusals) == len(rows) and all("本单位目录中已有" in e["message"] for e in refusals)

    for sheet in (entries, items):
        for row in sheet.iter_rows(min_row=2):
            row[0 if sheet is items else 1].value += "（2027版）"
    buffer = io.BytesIO()
    book.save(buffer)
    before = _count(db, "police")

    imported = _upload(client, admin, buffer.getvalue(), "公安局目录.xlsx")

    assert imported.status_code == 201, imported.text
    assert imported.json()["created"] == len(rows) and _count(db, "police") == before + len(rows)
    copy = db.scalar(select(Resource).where(Resource.name == "人口基础信息（2027版）"))
    assert copy is not None and copy.status == "draft" and copy.code.startswith("101/")
    copied = db.get(ResourceVersion, copy.working_version_id)
    assert copied is not None
    assert [i["name"] for i in copied.items if i["queryable"]] == ["id_number", "region_code"]
    exported = _events(db, "catalog.exported")[-1]
    assert json.loads(exported.details) == {
        "format": "xlsx",
        "count": len(rows),
        "filters": {"org_id": str(police.id)},
    }


def test_dcat_jsonld_lists_published_entries_for_harvesters(client, city, db) -> None:
    user = login(client, "police_admin")

    response = client.get("/api/v1/catalog/export.jsonld", headers=user)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    document = json.loads(response.text)
    assert document["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    assert document["@context"]["dct"] == "http://purl.org/dc/terms/"
    assert document["@type"] == "dcat:Catalog" and document["dct:publisher"]["foaf:name"]["@value"]
    datasets = {d["dct:title"]["@value"]: d for d in document["dcat:dataset"]}
    population = datasets["人口基础信息"]
    assert population["@type"] == "dcat:Dataset" and population["@id"].startswith(
        "http://testserver/catalog/"
    )
    assert population["dct:identifier"].startswith("101/")
    assert population["dct:publisher"]["@type"] == "foaf:Agent"
    assert population["dct:publisher"]["foaf:name"]["@value"] == "石家庄市公安局"
    assert population["dct:accrualPeriodicity"] == {
        "@id": "http://publications.europa.eu/resource/authority/frequency/DAILY"
    }
    assert population["dcat:theme"]["skos:notation"] == "101"
    assert population["dct:accessRights"]["rdfs:label"]["@value"] == "无条件共享"
    assert population["dcat:distribution"][0]["@type"] == "dcat:Distribution"
    assert [i["dct:title"]["@value"] for i in population["gs:items"]["@list"]][:3] == [
        "公民身份号码",
        "姓名",
        "性别",
    ]
    assert [(i["gs:name"], i["gs:queryable"]) for i in population["gs:items"]["@list"]] == [
        ("id_number", True),
        ("name", False),
        ("gender", False),
        ("birth_date", False),
        ("mobile", False),
        ("address", False),
        ("region_code", True),
    ]
    assert datasets["机动车登记信息"]["gs:legalBasis"]["@value"] == CAR_BASIS
    # Only published entries, in their published version: no drafts (the police's own, or other
    # departments'), nothing pending review, nothing retired, no change under review.
    for absent in (
        "临时救助对象信息",
        "流动人口居住登记信息",
        "健康体检机构信息",
        "出租汽车经营权信息（旧）",
    ):
        assert absent not in datasets
    assert "地铁" not in datasets["公交线路站点信息"]["dct:description"]["@value"]
    assert json.loads(_events(db, "catalog.exported")[-1].details)["format"] == "jsonld"


def test_a_business_user_exports_but_cannot_import(client, app, city, db) -> None:
    user = login(client, "police_user")

    exported = client.get("/api/v1/catalog/export.xlsx", headers=user)
    assert exported.status_code == 200
    rows = list(load_workbook(io.BytesIO(exported.content))["目录"].iter_rows(min_row=2, values_only=True))
    assert "临时救助对象信息" not in {r[1] for r in rows}  # another department's draft
    assert client.get("/api/v1/catalog/export.jsonld", headers=user).status_code == 200
    assert client.get("/api/v1/catalog/template.xlsx", headers=user).status_code == 200

    refused = _upload(client, user, b"irrelevant")
    assert refused.status_code == 403
    assert browser(app, "police_user").get("/catalog/import").status_code == 403


def test_text_that_looks_like_a_formula_is_exported_as_text(client, city, db) -> None:
    admin = login(client, "police_admin")
    trap = '=HYPERLINK("http://evil.example/","点击查看")'
    created = client.post(
        "/api/v1/resources",
        headers=admin,
        json={
            "category": department_class(db, "police"),
            "name": "公式注入测试",
            "summary": trap,
            "provision_method": "api",
        },
    )
    assert created.status_code == 201, created.text

    exported = client.get("/api/v1/catalog/export.xlsx", params={"q": "公式注入测试"}, headers=admin)

    row = load_workbook(io.BytesIO(exported.content))["目录"][2]
    assert row[1].value == "公式注入测试"
    assert (row[2].value, row[2].data_type) == (trap, "s")  # a string cell, not a formula
