"""The sharing pages: the resource page's action by sharing type, the request form, 我的申请, 待我审批
with the working days left, the approver's decision form, and 共享授权 with the provider's changes;
who sees what (consumer, provider approver, provider data administrator, another department, Bureau).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.sharing.models import Grant, ShareRequest
from govshare.sharing.views import due_of, parse_codes
from govshare.workdays import Calendar, today
from tests.ui import Browser, browser, text, texts

PURPOSE = "最低生活保障对象资格核查"
BASIS = "《社会救助暂行办法》第十一条"


def resource(db: Session, name: str) -> Resource:
    found = db.scalar(select(Resource).where(Resource.name == name))
    assert found is not None, name
    return found


def ask(person: Browser, res: Resource, items: list[str] | None = None, **extra: str):  # type: ignore[no-untyped-def]
    fields = [("items", item) for item in (items or ["id_number", "name", "region_code"])]
    values = {"purpose": PURPOSE, "basis": BASIS, "scope_of_use": "社会救助科", "duration_days": "365"}
    return person.post(f"/catalog/{res.id}/request", fields + list((values | extra).items()))


def request_id(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.text
    return int(response.headers["location"].split("/")[-1].split("?")[0])


def test_the_resource_page_offers_the_action_of_its_sharing_type(app, city, db) -> None:
    civil = browser(app, "civil_user")
    population = civil.get(f"/catalog/{resource(db, '人口基础信息').id}").text
    assert text(population, "request-button") == "申请使用"
    cars = civil.get(f"/catalog/{resource(db, '机动车登记信息').id}").text
    assert text(cars, "request-button") == "提交共享申请"
    refused = civil.get(f"/catalog/{resource(db, '出入境证件办理信息').id}").text
    assert texts(refused, "request-button") == []
    assert "依法不向其他部门提供" in text(refused, "sharing-refused")

    # The providing department, the Bureau and a catalog compiler get no request panel.
    for username in ("police_user", "bureau_admin", "civil_compiler"):
        page = browser(app, username).get(f"/catalog/{resource(db, '人口基础信息').id}").text
        assert texts(page, "sharing-panel") == [], username


def test_an_unconditional_request_through_the_form_grants_at_once(app, city, db) -> None:
    civil = browser(app, "civil_user")
    population = resource(db, "人口基础信息")
    form = civil.get(f"/catalog/{population.id}/request")
    assert form.status_code == 200 and "公民身份号码" in text(form.text, "request-form")

    missing = ask(civil, population, purpose=" ")
    assert missing.status_code == 422 and text(missing.text, "field-error-purpose") == "请填写用途。"
    assert 'value="id_number" checked' in missing.text  # what was typed comes back
    words = ask(civil, population, duration_days="一年")
    assert words.status_code == 422 and "使用期限（天）" in text(words.text, "field-error-duration_days")
    none = civil.post(
        f"/catalog/{population.id}/request", {"purpose": PURPOSE, "basis": BASIS, "duration_days": "30"}
    )
    assert none.status_code == 422 and "至少选择一个信息项" in text(none.text, "field-error-items")
    assert db.scalar(select(ShareRequest.id)) is None

    filed = ask(civil, population)
    page = civil.get(f"/sharing/requests/{request_id(filed)}?done=granted").text
    assert "已获得授权" in text(page, "notice")
    assert text(page, "request-status") == "已授权"
    assert text(page, "grant-items") == "公民身份号码（id_number）、姓名（name）、行政区划代码（region_code）"
    assert text(page, "grant-scope") == "全部数据行" and text(page, "grant-masking") == "默认"

    held = civil.get(f"/catalog/{population.id}").text
    assert PURPOSE in text(held, "held-grant")
    again = ask(civil, population)
    assert again.status_code == 409 and "有效授权" in text(again.text, "form-error")


def test_what_cannot_be_requested_has_no_form(app, city, db) -> None:
    civil = browser(app, "civil_user")
    passports = resource(db, "出入境证件办理信息")
    assert civil.get(f"/catalog/{passports.id}/request").status_code == 403
    posted = ask(civil, passports, items=["id_number"])
    assert posted.status_code == 403 and "依法不向其他部门提供" in text(posted.text, "form-error")
    own = browser(app, "police_user").get(f"/catalog/{resource(db, '人口基础信息').id}/request")
    assert own.status_code == 422 and "无需申请" in own.text
    compiler = browser(app, "civil_compiler")
    assert compiler.get(f"/catalog/{resource(db, '人口基础信息').id}/request").status_code == 403
    assert ask(compiler, resource(db, "人口基础信息")).status_code == 403


def test_a_conditional_request_is_pending_in_my_requests_and_in_the_providers_inbox(app, city, db) -> None:
    civil = browser(app, "civil_user")
    cars = resource(db, "机动车登记信息")
    number = request_id(ask(civil, cars))
    page = civil.get(f"/sharing/requests/{number}?done=filed").text
    filed = db.get(ShareRequest, number)
    assert filed is not None and filed.due_date is not None
    assert text(page, "request-status") == "待审批" and texts(page, "decision-form") == []
    assert text(page, "due-date") == filed.due_date.isoformat()
    assert "等待" in text(page, "request-waiting")
    left = Calendar.load(db).working_days_between(today(), filed.due_date).days
    assert text(page, "due-left") == f"剩余 {left} 个工作日"
    assert "正在审批" in text(civil.get(f"/catalog/{cars.id}").text, "pending-request")

    mine = civil.get("/sharing/requests").text
    assert [r for r in texts(mine, "request-row") if "机动车登记信息" in r and "待审批" in r]
    assert texts(civil.get("/sharing/requests?status=rejected").text, "request-row") == []

    approver = browser(app, "police_approver")
    assert approver.get("/sharing").headers["location"] == "/sharing/inbox"
    inbox = approver.get("/sharing/inbox").text
    (row,) = texts(inbox, "inbox-row")
    assert "民政局" in row and f"剩余 {left} 个工作日" in row and "审批" in row
    assert text(approver.get(f"/sharing/requests/{number}").text, "decision-form")

    admin = browser(app, "police_admin")  # the provider's data administrator reads, does not decide
    assert "查看" in text(admin.get("/sharing/inbox").text, "inbox-row")
    assert texts(admin.get(f"/sharing/requests/{number}").text, "decision-form") == []
    assert browser(app, "hrss_user").get(f"/sharing/requests/{number}").status_code == 404
    assert texts(civil.get("/sharing/inbox").text, "inbox-row") == []  # nothing asked of 民政局

    bureau = browser(app, "bureau_reviewer")
    assert bureau.get(f"/sharing/requests/{number}").status_code == 200
    assert texts(bureau.get("/sharing/requests").text, "request-row") == []
    assert len(texts(bureau.get("/sharing/requests?side=all").text, "request-row")) == 1


def test_the_inbox_marks_overdue_requests_and_lists_the_soonest_due_first(app, city, db) -> None:
    civil = browser(app, "civil_user")
    cars = resource(db, "机动车登记信息")
    later = request_id(ask(civil, cars))
    sooner = request_id(ask(civil, cars, purpose="困难群众救助对象核查"))
    past = today() - timedelta(days=20)
    db.execute(update(ShareRequest).where(ShareRequest.id == sooner).values(due_date=past))
    inbox = browser(app, "police_approver").get("/sharing/inbox").text
    assert 'class="overdue"' in inbox
    rows = texts(inbox, "inbox-row")
    assert "困难群众救助对象核查" in rows[0] and PURPOSE in rows[1]
    assert f"已超期 {Calendar.load(db).working_days_between(past, today()).days} 个工作日" in rows[0]
    assert later != sooner


def test_due_dates_count_working_days_and_say_when_provisional() -> None:
    filed = ShareRequest(due_date=date(2026, 10, 9), due_provisional=False)
    due = due_of(filed, on=date(2026, 9, 30))  # the National Day holiday lies between
    assert due is not None and (due.days, due.overdue, due.text) == (2, False, "剩余 2 个工作日")
    late = due_of(filed, on=date(2026, 10, 13))  # Saturday 10 October is a make-up working day
    assert late is not None and late.overdue and late.text == "已超期 3 个工作日"
    on_the_day = due_of(filed, on=date(2026, 10, 9))
    assert on_the_day is not None and on_the_day.text == "今日到期"
    unknown = ShareRequest(due_date=date(2027, 1, 15), due_provisional=False)
    guessed = due_of(unknown, on=date(2027, 1, 4))  # nobody has published 2027's holidays
    assert guessed is not None and guessed.provisional
    loaded = due_of(unknown, on=date(2027, 1, 4), calendar=Calendar({2027: []}))  # the Bureau's table
    assert loaded is not None and not loaded.provisional and loaded.days == 9
    assert due_of(ShareRequest(due_date=None)) is None
    assert parse_codes("130102，130104、130105 130106") == ["130102", "130104", "130105", "130106"]


def test_the_approver_decides_through_the_form(app, city, db) -> None:
    civil = browser(app, "civil_user")
    cars = resource(db, "机动车登记信息")
    number = request_id(ask(civil, cars))
    approver = browser(app, "police_approver")
    url = f"/sharing/requests/{number}/decision"
    form = approver.get(f"/sharing/requests/{number}").text
    assert 'value="region_code" checked' in form and 'name="region_codes"' in form

    unchosen = approver.post(url, {"reason": "同意"})
    assert unchosen.status_code == 422 and "请选择答复" in text(unchosen.text, "field-error-decision")
    no_reason = approver.post(url, {"decision": "reject", "reason": " "})
    assert no_reason.status_code == 422 and text(no_reason.text, "field-error-reason") == "请填写答复理由。"
    nothing = approver.post(url, {"decision": "approve", "reason": "同意"})
    assert nothing.status_code == 422 and "至少勾选" in text(nothing.text, "field-error-items")
    longer = approver.post(
        url, [("decision", "approve"), ("reason", "同意"), ("items", "name"), ("duration_days", "999")]
    )
    assert longer.status_code == 422 and "365" in text(longer.text, "field-error-duration_days")
    assert "同意" in text(longer.text, "decision-form")  # the typed reason comes back

    partial = approver.post(
        url,
        [
            ("decision", "partial"),
            ("reason", "仅限长安区、桥西区，期限 90 天"),
            ("items", "id_number"),
            ("items", "region_code"),
            ("region_codes", "130102，130104"),
            ("masking_profile", "strict"),
            ("duration_days", "90"),
        ],
    )
    assert partial.status_code == 303, partial.text
    page = approver.get(partial.headers["location"]).text
    assert "答复已提交" in text(page, "notice") and texts(page, "decision-form") == []
    grant = db.scalar(select(Grant).where(Grant.request_id == number))
    assert grant is not None and grant.items == ["id_number", "region_code"]
    assert grant.row_scope == {"region_code": ["130102", "130104"]} and grant.masking_profile == "strict"

    seen = civil.get(f"/sharing/requests/{number}").text
    assert text(seen, "request-status") == "部分同意"
    assert text(seen, "decision-reason") == "仅限长安区、桥西区，期限 90 天"
    assert text(seen, "grant-scope") == "region_code ∈ 130102、130104"
    assert text(seen, "grant-masking") == "strict"
    twice = approver.post(url, {"decision": "reject", "reason": "重复"})
    assert twice.status_code == 409 and "不能重复答复" in text(twice.text, "form-error")
    # Someone who is not the provider's approver is refused, whatever the form says.
    assert browser(app, "police_admin").post(url, {"decision": "reject", "reason": "x"}).status_code == 403
    assert civil.post(url, {"decision": "reject", "reason": "x"}).status_code == 403


def test_a_rejection_through_the_form_shows_its_reasons(app, city, db) -> None:
    civil = browser(app, "civil_user")
    number = request_id(ask(civil, resource(db, "机动车登记信息")))
    rejected = browser(app, "police_approver").post(
        f"/sharing/requests/{number}/decision", {"decision": "reject", "reason": "用途与申请事项无关"}
    )
    assert rejected.status_code == 303
    page = civil.get(f"/sharing/requests/{number}").text
    assert text(page, "request-status") == "不同意" and texts(page, "grant-link") == []
    mine = civil.get("/sharing/requests?status=rejected").text
    assert "用途与申请事项无关" in text(mine, "request-row")


def test_grants_held_and_given_and_the_providers_changes(app, city, db) -> None:
    civil = browser(app, "civil_user")
    number = request_id(ask(civil, resource(db, "人口基础信息")))
    grant = db.scalar(select(Grant).where(Grant.request_id == number))
    assert grant is not None
    held = civil.get("/sharing/grants").text
    (row,) = texts(held, "grant-row")
    assert "人口基础信息" in row and "公安局" in row and PURPOSE in row and "有效" in row
    assert texts(civil.get("/sharing/grants?side=given").text, "grant-row") == []
    page = civil.get(f"/sharing/grants/{grant.id}").text
    assert texts(page, "grant-actions") == []  # the holder does not change its own grant
    assert civil.post(f"/sharing/grants/{grant.id}/suspend", {"reason": "核查"}).status_code == 403

    admin = browser(app, "police_admin")
    given = admin.get("/sharing/grants?side=given").text
    assert "民政局" in text(given, "grant-row")
    url = f"/sharing/grants/{grant.id}"
    assert 'data-confirm="确定要撤销该授权吗？' in admin.get(url).text  # revoking asks first
    blank = admin.post(f"{url}/suspend", {"reason": ""})
    assert blank.status_code == 422 and text(blank.text, "field-error-reason") == "请填写理由。"
    assert admin.post(f"{url}/suspend", {"reason": "核查调用情况"}).status_code == 303
    suspended = civil.get(url).text
    assert text(suspended, "grant-status") == "已暂停" and "核查调用情况" in suspended
    assert admin.post(f"{url}/resume", {"reason": "核查完毕"}).status_code == 303
    before = grant.valid_until
    bad_days = admin.post(f"{url}/renew", {"reason": "延续", "days": "很久"})
    assert bad_days.status_code == 422 and "续期天数" in text(bad_days.text, "field-error-days")
    assert admin.post(f"{url}/renew", {"reason": "延续", "days": "30"}).status_code == 303
    db.refresh(grant)
    assert grant.valid_until > before
    assert admin.post(f"{url}/revoke", {"reason": "用途已完成"}).status_code == 303
    again = admin.post(f"{url}/suspend", {"reason": "再次"})
    assert again.status_code == 409 and "已撤销" in text(again.text, "form-error")
    assert admin.post(f"{url}/unknown", {"reason": "x"}).status_code == 422
    changes = db.scalars(
        select(AuditEvent.id).where(
            AuditEvent.event_type == "sharing.grant_changed", AuditEvent.object_id == str(grant.id)
        )
    ).all()
    assert len(changes) == 4

    # The Bureau sees every grant; its administrator may change them, its auditor only reads.
    bureau = browser(app, "bureau_admin")
    assert len(texts(bureau.get("/sharing/grants?side=all").text, "grant-row")) == 1
    assert texts(bureau.get(url).text, "grant-actions") == []  # revoked: nothing left to change
    auditor = browser(app, "bureau_auditor")
    assert auditor.get(url).status_code == 200 and texts(auditor.get(url).text, "grant-actions") == []
    assert browser(app, "hrss_user").get(url).status_code == 404
    assert texts(civil.get("/sharing/grants?side=all").text, "grant-row") != []  # falls back to held


def test_the_bureau_administrator_may_suspend_any_grant(app, city, db) -> None:
    number = request_id(ask(browser(app, "civil_user"), resource(db, "人口基础信息")))
    grant = db.scalar(select(Grant).where(Grant.request_id == number))
    assert grant is not None
    bureau = browser(app, "bureau_admin")
    assert text(bureau.get(f"/sharing/grants/{grant.id}").text, "grant-actions")
    assert bureau.post(f"/sharing/grants/{grant.id}/suspend", {"reason": "安全检查"}).status_code == 303
    db.refresh(grant)
    assert grant.status == "suspended"


def test_the_sharing_pages_follow_permissions(app, city, db) -> None:
    civil = browser(app, "civil_user")
    home = civil.get("/").text
    assert 'href="/sharing"' in home
    assert civil.get("/sharing").headers["location"] == "/sharing/requests"
    assert "待我审批" not in text(civil.get("/sharing/requests").text, "sharing-tabs")
    assert "待我审批" in text(browser(app, "police_admin").get("/sharing/grants").text, "sharing-tabs")
    compiler = browser(app, "civil_compiler")  # a catalog compiler has no sharing.view
    assert 'href="/sharing"' not in compiler.get("/").text
    for path in ("/sharing", "/sharing/requests", "/sharing/inbox", "/sharing/grants"):
        assert compiler.get(path).status_code == 403, path
    anonymous = Browser(app)
    assert anonymous.get("/sharing/requests").status_code in (303, 401)


def test_a_disputed_answer_is_ruled_by_the_bureau_on_the_request_page(app, city, db) -> None:
    civil = browser(app, "civil_user")
    number = request_id(ask(civil, resource(db, "机动车登记信息")))
    approver = browser(app, "police_approver")
    assert (
        texts(civil.get(f"/sharing/requests/{number}").text, "dispute-form") == []
    )  # nothing to dispute yet
    rejected = approver.post(
        f"/sharing/requests/{number}/decision", {"decision": "reject", "reason": "用途与申请事项无关"}
    )
    assert rejected.status_code == 303
    page = civil.get(f"/sharing/requests/{number}").text
    assert "提请市数据资源管理局协调" in text(page, "dispute-form")
    assert texts(approver.get(f"/sharing/requests/{number}").text, "dispute-form") == []  # the consumer's

    url = f"/sharing/requests/{number}"
    blank = civil.post(f"{url}/dispute", {"reason": " "})
    assert blank.status_code == 422 and text(blank.text, "field-error-reason") == "请填写异议理由。"
    assert civil.post(f"{url}/dispute", {"reason": "救助资格核查须核对车辆信息"}).status_code == 303
    disputed = civil.get(f"{url}?done=disputed").text
    assert (
        text(disputed, "dispute-status") == "待市数据资源管理局协调" and texts(disputed, "dispute-form") == []
    )
    assert texts(disputed, "ruling-form") == []  # only the Bureau rules

    reviewer = browser(app, "bureau_reviewer")  # sees the dispute, does not rule on it
    assert texts(reviewer.get(url).text, "ruling-form") == []
    assert reviewer.post(f"{url}/ruling", {"decision": "uphold", "reason": "维持"}).status_code == 403
    bureau = browser(app, "bureau_admin")
    assert text(bureau.get(url).text, "ruling-form")
    unchosen = bureau.post(f"{url}/ruling", {"reason": "协调"})
    assert unchosen.status_code == 422 and "请选择裁定" in text(unchosen.text, "field-error-decision")
    ruled = bureau.post(
        f"{url}/ruling",
        [("decision", "partial"), ("reason", "核查确需，限两项"), ("items", "id_number"), ("items", "name")],
    )
    assert ruled.status_code == 303, ruled.text
    final = civil.get(url).text
    assert text(final, "dispute-status") == "已改为同意" and text(final, "request-status") == "部分同意"
    assert text(final, "grant-items") == "姓名（name）、公民身份号码（id_number）"  # in catalog order
    assert "核查确需，限两项" in text(final, "request-dispute")
    assert bureau.post(f"{url}/ruling", {"decision": "uphold", "reason": "再次"}).status_code == 409
