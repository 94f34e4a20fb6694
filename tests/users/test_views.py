"""People, roles, offboarding and registration pages, driven through the HTML forms."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.db import utcnow
from govshare.users.models import Registration, User
from tests.helpers import org, user_id
from tests.ui import Browser, browser, hidden, text, texts

NEW_PASSWORD = "Temp-Pass-2026!"


def _person(db, username: str) -> User:  # type: ignore[no-untyped-def]
    found = db.scalar(select(User).where(User.username == username))
    assert found is not None, username
    db.refresh(found)
    return found


def _new_person(db, **overrides: object) -> list[tuple[str, object]]:  # type: ignore[no-untyped-def]
    fields: dict[str, object] = {
        "username": "civil_clerk",
        "display_name": "郑文静",
        "org_id": org(db, "civil").id,
        "phone": "0311-86001234",
        "password": NEW_PASSWORD,
        **overrides,
    }
    roles = fields.pop("roles", ["business_user"])
    assert isinstance(roles, list)
    return [*fields.items(), *(("roles", r) for r in roles)]


# --- the list and who sees whom --------------------------------------------------------------------


def test_department_admin_sees_only_own_people(app, city, db) -> None:
    civil_admin = browser(app, "civil_admin")

    rows = texts(civil_admin.get("/users").text, "user-row")
    others = civil_admin.get(f"/users/{user_id(db, 'police_user')}")

    assert len(rows) == 6 and all("市民政局" in row for row in rows)
    assert others.status_code == 404
    assert civil_admin.get(f"/users/{user_id(db, 'civil_user')}").status_code == 200


def test_list_filters(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    police = org(db, "police")

    by_org = texts(admin.get("/users", params={"org_id": police.id}).text, "user-row")
    by_role = texts(admin.get("/users", params={"role": "approver", "q": "police"}).text, "user-row")
    unknown = admin.get("/users", params={"role": "nonsense", "active": "", "org_id": ""})

    assert len(by_org) == 6 and all("市公安局" in row for row in by_org)
    assert len(by_role) == 1 and "police_approver" in by_role[0] and "审批人" in by_role[0]
    assert unknown.status_code == 200 and len(texts(unknown.text, "user-row")) == 20


def test_business_user_cannot_open_the_new_person_form(app, city) -> None:
    person = browser(app, "civil_user")

    response = person.get("/users/new")

    assert response.status_code == 403
    assert "管理人员" in text(response.text, "error")


# --- creating and editing --------------------------------------------------------------------------


def test_department_admin_adds_a_person(app, city, db) -> None:
    civil_admin = browser(app, "civil_admin")
    form = civil_admin.get("/users/new").text
    assert f'value="{org(db, "civil").id}" selected' in form
    assert "石家庄市公安局" not in form  # only organisations the admin may add people to
    assert 'value="data_admin"' not in form  # registered posts come from a registration

    response = civil_admin.post("/users", _new_person(db))

    assert response.status_code == 303
    page = civil_admin.get(response.headers["location"]).text
    assert "人员已创建" in text(page, "notice")
    assert text(page, "user-roles") == "业务人员"
    person = _person(db, "civil_clerk")
    assert person.must_change_password and person.org_id == org(db, "civil").id


def test_schema_errors_are_shown_on_the_form_with_the_input_kept(app, city, db) -> None:
    admin = browser(app, "bureau_admin")

    response = admin.post("/users", _new_person(db, username="Civil Clerk", phone="call me"))

    assert response.status_code == 422
    error = text(response.text, "form-error")
    assert "用户名：须以小写字母开头" in error and "联系电话：只能包含数字" in error
    assert 'value="郑文静"' in response.text and 'value="Civil Clerk"' in response.text
    assert NEW_PASSWORD not in response.text


def test_weak_password_is_explained(app, city, db) -> None:
    admin = browser(app, "bureau_admin")

    response = admin.post("/users", _new_person(db, password="short"))

    assert response.status_code == 422
    assert "密码不符合安全要求" in text(response.text, "form-error")
    assert db.scalar(select(User.id).where(User.username == "civil_clerk")) is None


def test_refused_role_leaves_no_half_created_person(app, city, db) -> None:
    admin = browser(app, "bureau_admin")

    # The service creates the person, then refuses the Bureau-only role: nothing may remain.
    response = admin.post("/users", _new_person(db, roles=["business_user", "auditor"]))

    assert response.status_code == 422
    assert "只能授予市数据资源管理局人员" in text(response.text, "form-error")
    assert 'value="auditor" checked' in response.text
    assert db.scalar(select(User.id).where(User.username == "civil_clerk")) is None


def test_department_admin_cannot_add_people_elsewhere(app, city, db) -> None:
    civil_admin = browser(app, "civil_admin")

    response = civil_admin.post("/users", _new_person(db, org_id=org(db, "police").id))

    assert response.status_code == 403
    assert db.scalar(select(User.id).where(User.username == "civil_clerk")) is None


def test_edit_and_stale_edit(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    person_id = user_id(db, "civil_user")
    stale = hidden(admin.get(f"/users/{person_id}/edit").text, "version")

    saved = admin.post(f"/users/{person_id}/edit", {"version": stale, "display_name": "赵新名", "phone": ""})
    conflict = admin.post(
        f"/users/{person_id}/edit", {"version": stale, "display_name": "赵旧名", "phone": ""}
    )

    assert saved.status_code == 303
    assert "赵新名" in text(admin.get(f"/users/{person_id}").text, "user-name")
    assert conflict.status_code == 409
    assert "该人员信息已被他人修改" in text(conflict.text, "form-error")
    assert texts(conflict.text, "reload")
    assert _person(db, "civil_user").display_name == "赵新名"


# --- roles, passwords, locks -----------------------------------------------------------------------


def test_role_change_shows_on_the_page_and_in_the_audit_log(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    person_id = user_id(db, "civil_user")
    page = admin.get(f"/users/{person_id}").text
    assert "data-confirm" in page and 'value="auditor"' not in page  # no Bureau roles for a department

    response = admin.post(f"/users/{person_id}/roles", [("roles", "approver")])

    assert response.status_code == 303
    page = admin.get(response.headers["location"]).text
    assert text(page, "notice") == "角色已调整。"
    assert text(page, "user-roles") == "审批人"
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "users", AuditEvent.object_id == str(person_id))
    ).all()
    granted = [json.loads(e.details) for e in events if e.event_type == "user.role_granted"]
    revoked = [json.loads(e.details) for e in events if e.event_type == "user.role_revoked"]
    assert {"role": "approver", "via_registration": False} in granted
    assert any(d["role"] == "business_user" for d in revoked)


def test_registered_roles_survive_a_role_change(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    person_id = user_id(db, "civil_admin")

    response = admin.post(f"/users/{person_id}/roles", [("roles", "catalog_compiler")])

    assert response.status_code == 303
    assert set(_person(db, "civil_admin").role_names) == {"data_admin", "catalog_compiler"}


def test_role_refused_by_the_service_is_shown_on_the_person_page(app, city, db) -> None:
    civil_admin = browser(app, "civil_admin")
    person_id = user_id(db, "civil_user")

    response = civil_admin.post(f"/users/{person_id}/roles", [("roles", "security_officer")])

    assert response.status_code == 422
    assert "须经人员备案审批后授予" in text(response.text, "form-error")
    assert _person(db, "civil_user").role_names == ["business_user"]


def test_unlock_and_reset_password(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    person = _person(db, "civil_user")
    person.locked_until = utcnow() + timedelta(minutes=15)
    person.failed_logins = 0
    db.flush()
    page = admin.get(f"/users/{person.id}").text
    assert text(page, "user-state") == "已锁定" and texts(page, "user-unlock")

    unlocked = admin.post(f"/users/{person.id}/unlock", {})
    mismatch = admin.post(
        f"/users/{person.id}/password", {"new_password": NEW_PASSWORD, "confirm_password": "x"}
    )
    weak = admin.post(f"/users/{person.id}/password", {"new_password": "weak", "confirm_password": "weak"})
    reset = admin.post(
        f"/users/{person.id}/password", {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )

    assert unlocked.status_code == 303 and text(admin.get(f"/users/{person.id}").text, "user-state") == "在岗"
    assert mismatch.status_code == 422 and "不一致" in text(mismatch.text, "form-error")
    assert weak.status_code == 422 and "密码不符合安全要求" in text(weak.text, "form-error")
    assert reset.status_code == 303
    assert "密码已重置" in text(admin.get(reset.headers["location"]).text, "notice")
    # The temporary password leads to the form to change it, and to nothing else until then.
    person_browser = Browser(app).login("civil_user", NEW_PASSWORD)
    home = person_browser.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/password"
    assert person_browser.get("/sharing/requests").headers["location"] == "/password"
    refused = person_browser.post("/catalog/1/request", {"purpose": "核查"})
    assert refused.status_code == 403 and "临时密码" in refused.text
    changed = person_browser.post(
        "/password",
        {
            "current_password": NEW_PASSWORD,
            "new_password": "Own-Pass-2026!",
            "confirm_password": "Own-Pass-2026!",
        },
    )
    assert changed.status_code == 200
    assert person_browser.get("/").status_code == 200


def test_post_without_csrf_token_is_refused(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    person_id = user_id(db, "civil_user")

    response = admin.post(f"/users/{person_id}/roles", [("roles", "approver")], csrf=False)

    assert response.status_code == 403
    assert _person(db, "civil_user").role_names == ["business_user"]


# --- offboarding -----------------------------------------------------------------------------------


def test_offboarding_through_the_form(app, city, db) -> None:
    leaver = browser(app, "civil_admin")
    assert leaver.get("/").status_code == 200
    admin = browser(app, "bureau_admin")
    leaver_id, successor_id = user_id(db, "civil_admin"), user_id(db, "civil_compiler")
    form = admin.get(f"/users/{leaver_id}/offboard").text
    assert "data-confirm" in form and "civil_compiler" in form and "police_user" not in form

    response = admin.post(
        f"/users/{leaver_id}/offboard", {"successor_id": successor_id, "reason": "调任市委办公室"}
    )

    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/users/{leaver_id}?done=offboarded#record-")
    page = admin.get(response.headers["location"]).text
    assert text(page, "user-state") == "已停用"
    assert not texts(page, "user-offboard") and not texts(page, "roles-form")
    report = text(page, "offboarding-record")
    assert "调任市委办公室" in report and "civil_compiler" in report
    assert "数据资源管理员" in text(page, "report-roles")
    assert text(page, "report-sessions") == "注销登录会话和令牌：1 个"
    assert "数据资源管理员" in text(page, "report-registrations")
    assert "社会救助信息系统" in text(page, "report-business_systems")
    record_id = response.headers["location"].rsplit("-", 1)[1]
    record_page = admin.get(f"/offboarding/{record_id}").text
    assert "数据资源管理员" in text(record_page, "report-roles")

    after = leaver.get("/")
    assert after.status_code == 303 and after.headers["location"].startswith("/login")
    assert not _person(db, "civil_admin").is_active
    civil = org(db, "civil")
    assert f'href="/orgs/{civil.id}"' in admin.get("/").text  # the Bureau is asked to get the post filled
    assert "空缺" in text(admin.get(f"/orgs/{civil.id}").text, "org-posts")


def test_offboarding_form_errors_keep_the_person_active(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    leaver_id = user_id(db, "civil_user")

    unchosen = admin.post(f"/users/{leaver_id}/offboard", {"successor_id": "", "reason": "调任"})
    foreign = admin.post(
        f"/users/{leaver_id}/offboard", {"successor_id": user_id(db, "police_user"), "reason": "调任"}
    )

    assert unchosen.status_code == 422 and "接替人员：请从列表中选择" in text(unchosen.text, "form-error")
    assert foreign.status_code == 422 and "接替人员须为本单位在岗的其他人员" in text(
        foreign.text, "form-error"
    )
    assert 'value="调任"' in foreign.text or ">调任<" in foreign.text
    assert _person(db, "civil_user").is_active


def test_department_admin_cannot_offboard_elsewhere(app, city, db) -> None:
    civil_admin = browser(app, "civil_admin")
    police_user = user_id(db, "police_user")

    response = civil_admin.post(
        f"/users/{police_user}/offboard", {"successor_id": user_id(db, "police_approver"), "reason": "调任"}
    )

    assert response.status_code == 404
    assert _person(db, "police_user").is_active


# --- registrations (备案) ---------------------------------------------------------------------------


def _submit(browser_: Browser, db, username: str, role: str = "data_admin") -> int:  # type: ignore[no-untyped-def]
    response = browser_.post(
        "/registrations",
        {"user_id": user_id(db, username), "role": role, "note": "任职文件：石公任〔2026〕12号"},
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].split("/")[2].split("?")[0])


def test_registration_submitted_approved_and_the_post_changes_hands(app, city, db) -> None:
    police_admin = browser(app, "police_admin")
    form = police_admin.get("/registrations/new").text
    assert "police_user" in form and "civil_user" not in form

    reg_id = _submit(police_admin, db, "police_user")

    page = police_admin.get(f"/registrations/{reg_id}").text
    assert text(page, "registration-status") == "待审批" and not texts(page, "approve-form")
    admin = browser(app, "bureau_admin")
    assert f'href="/registrations/{reg_id}"' in admin.get("/").text  # the Bureau's task
    page = admin.get(f"/registrations/{reg_id}").text
    assert "data-confirm" in page  # approving takes the post from the current holder

    response = admin.post(f"/registrations/{reg_id}/decision", {"decision": "approve", "comment": "同意"})

    assert response.status_code == 303
    page = admin.get(response.headers["location"]).text
    assert text(page, "registration-status") == "已备案" and "同意" in text(page, "decision-comment")
    assert "data_admin" in _person(db, "police_user").role_names
    assert "data_admin" not in _person(db, "police_admin").role_names
    assert "数据资源管理员" in text(admin.get(f"/users/{user_id(db, 'police_user')}").text, "user-roles")
    previous = db.scalar(select(Registration).where(Registration.user_id == user_id(db, "police_admin")))
    assert previous is not None and previous.status == "ended"
    assert f'href="/registrations/{reg_id}"' not in admin.get("/").text


def test_returning_a_registration_needs_a_reason(app, city, db) -> None:
    reg_id = _submit(browser(app, "bureau_admin"), db, "civil_user", role="security_officer")
    admin = browser(app, "bureau_admin")

    silent = admin.post(f"/registrations/{reg_id}/decision", {"decision": "return", "comment": " "})
    returned = admin.post(
        f"/registrations/{reg_id}/decision", {"decision": "return", "comment": "缺少任职文件"}
    )

    assert silent.status_code == 422 and "退回备案时请填写理由" in text(silent.text, "form-error")
    assert returned.status_code == 303
    page = admin.get(f"/registrations/{reg_id}").text
    assert text(page, "registration-status") == "已退回"
    assert "security_officer" not in _person(db, "civil_user").role_names


def test_registration_list_and_refusals(app, city, db) -> None:
    police_admin = browser(app, "police_admin")
    reg_id = _submit(police_admin, db, "police_user")

    duplicate = police_admin.post(
        "/registrations", {"user_id": user_id(db, "police_compiler"), "role": "data_admin", "note": ""}
    )
    wrong_post = police_admin.post(
        "/registrations", {"user_id": user_id(db, "police_user"), "role": "approver", "note": ""}
    )
    pending = texts(police_admin.get("/registrations", params={"status": "pending"}).text, "registration-row")
    everything = texts(police_admin.get("/registrations").text, "registration-row")

    assert duplicate.status_code == 409 and "已有待审批的备案" in text(duplicate.text, "form-error")
    assert wrong_post.status_code == 422 and "只有数据资源管理员和安全管理员需要备案" in text(
        wrong_post.text, "form-error"
    )
    assert len(pending) == 1 and f"#{reg_id}" in pending[0] and "待审批" in pending[0]
    assert len(everything) == 3 and all("市公安局" in row for row in everything)  # own department only
    assert police_admin.get("/registrations/new", params={"org_id": org(db, "civil").id}).status_code == 200
    assert browser(app, "civil_user").get("/registrations/new").status_code == 403
