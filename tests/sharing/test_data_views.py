"""The pages for using shared data: 数据查询 under a held grant (masked rows, filters, keyset pages,
the CSV link), 数据异议 filed from a row and answered, reopened and closed through the forms, and
数据导出 requested on the grant page, approved by the Bureau and downloaded; who sees what.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from govshare.identifiers import id_number_valid
from govshare.sharing import data_views
from govshare.sharing.models import DataExport, Feedback
from tests.exchange.test_ingest import csv_body, line, push
from tests.helpers import login
from tests.sharing.test_rows import PEOPLE, granted, loaded
from tests.ui import Browser, browser, text, texts

NAMES = ["张伟", "李娜", "欧阳娜娜", "王芳", "赵敏"]
ITEMS = ["id_number", "name", "birth_date", "address", "region_code"]


def held(client, db) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """人口基础信息 with five rows, and 民政局's grant on it: (resource id, grant id)."""
    population = loaded(client, db)
    return population.id, int(granted(client, population, ITEMS)["id"])


def row_ids(page: str) -> list[str]:
    return re.findall(r'data-testid="data-row" data-row="([0-9a-f]{64})"', page)


def shown_values(page: str) -> list[str]:
    """The values in the rows' cells."""
    return re.findall(r"<td>([^<]*)</td>", page)


def test_the_holder_queries_masked_rows_with_filters_and_pages(app, client, city, db, monkeypatch) -> None:
    _resource_id, grant_id = held(client, db)
    civil = browser(app, "civil_user")
    grant_page = civil.get(f"/sharing/grants/{grant_id}").text
    assert texts(grant_page, "grant-query") == ["数据查询"] and texts(grant_page, "export-form")

    url = f"/sharing/grants/{grant_id}/data"
    page = civil.get(url).text
    assert len(texts(page, "data-row")) == len(PEOPLE)
    assert texts(page, "data-column")[:2] == ["公民身份号码", "姓名"]
    rules = dict(zip(texts(page, "data-column"), texts(page, "data-masking"), strict=True))
    assert "保留前 6 位和后 4 位" in rules["公民身份号码"] and rules["行政区划代码"] == "原样提供"
    values = shown_values(page)
    assert not any(id_number_valid(v) for v in values) and not set(PEOPLE) & set(values)
    assert "欧阳**" in values
    assert len(texts(page, "data-report")) == len(PEOPLE)
    assert f"/sharing/feedback/new?grant={grant_id}&amp;row_id={row_ids(page)[0]}" in page

    # One input per item, from/to for the date; the filters go to the service as typed.
    assert 'name="birth_date__gte"' in page and 'name="region_code"' in page
    assert len(texts(civil.get(f"{url}?region_code=130102").text, "data-row")) == 2
    later = civil.get(f"{url}?birth_date__gte=1990-01-01&birth_date__lte=&name=").text
    assert len(texts(later, "data-row")) == 2 and 'value="1990-01-01"' in later
    bad = civil.get(f"{url}?birth_date__gte=去年")
    assert bad.status_code == 422 and "birth_date" in text(bad.text, "field-error-birth_date")

    monkeypatch.setattr(data_views, "PAGE_ROWS", 2)
    seen: list[str] = []
    next_url: str | None = f"{url}?region_code=130102&region_code=&name="
    for _ in range(4):
        assert next_url is not None
        page = civil.get(next_url.replace("&amp;", "&")).text
        seen += row_ids(page)
        found = re.search(r'href="([^"]+)" data-testid="data-next"', page)
        next_url = found.group(1) if found else None
        if next_url is None:
            break
    assert len(seen) == len(set(seen)) == 2  # the filter holds across pages
    next_url = url
    seen = []
    while next_url:
        page = civil.get(next_url.replace("&amp;", "&")).text
        seen += row_ids(page)
        found = re.search(r'href="([^"]+)" data-testid="data-next"', page)
        next_url = found.group(1) if found else None
    assert len(seen) == len(set(seen)) == len(PEOPLE)

    csv_link = re.search(r'href="([^"]+)" data-testid="data-csv"', page)
    assert csv_link is not None
    download = civil.get(csv_link.group(1).replace("&amp;", "&"))
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert table[0][0] == "_row_id" and len(table) == len(PEOPLE) + 1
    assert not any(id_number_valid(v) for r in table for v in r)

    # The provider, the Bureau and other departments do not query under 民政局's grant.
    assert browser(app, "police_admin").get(url).status_code == 403
    assert browser(app, "bureau_admin").get(url).status_code == 403
    assert browser(app, "hrss_user").get(url).status_code == 404
    assert texts(browser(app, "police_admin").get(f"/sharing/grants/{grant_id}").text, "grant-query") == []


