"""Drive the HTML UI as a person would: log in through the form, post forms with the page's CSRF token,
read what the page shows by its `data-testid`s."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient

from govshare.demo.city import DEMO_PASSWORD

_LOGIN_CSRF = re.compile(r'name="login_csrf" value="([^"]+)"')
_PAGE_CSRF = re.compile(r'"X-CSRF-Token": "([^"]*)"')


def login_csrf(page: str) -> str:
    """The login form's double-submit token."""
    found = _LOGIN_CSRF.search(page)
    assert found is not None, page
    return found.group(1)


def csrf_of(page: str) -> str:
    """The session's CSRF token, which every page of a logged-in person carries."""
    found = _PAGE_CSRF.search(page)
    assert found is not None and found.group(1), "no CSRF token on the page"
    return found.group(1)


def ui_login(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> str:
    """Log `username` in through the login form, instead of whoever was; returns the CSRF token."""
    client.cookies.clear()
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "login_csrf": login_csrf(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/").text)


class Browser:
    """One person's browser: its own cookie jar, so several people can act in one test."""

    def __init__(self, app: FastAPI) -> None:
        self.client = TestClient(app, client=("127.0.0.1", 50000))
        self.csrf = ""

    def login(self, username: str, password: str = DEMO_PASSWORD) -> Browser:
        self.csrf = ui_login(self.client, username, password)
        return self

    def get(self, path: str, **kwargs: Any) -> httpx2.Response:
        return self.client.get(path, follow_redirects=False, **kwargs)

    def post(
        self, path: str, data: dict[str, Any] | list[tuple[str, Any]], *, csrf: bool = True
    ) -> httpx2.Response:
        """A form POST (not followed: assert the 303 yourself); `data` may repeat keys as a list of pairs."""
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        if csrf:
            fields.append(("csrf_token", self.csrf))
        body = httpx2.QueryParams(fields)
        return self.client.post(
            path,
            content=str(body),
            follow_redirects=False,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )


def browser(app: FastAPI, username: str) -> Browser:
    return Browser(app).login(username)


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert found is not None, f"no field {name}"
    return found.group(1)


class _TestIdText(HTMLParser):
    VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
    )

    def __init__(self, testid: str) -> None:
        super().__init__()
        self.testid = testid
        self.found: list[str] = []
        self._depth = 0  # > 0 while inside a matching element
        self._parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        if self._depth:
            self._depth += 1
        elif ("data-testid", self.testid) in attrs:
            self._depth = 1
            self._parts = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID or not self._depth:
            return
        self._depth -= 1
        if not self._depth:
            self.found.append(" ".join("".join(self._parts).split()))

    def handle_data(self, data: str) -> None:
        if self._depth:
            self._parts.append(data)


def texts(page: str, testid: str) -> list[str]:
    """The text of every element marked `data-testid="<testid>"`, whitespace collapsed."""
    parser = _TestIdText(testid)
    parser.feed(page)
    return parser.found


def text(page: str, testid: str) -> str:
    found = texts(page, testid)
    assert len(found) == 1, f"{len(found)} elements with data-testid={testid}"
    return found[0]
