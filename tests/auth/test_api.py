"""Login, lockout, sessions and CSRF through the real API and UI endpoints."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.db import utcnow
from govshare.users.models import LoginSession, User
from tests.conftest import settings_override
from tests.helpers import bearer, login
from tests.ui import csrf_of, login_csrf


def events(db, event_type: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(
        db.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type).order_by(AuditEvent.seq))
    )


def test_login_gives_a_bearer_token_that_identifies_the_person(client, city, db) -> None:
    response = client.post(
        "/api/v1/auth/login", json={"username": "police_admin", "password": "govshare-demo"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("gsu_")
    me = client.get("/api/v1/auth/me", headers=bearer(body["access_token"])).json()
    assert me["name"] == "police_admin" and me["roles"] == ["data_admin"]
    assert "system.manage" in me["permissions"] and "audit.verify" not in me["permissions"]
    # Only the hash is stored.
    stored = db.scalars(select(LoginSession.token_hash)).all()
    assert body["access_token"] not in stored
    assert events(db, "auth.login")[-1].actor_name == "police_admin"


def test_wrong_password_is_401_and_audited(client, city, db) -> None:
    response = client.post("/api/v1/auth/login", json={"username": "civil_user", "password": "nope"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.json()["error"]["message"]
    failed = events(db, "auth.login_failed")[-1]
    assert failed.actor_name == "civil_user" and failed.outcome == "failure"
    assert "nope" not in failed.details  # never the attempted password
    unknown = client.post("/api/v1/auth/login", json={"username": "ghost", "password": "x"})
    assert unknown.status_code == 401
    assert unknown.json()["error"]["message"] == "用户名或密码错误。"


def test_lockout_after_repeated_failures(client, city, db) -> None:
    with settings_override(login_max_failures=3, login_lockout_minutes=10):
        for _ in range(3):
            assert (
                client.post(
                    "/api/v1/auth/login", json={"username": "civil_user", "password": "bad"}
                ).status_code
                == 401
            )
        locked = client.post(
            "/api/v1/auth/login", json={"username": "civil_user", "password": "govshare-demo"}
        )
        assert locked.status_code == 423
        assert "锁定" in locked.json()["error"]["message"]
        assert events(db, "auth.account_locked")
        user = db.scalar(select(User).where(User.username == "civil_user"))
        user.locked_until = utcnow() - timedelta(seconds=1)
        db.commit()
        assert (
            client.post(
                "/api/v1/auth/login", json={"username": "civil_user", "password": "govshare-demo"}
            ).status_code
            == 200
        )


def test_logout_ends_the_token(client, city) -> None:
    headers = login(client, "civil_user")
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_expired_session_is_refused_and_its_use_audited(client, city, db) -> None:
    headers = login(client, "civil_user")
    session = db.scalars(select(LoginSession).order_by(LoginSession.id.desc())).first()
    session.expires_at = utcnow() - timedelta(minutes=1)
    db.commit()
    response = client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401
    rejected = events(db, "auth.token_rejected")[-1]
    assert rejected.actor_name == "civil_user" and '"reason":"expired"' in rejected.details


def test_password_change_enforces_policy(client, city) -> None:
    headers = login(client, "civil_user")
    weak = client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"current_password": "govshare-demo", "new_password": "short"},
    )
    assert weak.status_code == 422
    assert "密码长度至少" in weak.json()["error"]["message"]
    wrong = client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"current_password": "bad", "new_password": "Str0ng!Passw0rd"},
    )
    assert wrong.status_code == 422
    ok = client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"current_password": "govshare-demo", "new_password": "Str0ng!Passw0rd"},
    )
    assert ok.status_code == 204
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": "civil_user", "password": "Str0ng!Passw0rd"}
        ).status_code
        == 200
    )


def test_a_temporary_password_allows_nothing_but_changing_it(client, city, db) -> None:
    """A password an administrator set is temporary: until its holder changes it, every route but
    changing it, signing out and `me` answers 403 password_change_required (not counted as a denial)."""
    person = db.scalar(select(User).where(User.username == "civil_user"))
    reset = client.post(
        f"/api/v1/users/{person.id}/password-reset",
        json={"new_password": "Temp-Pass-2026!"},
        headers=login(client, "bureau_admin"),
    )
    assert reset.status_code == 200, reset.text
    token = client.post("/api/v1/auth/login", json={"username": "civil_user", "password": "Temp-Pass-2026!"})
    assert token.json()["must_change_password"] is True
    headers = bearer(token.json()["access_token"])
    denials = len(events(db, "access.denied"))

    refused = client.get("/api/v1/grants?side=held", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "password_change_required"
    assert "临时密码" in refused.json()["error"]["message"]
    assert client.get("/api/v1/auth/me", headers=headers).json()["name"] == "civil_user"
    assert len(events(db, "access.denied")) == denials
    changed = client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"current_password": "Temp-Pass-2026!", "new_password": "Own-Pass-2026!"},
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/grants?side=held", headers=headers).status_code == 200


def test_ui_session_cookie_is_httponly_and_csrf_protected(client, city) -> None:
    page = client.get("/login").text
    token = login_csrf(page)
    response = client.post(
        "/login",
        data={"username": "civil_user", "password": "govshare-demo", "login_csrf": token, "next": "/"},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert "govshare_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    home = client.get("/")
    assert "业务人员" in home.text
    csrf = csrf_of(home.text)
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False).status_code == 403
    assert client.post("/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=/"


def test_login_form_needs_its_double_submit_token(client, city) -> None:
    client.get("/login")
    response = client.post(
        "/login",
        data={"username": "civil_user", "password": "govshare-demo", "login_csrf": "forged", "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 400 and "govshare_session" not in response.headers.get("set-cookie", "")


def test_login_redirect_stays_on_this_site(client, city) -> None:
    page = client.get("/login").text
    token = login_csrf(page)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post(
            "/login",
            data={"username": "civil_user", "password": "govshare-demo", "login_csrf": token, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"
        client.cookies.clear()
        page = client.get("/login").text
        token = login_csrf(page)


def test_wrong_password_on_the_form_shows_the_message(client, city) -> None:
    page = client.get("/login").text
    token = login_csrf(page)
    response = client.post("/login", data={"username": "civil_user", "password": "bad", "login_csrf": token})
    assert response.status_code == 401 and "用户名或密码错误" in response.text
