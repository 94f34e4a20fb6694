"""The rectification pages as people use them: the Bureau enters a violation and issues a notice from
the form, the department reports with an attachment, the Bureau rejects, then verifies; refused forms
come back filled in; a stale page's decision is refused with a reload link."""

from __future__ import annotations

from sqlalchemy import select

from govshare.crypto import sm3_hex
from govshare.rectification.models import RectificationReport
from tests.helpers import org
from tests.ui import browser, hidden, texts


def test_a_notice_goes_through_the_pages(app, client, db) -> None:
    bureau = browser(app, "bureau_admin")
    hrss = org(db, "hrss").id
    listing = bureau.get("/rectification")
    assert listing.status_code == 200 and 'data-testid="detect-form"' in listing.text
    empty = bureau.post("/rectification/violations/new", {"org_id": str(hrss), "summary": ""})
    assert empty.status_code == 422 and "违规情形" in texts(empty.text, "form-error")[0]
    entered = bureau.post(
        "/rectification/violations/new",
        {"org_id": str(hrss), "summary": "拒不配合年度共享检查", "evidence": "/catalog/supervision"},
    )
    assert entered.status_code == 303
    violation_url = entered.headers["location"].split("?")[0]
    violation_id = int(violation_url.rsplit("/", 1)[1])
    page = bureau.get(violation_url)
    assert texts(page.text, "violation-summary") == ["拒不配合年度共享检查"]
    assert 'href="/catalog/supervision"' in page.text
    filtered = bureau.get(f"/rectification?org_id={hrss}&kind=other&status=open")
    assert f'data-id="{violation_id}"' in filtered.text

    form = bureau.get(f"/rectification/notices/new?org_id={hrss}&v={violation_id}")
    assert form.status_code == 200 and "checked" in form.text
    missing = bureau.post(
        "/rectification/notices/new",
        [("org_id", str(hrss)), ("violation_ids", str(violation_id)), ("requirement", "")],
    )
    assert missing.status_code == 422 and "整改要求" in texts(missing.text, "form-error")[0]
    issued = bureau.post(
        "/rectification/notices/new",
        [
            ("org_id", str(hrss)),
            ("violation_ids", str(violation_id)),
            ("requirement", "限期配合检查"),
            ("working_days", "5"),
        ],
    )
    assert issued.status_code == 303, issued.text
    url = issued.headers["location"].split("?")[0]

    admin = browser(app, "hrss_admin")
    page = admin.get(url)
    assert 'data-testid="report-form"' in page.text and 'data-testid="verify-form"' not in page.text
    content = b"%PDF-1.4 rectification evidence"
    reported = admin.client.post(
        f"{url}/report",
        data={
            "text": "已配合检查并提交材料。",
            "version": hidden(page.text, "version"),
            "csrf_token": admin.csrf,
        },
        files={"attachment": ("整改材料.pdf", content, "application/pdf")},
        follow_redirects=False,
    )
    assert reported.status_code == 303, reported.text
    report = db.scalar(select(RectificationReport).order_by(RectificationReport.id.desc()))
    assert report is not None and report.file_sm3 == sm3_hex(content) and report.file_name == "整改材料.pdf"

    page = bureau.get(url)
    assert 'data-testid="verify-form"' in page.text and "data-confirm=" in page.text
    version = hidden(page.text, "version")
    assert bureau.post(f"{url}/reject", {"reason": "", "version": version}).status_code == 422
    assert bureau.post(f"{url}/reject", {"reason": "材料不全", "version": version}).status_code == 303
    assert texts(bureau.get(url).text, "notice-status") == ["报告退回"]
    # The department reports again from a page it opened before the rejection: refused, with a reload link.
    stale = admin.client.post(
        f"{url}/report",
        data={"text": "补充材料", "version": version, "csrf_token": admin.csrf},
        follow_redirects=False,
    )
    assert stale.status_code == 409 and 'data-testid="reload"' in stale.text
    page = admin.get(url)
    again = admin.client.post(
        f"{url}/report",
        data={"text": "补充材料", "version": hidden(page.text, "version"), "csrf_token": admin.csrf},
        follow_redirects=False,
    )
    assert again.status_code == 303
    page = bureau.get(url)
    assert (
        bureau.post(
            f"{url}/verify", {"opinion": "整改到位", "version": hidden(page.text, "version")}
        ).status_code
        == 303
    )
    done = bureau.get(url)
    assert texts(done.text, "notice-status") == ["已核验"] and len(texts(done.text, "notice-timeline")) == 1
    assert "核验通过整改报告" in texts(done.text, "notice-timeline")[0]
    assert browser(app, "police_admin").get(url).status_code == 404


def test_pages_answer_each_role(app, db) -> None:
    for username in ("bureau_admin", "bureau_reviewer", "bureau_auditor", "police_admin"):
        person = browser(app, username)
        for path in ("/rectification", "/rectification/notices", "/rectification/escalations"):
            assert person.get(path).status_code == 200, (username, path)
    user = browser(app, "police_user")
    assert user.get("/rectification").status_code == 403
    auditor = browser(app, "bureau_auditor")
    assert auditor.get("/rectification/notices/new").status_code == 403
    assert 'data-testid="detect-form"' not in auditor.get("/rectification").text
