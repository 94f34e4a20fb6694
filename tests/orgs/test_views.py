"""The organisation pages, driven through the HTML forms as the Bureau and departments use them."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from govshare.audit.models import AuditEvent
from govshare.authz import Actor
from govshare.identifiers import credit_code_check_char
from govshare.orgs import service
from govshare.orgs.models import Organisation
from govshare.orgs.schemas import OrgUpdate
from tests.conftest import settings_override
from tests.helpers import org
from tests.ui import browser, hidden, text, texts

FIRST17 = "91130100MA0CY7R21"  # an enterprise's code body; the 18th character is the check
GOOD_CODE = FIRST17 + credit_code_check_char(FIRST17)
BAD_CODE = FIRST17 + ("0" if GOOD_CODE[-1] != "0" else "1")


def _new_org(**overrides: str) -> dict[str, str]:
    return {
        "code": "digital_park",
        "name": "石家庄数字产业园运营有限公司",
        "short_name": "数字产业园",
        "kind": "enterprise",
        "credit_code": GOOD_CODE,
        "contact_phone": "0311-87000000",
        **overrides,
    }


def _org_count(db) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(Organisation))


def test_bureau_admin_registers_an_org_and_finds_it_in_the_list(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    assert "登记单位" in admin.get("/orgs").text

    response = admin.post("/orgs", _new_org(credit_code=GOOD_CODE.lower()))

    assert response.status_code == 303
    page = admin.get(response.headers["location"])
    assert text(page.text, "notice") == "单位已登记。"
    assert text(page.text, "org-name") == "石家庄数字产业园运营有限公司"
    listed = texts(admin.get("/orgs", params={"q": "数字产业园"}).text, "org-row")
    assert len(listed) == 1
    assert "授权企业（单位）" in listed[0] and GOOD_CODE in listed[0] and "启用" in listed[0]
    assert "未通过校验" not in listed[0]


def test_wrong_credit_code_is_explained_on_the_form_and_creates_nothing(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    before = _org_count(db)

    response = admin.post("/orgs", _new_org(credit_code=BAD_CODE))

    assert response.status_code == 422
    assert "统一社会信用代码校验位不正确" in text(response.text, "form-error")
    assert 'value="石家庄数字产业园运营有限公司"' in response.text  # the input is kept
    assert not texts(response.text, "reload")
    assert _org_count(db) == before


def test_schema_errors_become_one_chinese_sentence(app, city, db) -> None:
    admin = browser(app, "bureau_admin")

    response = admin.post("/orgs", _new_org(code="Digital Park", short_name="", credit_code="123"))

    assert response.status_code == 422
    error = text(response.text, "form-error")
    assert "单位编码：须以小写字母开头" in error
    assert "单位简称：不能为空" in error
    assert "统一社会信用代码：应为 18 位" in error
    assert "Digital Park" in response.text


def test_duplicate_name_conflicts_on_the_form(app, city, db) -> None:
    admin = browser(app, "bureau_admin")

    response = admin.post("/orgs", _new_org(name="石家庄市公安局"))

    assert response.status_code == 409
    assert "单位名称“石家庄市公安局”已被其他单位使用" in text(response.text, "form-error")


def test_warn_mode_flags_an_unchecked_code_in_the_list(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    with settings_override(credit_code_mode="warn"):
        response = admin.post("/orgs", _new_org(credit_code=BAD_CODE))
    assert response.status_code == 303

    rows = texts(admin.get("/orgs", params={"kind": "enterprise"}).text, "org-row")

    flagged = [row for row in rows if "数字产业园" in row]
    assert len(flagged) == 1 and "⚠" in flagged[0]
    assert all("⚠" not in row for row in rows if "数字产业园" not in row)


def test_kind_filter_and_search(app, city) -> None:
    reviewer = browser(app, "bureau_reviewer")

    districts = texts(reviewer.get("/orgs", params={"kind": "district"}).text, "org-row")
    found = texts(reviewer.get("/orgs", params={"kind": "", "q": "公安"}).text, "org-row")

    assert len(districts) == 2 and all("县（市、区）政府" in row for row in districts)
    assert len(found) == 1 and "石家庄市公安局" in found[0]


def test_edit_saves_only_what_changed(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    police = org(db, "police")
    form = admin.get(f"/orgs/{police.id}/edit").text

    response = admin.post(
        f"/orgs/{police.id}/edit",
        {
            "version": hidden(form, "version"),
            "name": police.name,
            "short_name": "公安局",
            "credit_code": police.credit_code,
            "contact_phone": police.contact_phone or "",
        },
    )

    assert response.status_code == 303
    assert "公安局" in text(admin.get(f"/orgs/{police.id}").text, "org-props")
    event = db.scalars(
        select(AuditEvent).where(AuditEvent.event_type == "org.updated").order_by(AuditEvent.seq.desc())
    ).first()
    assert event is not None and json.loads(event.details)["after"] == {"short_name": "公安局"}


def test_stale_edit_shows_the_conflict_message(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    civil = org(db, "civil")
    stale = hidden(admin.get(f"/orgs/{civil.id}/edit").text, "version")
    service.update_org(
        db,
        actor=Actor.operator(),
        org_id=civil.id,
        data=OrgUpdate(version=civil.version, contact_phone="0311-80000001"),
    )
    db.flush()

    response = admin.post(
        f"/orgs/{civil.id}/edit",
        {
            "version": stale,
            "name": civil.name,
            "short_name": "民政",
            "credit_code": civil.credit_code,
            "contact_phone": "0311-80000001",
        },
    )

    assert response.status_code == 409
    assert "该单位已被他人修改，请刷新后重新编辑" in text(response.text, "form-error")
    assert texts(response.text, "reload")  # a way to start again from the current version
    assert 'value="民政"' in response.text
    db.refresh(civil)
    assert civil.short_name == "市民政局"


def test_deactivate_and_reenable(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    qiaoxi = org(db, "qiaoxi")
    page = admin.get(f"/orgs/{qiaoxi.id}").text
    assert texts(page, "org-deactivate") and "data-confirm" in page

    response = admin.post(f"/orgs/{qiaoxi.id}/status", {"version": qiaoxi.version, "active": "false"})

    assert response.status_code == 303
    page = admin.get(response.headers["location"]).text
    assert text(page, "org-status") == "已停用" and texts(page, "org-activate")
    assert not texts(admin.get(f"/orgs/{org(db, 'bureau').id}").text, "org-deactivate")


def test_detail_links_people_systems_and_registered_posts(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    police = org(db, "police")

    page = admin.get(f"/orgs/{police.id}").text

    assert f'href="/users?org_id={police.id}"' in page and text(page, "org-people") == "6 人"
    assert f'href="/systems?org_id={police.id}"' in page and text(page, "org-systems") == "1 个"
    posts = text(page, "org-posts")
    assert "数据资源管理员" in posts and "police_admin" in posts and "空缺" not in posts


def test_business_user_may_look_but_not_register(app, city, db) -> None:
    person = browser(app, "civil_user")
    before = _org_count(db)

    listing = person.get("/orgs")
    form = person.get("/orgs/new")
    posted = person.post("/orgs", _new_org())

    assert listing.status_code == 200 and not texts(listing.text, "org-new")
    assert form.status_code == 403 and "管理单位" in text(form.text, "error")
    assert posted.status_code == 403
    assert _org_count(db) == before
    civil = org(db, "civil")
    assert person.get(f"/orgs/{civil.id}/edit").status_code == 403


def test_post_without_csrf_token_is_refused(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    before = _org_count(db)

    response = admin.post("/orgs", _new_org(), csrf=False)

    assert response.status_code == 403
    assert "CSRF" in text(response.text, "error")
    assert _org_count(db) == before


def test_unknown_org_is_404(app, city) -> None:
    assert browser(app, "bureau_admin").get("/orgs/999999").status_code == 404
