"""Drive the server-rendered UI the way a browser does: log in through the form, post with the CSRF token."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from govshare.demo.city import DEMO_PASSWORD

_LOGIN_CSRF = re.compile(r'name="login_csrf" value="([^"]+)"')
_CSRF = re.compile(r'"X-CSRF-Token": "([^"]+)"')


def ui_login(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> str:
    """Log `username` in through the login form; returns the session's CSRF token for form posts."""
    client.cookies.clear()
    page = client.get("/login")
    match = _LOGIN_CSRF.search(page.text)
    assert match, page.text
    response = client.post(
        "/login",
        data={"username": username, "password": password, "login_csrf": match.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/").text)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match and match.group(1), "no CSRF token on the page"
    return match.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