def file_report(civil: Browser, grant_id: int, row_id: str, **extra: str):  # type: ignore[no-untyped-def]
    fields = {"grant_id": str(grant_id), "row_id": row_id, "kind": "wrong", "description": "该人员已迁出本市"}
    return civil.post("/sharing/feedback/new", [("items", "address"), *(fields | extra).items()])


def test_a_feedback_case_is_filed_from_a_row_answered_reopened_corrected_and_closed(
    app, client, city, db
) -> None:
    resource_id, grant_id = held(client, db)
    civil = browser(app, "civil_user")
    row_id = row_ids(civil.get(f"/sharing/grants/{grant_id}/data").text)[0]
    form = civil.get(f"/sharing/feedback/new?grant={grant_id}&row_id={row_id}").text
    assert f'value="{row_id}"' in form and "住址 address" in text(form, "feedback-form")

    blank = file_report(civil, grant_id, row_id, description=" ")
    assert blank.status_code == 422 and text(blank.text, "field-error-description") == "请填写异议说明。"
    assert 'value="wrong" required checked' in blank.text
    outside = file_report(civil, grant_id, row_id, items="mobile")
    assert outside.status_code == 422 and "不在本单位的授权内" in text(outside.text, "field-error-items")
    filed = file_report(civil, grant_id, row_id)
    assert filed.status_code == 303, filed.text
    case_id = int(filed.headers["location"].split("/")[-1].split("?")[0])
    again = file_report(civil, grant_id, row_id)
    assert again.status_code == 409
    assert f'href="/sharing/feedback/{case_id}" data-testid="feedback-existing"' in again.text

    page = civil.get(filed.headers["location"]).text
    case = db.get(Feedback, case_id)
    assert case is not None
    assert "异议已提交" in text(page, "notice") and text(page, "feedback-status") == "待核实"
    assert text(page, "due-date") == case.due_date.isoformat() and "个工作日" in text(page, "due-left")
    assert text(page, "feedback-items") == "住址（address）" and text(page, "feedback-row-id") == row_id
    assert texts(page, "feedback-keys") == [] and texts(page, "feedback-answer-form") == []
    assert [case_id] == [
        int(r) for r in re.findall(r'data-feedback="(\d+)"', civil.get("/sharing/feedback").text)
    ]

    police = browser(app, "police_admin")
    inbox = police.get("/sharing/feedback?side=inbox").text
    assert "民政局" in text(inbox, "feedback-row")
    detail = police.get(f"/sharing/feedback/{case_id}").text
    number = text(detail, "feedback-keys").split("：")[1]
    assert number in PEOPLE and texts(detail, "feedback-row-id") == []
    assert text(detail, "feedback-answer-form")
    no_batch = police.post(f"/sharing/feedback/{case_id}/answer", {"answer": "corrected", "reason": "已更正"})
    assert no_batch.status_code == 422 and "batch_id" in text(no_batch.text, "field-error-batch_id")
    confirmed = police.post(
        f"/sharing/feedback/{case_id}/answer", {"answer": "confirmed", "reason": "经户籍系统核实无误"}
    )
    assert confirmed.status_code == 303

    answered = civil.get(f"/sharing/feedback/{case_id}").text
    assert text(answered, "feedback-answer-kind") == "经核实无误" and text(answered, "feedback-close-form")
    undecided = civil.post(f"/sharing/feedback/{case_id}/close", {"comment": "住址仍未更正"})
    assert undecided.status_code == 422 and "请选择办结或重新打开" in undecided.text
    assert "住址仍未更正" in undecided.text  # the form comes back with what was typed
    no_reason = civil.post(f"/sharing/feedback/{case_id}/close", {"accept": "no", "comment": ""})
    assert no_reason.status_code == 422 and "重新打开的理由" in text(no_reason.text, "field-error-comment")
    reopened = civil.post(
        f"/sharing/feedback/{case_id}/close", {"accept": "no", "comment": "本人已于上月迁出"}
    )
    assert reopened.status_code == 303 and reopened.headers["location"].endswith("done=reopened")

    who = PEOPLE.index(number)
    body = csv_body(line(number, NAMES[who], mobile=f"1391234567{who}")).replace(
        "建设北大街1号".encode(), "裕华路9号".encode()
    )
    fixed = push(client, login(client, "police_admin"), resource_id, body)
    assert fixed.status_code == 201 and fixed.json()["updated"] == 1, fixed.text
    detail = police.get(f"/sharing/feedback/{case_id}").text
    assert f'<option value="{fixed.json()["batch_id"]}"' in detail
    corrected = police.post(
        f"/sharing/feedback/{case_id}/answer",
        {"answer": "corrected", "batch_id": fixed.json()["batch_id"], "reason": "已按迁移登记更正"},
    )
    assert corrected.status_code == 303
    closed = civil.post(f"/sharing/feedback/{case_id}/close", {"accept": "yes", "comment": ""})
    assert closed.status_code == 303
    page = civil.get(f"/sharing/feedback/{case_id}?done=closed").text
    assert (
        text(page, "feedback-status") == "已办结" and text(page, "feedback-batch") == fixed.json()["batch_id"]
    )
    assert texts(page, "feedback-close-form") == []

    bureau = browser(app, "bureau_admin")
    assert "民政局" in text(bureau.get("/sharing/feedback?side=all").text, "feedback-row")
    assert bureau.get(f"/sharing/feedback/{case_id}").status_code == 200
    assert browser(app, "hrss_user").get(f"/sharing/feedback/{case_id}").status_code == 404
    assert "全市" not in text(civil.get("/sharing/feedback").text, "feedback-sides")


