"""Business system pages: register, show a token once, rotate, revoke, edit, disable, scope."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from govshare.systems.models import BusinessSystem, SystemToken
from tests.helpers import bearer, org, user_id
from tests.ui import text, ui_login

_TOKEN = re.compile(r'data-testid="new-token">\s*(gss_[A-Za-z0-9_-]+)\s*<')


def _system(db, code: str) -> BusinessSystem:  # type: ignore[no-untyped-def]
    found = db.scalar(select(BusinessSystem).where(BusinessSystem.code == code))
    assert found is not None, code
    return found


def _shown_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "no token on the page"
    return match.group(1)


def _register(client, db, csrf: str, **overrides: str):  # type: ignore[no-untyped-def]
    form = {
        "csrf_token": csrf,
        "org_id": str(org(db, "police").id),
        "code": "police-traffic",
        "name": "交通违法处理系统",
        "description": "测试",
        "contact_user_id": str(user_id(db, "police_admin")),
        "allowed_cidrs": "127.0.0.0/8\n10.20.0.0/16\n",
        "token_days": "30",
    }
    return client.post("/systems/new", data=form | overrides, follow_redirects=False)


def test_register_shows_the_token_once_and_it_works(client, city, db) -> None:
    csrf = ui_login(client, "police_admin")
    form = client.get("/systems/new")
    assert form.status_code == 200 and 'data-testid="system-form"' in form.text
    response = _register(client, db, csrf)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    token = _shown_token(response.text)
    assert "只显示这一次" in response.text and 'data-testid="token-warning"' in response.text
    assert 'data-copy="new-token"' in response.text

    me = client.get("/api/v1/auth/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["kind"] == "system" and me.json()["name"] == "system:police-traffic"

    system = _system(db, "police-traffic")
    assert system.allowed_cidrs == ["10.20.0.0/16", "127.0.0.0/8"]
    # The call noted its use with a Core statement, past this test session's loaded objects (in the
    # platform every request has a session of its own).
    db.expire_all()
    detail = client.get(f"/systems/{system.id}")
    assert detail.status_code == 200
    assert token not in detail.text and token[:10] in detail.text
    assert 'data-state="active"' in detail.text
    assert "127.0.0.1" in detail.text  # last used from the TestClient address
    listing = client.get("/systems")
    assert token not in listing.text and "police-traffic" in listing.text


def test_invalid_cidr_keeps_the_input_and_creates_nothing(client, city, db) -> None:
    csrf = ui_login(client, "police_admin")
    response = _register(client, db, csrf, allowed_cidrs="10.0.0.300/8")
    assert response.status_code == 422
    assert "“10.0.0.300/8”不是有效的 IP 地址段（CIDR）" in response.text
    assert 'value="police-traffic"' in response.text and "10.0.0.300/8</textarea>" in response.text
    assert 'data-testid="new-token"' not in response.text
    assert db.scalar(select(BusinessSystem.id).where(BusinessSystem.code == "police-traffic")) is None

    taken = _register(client, db, csrf, code="police-hukou")
    assert taken.status_code == 409 and "系统编码“police-hukou”已被使用" in taken.text
    bad_code = _register(client, db, csrf, code="Police Traffic")
    assert bad_code.status_code == 422 and "系统编码应以小写字母开头" in bad_code.text


def test_rotation_retires_the_old_token(client, city, db) -> None:
    old = city.tokens["police-hukou"]
    assert client.get("/api/v1/auth/me", headers=bearer(old)).status_code == 200
    system = _system(db, "police-hukou")
    csrf = ui_login(client, "police_admin")
    assert 'data-testid="rotate-form"' in client.get(f"/systems/{system.id}").text
    response = client.post(
        f"/systems/{system.id}/tokens", data={"csrf_token": csrf, "days": "90", "revoke_existing": "1"}
    )
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    new = _shown_token(response.text)
    assert client.get("/api/v1/auth/me", headers=bearer(old)).status_code == 401
    assert client.get("/api/v1/auth/me", headers=bearer(new)).status_code == 200
    detail = client.get(f"/systems/{system.id}").text
    assert new not in detail
    assert detail.count('data-state="active"') == 1 and detail.count('data-state="revoked"') == 1
    assert "已吊销" in detail and "轮换" in detail


def test_revoke_from_the_page(client, city, db) -> None:
    token = city.tokens["police-hukou"]
    system = _system(db, "police-hukou")
    row = db.scalar(select(SystemToken).where(SystemToken.system_id == system.id))
    csrf = ui_login(client, "police_admin")
    detail = client.get(f"/systems/{system.id}").text
    assert f'action="/systems/{system.id}/tokens/{row.id}/revoke"' in detail and "data-confirm=" in detail
    response = client.post(
        f"/systems/{system.id}/tokens/{row.id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == f"/systems/{system.id}"
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    assert 'data-state="revoked"' in client.get(f"/systems/{system.id}").text
    again = client.post(f"/systems/{system.id}/tokens/{row.id}/revoke", data={"csrf_token": csrf})
    assert again.status_code == 409 and "该令牌已吊销" in again.text


def test_edit_and_disable(client, city, db) -> None:
    token = city.tokens["police-hukou"]
    system = _system(db, "police-hukou")
    csrf = ui_login(client, "police_admin")
    edit = {
        "csrf_token": csrf,
        "version": str(system.version),
        "name": "人口信息管理系统（新）",
        "description": "",
        "contact_user_id": str(user_id(db, "police_security")),
        "allowed_cidrs": "127.0.0.1/32",
    }
    response = client.post(f"/systems/{system.id}/edit", data=edit, follow_redirects=False)
    assert response.status_code == 303
    detail = client.get(f"/systems/{system.id}").text
    assert "人口信息管理系统（新）" in detail and "police_security" in detail and "127.0.0.1/32" in detail
    assert "police_security" in text(detail, "system-contact")  # the new contact, not the old one

    stale = client.post(f"/systems/{system.id}/edit", data=edit | {"name": "再次修改"})
    assert stale.status_code == 409 and "已被他人修改" in stale.text and 'value="再次修改"' in stale.text
    foreign = client.post(
        f"/systems/{system.id}/edit",
        data=edit | {"version": str(system.version), "contact_user_id": str(user_id(db, "civil_admin"))},
    )
    assert foreign.status_code == 422 and "系统负责人须为本单位在岗人员" in foreign.text

    disable = client.post(
        f"/systems/{system.id}/status",
        data={"csrf_token": csrf, "version": str(system.version), "is_active": "0"},
        follow_redirects=False,
    )
    assert disable.status_code == 303
    detail = client.get(f"/systems/{system.id}").text
    assert 'data-testid="enable-system"' in detail and 'data-testid="rotate-form"' not in detail
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401


def test_department_scope(client, city, db) -> None:
    police = _system(db, "police-hukou")
    csrf = ui_login(client, "civil_admin")
    assert client.get(f"/systems/{police.id}").status_code == 404
    listing = client.get("/systems").text
    assert "civil-assist" in listing and "police-hukou" not in listing
    police_people = client.get("/systems/contacts", params={"org_id": org(db, "police").id}).text
    assert "police_admin" not in police_people  # the contact picker lists only people the admin may see
    assert "civil_user" in client.get("/systems/contacts", params={"org_id": org(db, "civil").id}).text
    foreign = _register(client, db, csrf)  # police organisation chosen by a civil affairs administrator
    assert foreign.status_code == 403
    assert db.scalar(select(func.count()).where(BusinessSystem.code == "police-traffic")) == 0

    ui_login(client, "police_security")  # may view its department's systems, not manage them
    detail = client.get(f"/systems/{police.id}").text
    assert 'data-testid="token-table"' in detail and 'data-testid="rotate-form"' not in detail
    assert 'data-testid="new-system"' not in client.get("/systems").text
    assert client.get("/systems/new").status_code == 403

    ui_login(client, "bureau_admin")
    listing = client.get("/systems", params={"org_id": org(db, "civil").id}).text
    assert "civil-assist" in listing and "police-hukou" not in listing
