"""Applications for conditionally open resources (M8): the public form, the one-time 查询码, the
Bureau's decision, downloads of approved items until the approval ends; forged codes, rejections,
oversize fields, per-address submission limits; every step audited."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.audit.models import AuditEvent
from govshare.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.identifiers import credit_code_check_char
from govshare.opendata import applications
from govshare.opendata.models import OpenApplication
from govshare.opendata.schemas import ApplicationIn
from govshare.workdays import today
from tests.conftest import settings_override
from tests.helpers import actor
from tests.opendata.helpers import ENTERPRISES, EQUIPMENT, loaded, resource
from tests.ui import browser

CREDIT = "91130100MA0" + "ABCDE1"
CREDIT = CREDIT + credit_code_check_char(CREDIT)


def form(client, resource_id: int) -> str:  # type: ignore[no-untyped-def]
    page = client.get(f"/open/resources/{resource_id}")
    assert page.status_code == 200, page.text
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def fields(token: str, **changes: object) -> dict[str, object]:
    return {
        "form_token": token,
        "applicant_type": "enterprise",
        "applicant_name": "王经理",
        "org_name": "石家庄安检技术服务有限公司",
        "credit_code": CREDIT,
        "phone": "13912345678",
        "email": "wang@example.com",
        "purpose": "用于特种设备定期检验计划的编制和到期提醒服务。",
        "items": ["licence_no", "credit_code", "title", "issued_on"],
        "wanted_until": (today() + timedelta(days=90)).isoformat(),
        **changes,
    }


def apply(client, resource_id: int, **changes: object):  # type: ignore[no-untyped-def]
    token = form(client, resource_id)
    return client.post(f"/open/resources/{resource_id}/apply", data=fields(token, **changes))


def submitted(response) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 201, response.text
    number = re.search(r'data-testid="application-number">([^<]+)<', response.text)
    code = re.search(r'data-testid="application-code">([^<]+)<', response.text)
    assert number and code
    return number.group(1), code.group(1)


def events(db: Session, kind: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.event_type == kind).order_by(AuditEvent.seq)))


def lookup(client, number: str, code: str):  # type: ignore[no-untyped-def]
    page = client.get("/open/applications/lookup")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return client.post(
        "/open/applications/lookup", data={"number": number, "code": code, "form_token": token}
    ), token


def download(client, number: str, code: str, fmt: str = "csv"):  # type: ignore[no-untyped-def]
    page = client.get("/open/applications/lookup")  # a fresh form token (and its cookie)
    token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return client.post(
        "/open/applications/download",
        data={"number": number, "code": code, "form_token": token, "format": fmt},
    )


def test_apply_approve_download_the_approved_items_masked_until_the_end(
    client, app, db: Session, city
) -> None:
    entry, pushed = loaded(client, db, EQUIPMENT, n=4)
    number, code = submitted(apply(client, entry.id))
    application = db.scalar(select(OpenApplication).where(OpenApplication.number == number))
    assert application is not None and application.status == "pending"
    assert application.code_hash != code and code not in json.dumps(
        events(db, "open.application_submitted")[-1].details
    )
    status, _ = lookup(client, number, code)
    assert status.status_code == 200 and "待审批" in status.text
    assert download(client, number, code).status_code == 403  # not approved yet
    # The Bureau approves fewer items than asked for, until a date.
    reviewer = browser(app, "bureau_reviewer")
    inbox = reviewer.get("/open-applications")
    assert inbox.status_code == 200 and number in inbox.text
    assert "待审批" in reviewer.get(f"/open-applications/{application.id}").text
    until = (today() + timedelta(days=30)).isoformat()
    decided = reviewer.post(
        f"/open-applications/{application.id}/decide",
        [
            ("decision", "approve"),
            ("items", "licence_no"),
            ("items", "credit_code"),
            ("valid_until", until),
            ("version", str(application.version)),
        ],
    )
    assert decided.status_code == 303, decided.text
    db.refresh(application)
    assert application.status == "approved" and application.approved_items == ["licence_no", "credit_code"]
    status, _ = lookup(client, number, code)
    assert "已批准" in status.text and until in status.text
    response = download(client, number, code)
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 4 and set(rows[0]) == {"licence_no", "credit_code"}
    assert {r["licence_no"] for r in rows} == {r["licence_no"] for r in pushed}
    delivered = json.loads(events(db, "open.data_delivered")[-1].details)
    assert (
        delivered["application"] == number
        and delivered["rows"] == 4
        and delivered["channel"] == "download.csv"
    )
    db.refresh(application)
    assert application.downloads == 1
    assert events(db, "open.application_approved")[-1].actor_name
    # After the approval's end date nothing more is delivered.
    application.valid_until = today() - timedelta(days=1)
    db.flush()
    expired = download(client, number, code)
    assert expired.status_code == 403 and "届满" in expired.text


def test_forged_or_wrong_codes_find_nothing_and_are_audited(client, db: Session, city) -> None:
    entry = resource(db, EQUIPMENT)
    number, code = submitted(apply(client, entry.id))
    for wrong_number, wrong_code in (
        (number, code[:-1] + ("A" if code[-1] != "A" else "B")),
        ("KF00000000000000", code),
        (number, ""),
    ):
        response, _ = lookup(client, wrong_number, wrong_code)
        assert response.status_code == 404 and "查询码不正确" in response.text
    assert len(events(db, "open.application_refused")) == 3
    assert download(client, number, "forged").status_code == 404


def test_a_rejection_needs_reasons_and_is_shown_to_the_applicant(db: Session, city) -> None:
    entry = resource(db, EQUIPMENT)
    data = ApplicationIn.model_validate(fields("x", applicant_type="person", org_name="", credit_code=""))
    result = applications.submit(
        db, actor=actor(db, "bureau_admin").__class__.anonymous("1.2.3.4"), resource_id=entry.id, data=data
    )
    reviewer = actor(db, "bureau_reviewer")
    with pytest.raises(Invalid, match="理由"):
        applications.decide(
            db, actor=reviewer, application_id=result.application.id, approve=False, reason=""
        )
    with pytest.raises(Forbidden):
        applications.decide(
            db,
            actor=actor(db, "bureau_auditor"),
            application_id=result.application.id,
            approve=False,
            reason="不符合",
        )
    with pytest.raises(Forbidden):
        applications.list_applications(
            db,
            actor=actor(db, "market_admin"),
            status=None,
            params=__import__("govshare.pagination").pagination.PageParams(),
        )
    rejected = applications.decide(
        db, actor=reviewer, application_id=result.application.id, approve=False, reason="用途与开放条件不符。"
    )
    assert rejected.status == "rejected"
    with pytest.raises(Conflict):
        applications.decide(
            db,
            actor=reviewer,
            application_id=rejected.id,
            approve=True,
            valid_until=today() + timedelta(days=3),
        )
    found = applications.lookup(
        db, actor=reviewer.__class__.anonymous("1.2.3.4"), number=result.application.number, code=result.code
    )
    assert found.decision_reason == "用途与开放条件不符。"
    assert [json.loads(e.details)["reason"] for e in events(db, "open.application_rejected")] == [
        "用途与开放条件不符。"
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"purpose": "用" * 1001}, "用途"),
        ({"applicant_name": "名" * 65}, "申请人姓名"),
        ({"credit_code": CREDIT[:-1] + ("0" if CREDIT[-1] != "0" else "1")}, "统一社会信用代码"),
        ({"credit_code": ""}, "统一社会信用代码"),
        ({"phone": "12345"}, "联系电话"),
        ({"items": ["location"]}, "信息项"),  # L2: not openable, never applied for
        ({"wanted_until": "2000-01-01"}, "使用期限"),
        ({"wanted_until": "明天"}, "使用期限"),
    ],
)
def test_bad_or_oversize_fields_come_back_with_a_chinese_message_and_the_input_kept(
    client, db: Session, city, changes, expected
) -> None:
    entry = resource(db, EQUIPMENT)
    before = db.scalar(select(func.count()).select_from(OpenApplication))
    response = apply(client, entry.id, **changes)
    assert response.status_code == 422, response.text
    assert expected in response.text and "石家庄安检技术服务有限公司" in response.text
    assert db.scalar(select(func.count()).select_from(OpenApplication)) == before


def test_limits_the_form_token_an_unconditional_resource_and_the_hourly_limit(
    client, db: Session, city
) -> None:
    equipment = resource(db, EQUIPMENT)
    open_entry = resource(db, ENTERPRISES)
    before = db.scalar(select(func.count()).select_from(OpenApplication)) or 0
    with settings_override(open_applications_per_hour=3):  # every submission counts, refused ones too
        forged = client.post(f"/open/resources/{equipment.id}/apply", data=fields("forged"))
        assert forged.status_code == 403 and "页面已过期" in forged.text
        token = form(client, equipment.id)
        refused = client.post(
            f"/open/resources/{open_entry.id}/apply", data=fields(token, items=["credit_code"])
        )
        assert refused.status_code == 422 and "无需申请" in refused.text
        assert apply(client, equipment.id).status_code == 201
        limited = apply(client, equipment.id)
        assert limited.status_code == 429 and limited.headers["retry-after"] and "频繁" in limited.text
    assert db.scalar(select(func.count()).select_from(OpenApplication)) == before + 1


def test_only_openable_items_are_offered_and_served(db: Session, city) -> None:
    from govshare.opendata import service

    shown = service.get(db, resource_id=resource(db, EQUIPMENT).id)
    assert "location" in {i["name"] for i in shown.items}  # shown (L2, not restricted) …
    assert "location" not in {i["name"] for i in shown.served}  # … but never opened
    with pytest.raises(NotFound):
        service.get(db, resource_id=resource(db, "人口基础信息").id)