def test_an_export_is_requested_on_the_grant_page_approved_and_downloaded(app, client, city, db) -> None:
    _resource_id, grant_id = held(client, db)
    civil = browser(app, "civil_user")
    ask = [("grant_id", str(grant_id)), ("format", "csv"), ("region_code", "130102"), ("name", "")]
    blank = civil.post("/sharing/exports", [*ask, ("reason", "")])
    assert blank.status_code == 422 and text(blank.text, "field-error-reason") == "请填写导出理由。"
    assert 'name="region_code" maxlength="200" value="130102"' in blank.text  # typed filters come back
    assert db.scalar(select(DataExport.id)) is None
    made = civil.post("/sharing/exports", [*ask, ("reason", "年度低保复核需离线比对")])
    assert made.status_code == 303, made.text
    export_id = int(made.headers["location"].split("/")[-1].split("?")[0])
    page = civil.get(made.headers["location"]).text
    assert "导出申请已提交" in text(page, "notice") and text(page, "export-status") == "待市数据局审批"
    assert text(page, "export-filters") == "region_code = 130102" and texts(page, "export-download") == []
    assert civil.get(f"/sharing/exports/{export_id}/file").status_code == 409
    assert (
        civil.post(
            f"/sharing/exports/{export_id}/decision", {"decision": "approve", "reason": "同意"}
        ).status_code
        == 403
    )

    bureau = browser(app, "bureau_admin")
    listed = bureau.get("/sharing/exports").text
    assert "民政局" in text(listed, "export-row")
    undecided = bureau.post(f"/sharing/exports/{export_id}/decision", {"reason": "同意"})
    assert undecided.status_code == 422 and "批准或驳回" in text(undecided.text, "field-error-decision")
    approved = bureau.post(
        f"/sharing/exports/{export_id}/decision", {"decision": "approve", "reason": "用于年度复核，同意"}
    )
    assert approved.status_code == 303
    assert texts(bureau.get(f"/sharing/exports/{export_id}").text, "export-download") == []
    twice = bureau.post(f"/sharing/exports/{export_id}/decision", {"decision": "reject", "reason": "不同意"})
    assert twice.status_code == 409 and "不能重复审批" in text(twice.text, "form-error")

    page = civil.get(f"/sharing/exports/{export_id}").text
    assert text(page, "export-status") == "已批准" and text(page, "export-decision").startswith(
        "用于年度复核"
    )
    file = civil.get(f"/sharing/exports/{export_id}/file")
    assert file.status_code == 200 and "attachment" in file.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(file.content.decode("utf-8-sig"))))
    assert table[0] == ["_row_id", *ITEMS] and len(table) == 3  # two rows in 130102
    assert not any(id_number_valid(v) for r in table for v in r)
    assert text(civil.get("/sharing/exports").text, "export-left") == "2"
    assert browser(app, "police_admin").get(f"/sharing/exports/{export_id}").status_code == 404


