"""In a real browser, a hostile value stored through the API is shown as text and never runs."""

from __future__ import annotations

import httpx2
import pytest
from playwright.sync_api import Dialog, Page, expect

from govshare.demo.city import DEMO_PASSWORD
from tests.browser.ui import login

pytestmark = pytest.mark.browser

NAME = "<script>alert(1)</script>"
DESCRIPTION = '"><img src=x onerror=alert(2)>'


def test_a_stored_script_in_a_catalog_class_is_shown_and_never_runs(page: Page, live_server: str) -> None:
    token = httpx2.post(
        f"{live_server}/api/v1/auth/login", json={"username": "bureau_admin", "password": DEMO_PASSWORD}
    ).json()["access_token"]
    created = httpx2.post(
        f"{live_server}/api/v1/catalog/classes",
        json={"parent": "2", "name": NAME, "description": DESCRIPTION},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.text
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    login(page, "bureau_admin")
    page.goto("/catalog/classes")
    expect(page.get_by_text(NAME, exact=True).first).to_be_visible()
    page.wait_for_load_state("load")
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == [], f"a stored value ran as script: {dialogs}"
