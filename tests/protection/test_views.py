"""The protection pages: a security officer's own alerts, the Bureau handling one, rules, and an
incident with containment from its page."""

from __future__ import annotations

from sqlalchemy import select

from govshare.protection import rules
from govshare.systems.models import BusinessSystem
from govshare.users.models import User
from tests.helpers import user_id
from tests.protection.test_alerts import raised
from tests.ui import browser, hidden, text, texts


def test_security_officer_sees_own_departments_alerts_with_evidence(app, client, city, db) -> None:
    alert = raised(client, db)
    officer = browser(app, "civil_security")
    page = officer.get("/protection/alerts")
    assert page.status_code == 200 and len(texts(page.text, "alert-row")) == 1
    assert "安全告警" in page.text and 'href="/protection/alerts"' in page.text  # in the navigation
    detail = officer.get(f"/protection/alerts/{alert.id}")
    assert detail.status_code == 200 and len(texts(detail.text, "evidence-row")) == 2
    assert "assign-form" not in detail.text  # viewing, not handling
    assert browser(app, "police_security").get(f"/protection/alerts/{alert.id}").status_code == 404
    assert 'href="/protection/alerts"' not in browser(app, "civil_user").get("/").text


def test_bureau_handles_an_alert_from_its_page(app, client, city, db) -> None:
    alert = raised(client, db)
    bureau = browser(app, "bureau_admin")
    url = f"/protection/alerts/{alert.id}"
    assert bureau.post(f"{url}/assign", {"assignee_id": ""}).status_code == 422
    assert bureau.post(f"{url}/assign", {"assignee_id": str(user_id(db, "bureau_admin"))}).status_code == 303
    assert bureau.post(f"{url}/investigate", {}).status_code == 303
    refused = bureau.post(
        f"{url}/close", {"conclusion": "核实", "accountability": "rectified", "responsible": ""}
    )
    assert refused.status_code == 422 and "责任人或责任部门" in text(refused.text, "form-error")
    closed = bureau.post(f"{url}/close", {"conclusion": "核实为测试调用", "accountability": "none"})
    assert closed.status_code == 303
    page = bureau.get(url)
    assert text(page.text, "status") == "已办结" and text(page.text, "alert-conclusion") == "核实为测试调用"
    assert bureau.post(f"{url}/investigate", {}, csrf=False).status_code == 403  # CSRF


def test_rules_page_saves_thresholds(app, city, db) -> None:
    bureau = browser(app, "bureau_admin")
    page = bureau.get("/protection/rules")
    assert page.status_code == 200 and "集中越权访问" in page.text
    assert "审计日志已扫描至 #" in text(page.text, "watermark")
    saved = bureau.post(
        "/protection/rules/denial_burst", {"count": "7", "minutes": "5", "enabled": "1", "version": ""}
    )
    assert saved.status_code == 303
    assert rules.effective(db)["denial_burst"].params == {"count": 7, "minutes": 5}
    bad = bureau.post("/protection/rules/denial_burst", {"count": "x", "minutes": "5", "version": "1"})
    assert bad.status_code == 422 and "拒绝次数应为整数" in bad.text
    auditor = browser(app, "bureau_auditor")
    assert "rule-form" not in auditor.get("/protection/rules").text
    assert auditor.post("/protection/rules/denial_burst", {"count": "3", "minutes": "5"}).status_code == 403


def test_incident_page_contains_and_lifts_with_confirmation(app, client, city, db) -> None:
    alert = raised(client, db)
    bureau = browser(app, "bureau_admin")
    form = bureau.get(f"/protection/incidents/new?alert_id={alert.id}")
    assert form.status_code == 200 and hidden(form.text, "csrf_token")
    created = bureau.post(
        "/protection/incidents/new",
        [
            ("title", "越权查询审计日志"),
            ("severity", "general"),
            ("description", "民政局业务人员多次越权"),
            ("alert_ids", str(alert.id)),
        ],
    )
    assert created.status_code == 303, created.text
    url = created.headers["location"].split("?")[0]
    page = bureau.get(url)
    assert (
        'data-confirm="确定要暂停该业务系统吗' in page.text
        and 'data-confirm="确定要停用该人员账号吗' in page.text
    )
    unknown = bureau.post(
        f"{url}/containments", {"kind": "disable_person", "target": "nobody", "reason": "x"}
    )
    assert unknown.status_code == 422 and "找不到该人员用户名" in unknown.text
    done = bureau.post(
        f"{url}/containments", {"kind": "disable_person", "target": "civil_user", "reason": "账号疑被盗用"}
    )
    assert done.status_code == 303
    user = db.scalar(select(User).where(User.username == "civil_user"))
    assert user is not None and not user.is_active
    page = bureau.get(url)
    [row] = texts(page.text, "containment-row")
    assert "停用人员账号" in row and "执行中" in row
    containment_id = page.text.split("/containments/")[1].split("/lift")[0]
    assert bureau.post(f"{url}/containments/{containment_id}/lift", {}).status_code == 303
    db.refresh(user)
    assert user.is_active
    suspended = bureau.post(
        f"{url}/containments", {"kind": "suspend_system", "target": "police-hukou", "reason": "核查"}
    )
    assert suspended.status_code == 303
    system = db.scalar(select(BusinessSystem).where(BusinessSystem.code == "police-hukou"))
    assert system is not None and not system.is_active
    assert bureau.post(f"{url}/close", {"conclusion": ""}).status_code == 422
    assert bureau.post(f"{url}/notes", {"text": "已通知公安局"}).status_code == 303
    assert bureau.post(f"{url}/close", {"conclusion": "处置完毕"}).status_code == 303
    page = bureau.get(url)
    assert text(page.text, "incident-status") == "已办结"
    lines = texts(page.text, "timeline-row")
    assert len(lines) == 7 and "仍在执行的措施" in lines[-1]
    listing = bureau.get("/protection/incidents")
    assert len(texts(listing.text, "incident-row")) == 1