@pytest.mark.parametrize("username", ["civil_user", "police_admin", "bureau_admin"])
def test_the_sharing_tabs_lead_to_feedback_and_exports(app, city, username) -> None:
    person = browser(app, username)
    tabs = text(person.get("/sharing/grants").text, "sharing-tabs")
    assert "数据异议" in tabs and "数据导出" in tabs
    assert person.get("/sharing/feedback").status_code == 200
    assert person.get("/sharing/exports").status_code == 200


def test_a_rejected_export_shows_the_opinion_and_offers_no_download(app, client, city, db) -> None:
    _resource_id, grant_id = held(client, db)
    civil = browser(app, "civil_user")
    made = civil.post(
        "/sharing/exports", {"grant_id": str(grant_id), "format": "xlsx", "reason": "需要离线保存全部数据"}
    )
    export_id = int(made.headers["location"].split("/")[-1].split("?")[0])
    rejected = browser(app, "bureau_admin").post(
        f"/sharing/exports/{export_id}/decision", {"decision": "reject", "reason": "请改用数据接口按需查询"}
    )
    assert rejected.status_code == 303 and rejected.headers["location"].endswith("done=rejected")
    page = civil.get(f"/sharing/exports/{export_id}").text
    assert text(page, "export-status") == "未批准" and "请改用数据接口" in text(page, "export-decision")
    assert texts(page, "export-download") == [] and texts(page, "export-decision-form") == []
    assert civil.get(f"/sharing/exports/{export_id}/file").status_code == 409
    assert text(civil.get("/sharing/exports").text, "export-left") == "—"


def test_the_bureau_reviews_purposes_declared_against_uses(client, city, db) -> None:
    from tests.sharing.test_requests import PURPOSE
    from tests.sharing.test_rows import granted, loaded

    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "region_code"])
    params = {"purpose": PURPOSE, "limit": 2}
    assert (
        client.get(f"/api/v1/resources/{population.id}/rows", params=params, headers=civil).status_code == 200
    )
    wrong = {"purpose": "商业营销"}
    assert (
        client.get(f"/api/v1/resources/{population.id}/rows", params=wrong, headers=civil).status_code == 403
    )
    page = client.get("/sharing/purposes", headers=login(client, "bureau_admin"))
    assert page.status_code == 200
    listed = page.text.split('data-testid="purpose-row"')[1:]
    assert len(listed) == 2
    assert "商业营销" in listed[0] and "授权未载" in listed[0]  # undeclared purposes first
    assert PURPOSE in listed[1] and "授权未载" not in listed[1]
    assert client.get("/sharing/purposes", headers=civil).status_code == 403
