"""Steps shared by browser tests, done the way a person does them, and what a page did meanwhile."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from playwright.sync_api import ConsoleMessage, Error, Page, Request

from govshare.demo.city import DEMO_PASSWORD


def fill_login(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Type into the login form already on screen and press 登录."""
    form = page.locator("form[action='/login']")
    form.get_by_label("用户名", exact=True).fill(username)
    form.get_by_label("密码", exact=True).fill(password)
    form.get_by_role("button", name="登录").click()


def login(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Open /login, log in and wait for the page the login redirects to."""
    page.goto("/login")
    with page.expect_navigation():
        fill_login(page, username, password)


def logout(page: Page) -> None:
    """Press 退出 in the top bar and wait for the login page it leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name="退出").click()


def switch_user(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log out whoever is logged in on `page`, then log in as `username` (one desk, two people)."""
    logout(page)
    with page.expect_navigation():
        fill_login(page, username, password)


def open_nav(page: Page, label: str) -> None:
    """Follow the sidebar entry `label` (e.g. 数据目录) and wait for its page."""
    with page.expect_navigation():
        page.get_by_role("navigation", name="主导航").get_by_role("link", name=label, exact=True).click()


def nav_labels(page: Page) -> list[str]:
    return [label.strip() for label in page.locator("nav.sidebar a").all_inner_texts()]


@dataclass(frozen=True)
class ConsoleError:
    text: str
    url: str


@dataclass
class PageWatch:
    """What a page did besides rendering: every request it made and every error it reported."""

    requests: list[str] = field(default_factory=list)
    documents: set[str] = field(default_factory=set)
    console_errors: list[ConsoleError] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Tolerate console errors matching `pattern`, for a test that provokes one on purpose
        (htmx logs every 4xx answer to its requests, e.g. a form refused with 422)."""
        self.allowed.append(re.compile(pattern))

    def on_request(self, request: Request) -> None:
        self.requests.append(request.url)
        if request.resource_type == "document":
            self.documents.add(request.url)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(ConsoleError(message.text, message.location.get("url", "")))

    def on_page_error(self, error: Error) -> None:
        self.page_errors.append(str(error))

    def foreign_requests(self, base: str) -> list[str]:
        return [url for url in self.requests if not url.startswith(f"{base}/")]

    def unexpected_console_errors(self) -> list[ConsoleError]:
        """Console errors other than a page's own 4xx status, which the test asserts itself.

        Chromium logs "Failed to load resource" for a document answered with 401 or 404 (a wrong
        password, a missing page); that is the page working. CSP violations, failed scripts,
        styles or HTMX requests still count.
        """
        return [
            e
            for e in self.console_errors
            if not (e.text.startswith("Failed to load resource") and e.url in self.documents)
            and not any(p.search(e.text) for p in self.allowed)
        ]

    def problems(self, base: str) -> list[str]:
        return [
            *(f"request outside {base}: {url}" for url in self.foreign_requests(base)),
            *(f"console error: {e.text} ({e.url})" for e in self.unexpected_console_errors()),
            *(f"uncaught script error: {text}" for text in self.page_errors),
        ]
