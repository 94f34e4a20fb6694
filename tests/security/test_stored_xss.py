"""Stored XSS, template injection and SQL injection through every kind of free text the UI shows.

Each scenario stores hostile strings through the API, as a caller would, into free-text fields
(organisation names, people's names, business systems, catalog entries and their items, catalog
classes, masking profiles, sharing requests and their rejection, doubt reports) and then asserts:
the value is stored verbatim (the API gives it back unchanged), and every page that shows it shows
it as text — escaped, with no element, script or event-handler attribute of its own, and `{{7*7}}`
not evaluated by Jinja. Jinja autoescaping and the CSP are what make this true; these tests keep it so.
"""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.users.models import User
from tests.catalog.conftest import entry
from tests.helpers import login, org, user_id
from tests.sharing.test_feedback import report
from tests.sharing.test_rows import PEOPLE, granted, loaded
from tests.ui import Browser

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE users; --",
    "{{7*7}}",
]

Pages = list[tuple[str, str]]  # (who looks, which page)


class _ActiveContent(HTMLParser):
    """Collects what a browser would run: inline scripts and event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts: list[str] = []
        self.handlers: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.handlers += [f"<{tag} {name}>" for name in names if name.startswith("on")]
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self._in_inline_script = True
            self.inline_scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts[-1] += data


def assert_shown_as_text(page: str, payload: str, where: str) -> None:
    active = _ActiveContent()
    active.feed(page)
    assert active.handlers == [], f"{where}: event handler attributes {active.handlers}"
    assert active.inline_scripts == [], f"{where}: inline scripts {active.inline_scripts}"
    assert "<script>alert" not in page and "<img src=x" not in page, where
    # Shown, escaped; `{{7*7}}` has nothing to escape, so this also proves Jinja did not evaluate it.
    assert str(escape(payload)) in page, f"{where}: the value is not shown (escaped) at all"
    if str(escape(payload)) != payload:
        assert payload not in page, f"{where}: the value is in the page unescaped"


def _orgs(client: TestClient, db: Session, payload: str) -> tuple[Pages, Callable[[], list[str]]]:
    police = org(db, "police").id
    admin = login(client, "bureau_admin")
    version = client.get(f"/api/v1/orgs/{police}", headers=admin).json()["version"]
    body = {"version": version, "name": payload, "short_name": payload}
    response = client.patch(f"/api/v1/orgs/{police}", json=body, headers=admin)
    assert response.status_code == 200, response.text

    def stored() -> list[str]:
        got = client.get(f"/api/v1/orgs/{police}", headers=admin).json()
        return [got["name"], got["short_name"]]

    pages = [("bureau_admin", f"/orgs/{police}"), ("bureau_admin", "/orgs"), ("police_admin", "/users")]
    return [*pages, ("bureau_admin", "/catalog/supervision")], stored


def _people(client: TestClient, db: Session, payload: str) -> tuple[Pages, Callable[[], list[str]]]:
    person = user_id(db, "police_user")
    admin = login(client, "bureau_admin")
    version = client.get(f"/api/v1/users/{person}", headers=admin).json()["version"]
    response = client.patch(
        f"/api/v1/users/{person}", json={"version": version, "display_name": payload}, headers=admin
    )
    assert response.status_code == 200, response.text

    def stored() -> list[str]:
        return [client.get(f"/api/v1/users/{person}", headers=admin).json()["display_name"]]

    return [("bureau_admin", f"/users/{person}"), ("police_admin", "/users"), ("police_user", "/")], stored


def _systems(client: TestClient, db: Session, payload: str) -> tuple[Pages, Callable[[], list[str]]]:
    admin = login(client, "police_admin")
    system = client.get("/api/v1/systems", headers=admin).json()["items"][0]
    body = {"version": system["version"], "name": payload, "description": payload}
    response = client.patch(f"/api/v1/systems/{system['id']}", json=body, headers=admin)
    assert response.status_code == 200, response.text

    def stored() -> list[str]:
        got = client.get(f"/api/v1/systems/{system['id']}", headers=admin).json()
        return [got["name"], got["description"]]

    return [("police_admin", f"/systems/{system['id']}"), ("bureau_admin", "/systems")], stored


def _catalog_entries(client: TestClient, db: Session, payload: str) -> tuple[Pages, Callable[[], list[str]]]:
    admin = login(client, "civil_admin")
    values = entry(db, "civil", name=payload, summary=payload).model_dump(mode="json")
    values["items"][2]["title"] = payload
    response = client.post("/api/v1/resources", json=values, headers=admin)
    assert response.status_code == 201, response.text
    resource_id = response.json()["id"]

    def stored() -> list[str]:
        got = client.get(f"/api/v1/resources/{resource_id}", headers=admin).json()
        return [got["name"], got["summary"], got["items"][2]["title"]]

    return [("civil_admin", f"/catalog/{resource_id}"), ("civil_admin", "/catalog?status=draft")], stored


def _catalog_classes(client: TestClient, db: Session, payload: str) -> tuple[Pages, Callable[[], list[str]]]:
    admin = login(client, "bureau_admin")
    body = {"parent": "2", "name": payload, "description": payload}
    response = client.post("/api/v1/catalog/classes", json=body, headers=admin)
    assert response.status_code == 201, response.text
    class_id = response.json()["id"]

    def stored() -> list[str]:
        got = next(
            c for c in client.get("/api/v1/catalog/classes", headers=admin).json() if c["id"] == class_id
        )
        return [got["name"], got["description"]]

    return [("bureau_admin", "/catalog/classes")], stored


def _masking_profiles(client: TestClient, db: Session, payload: str) -> tuple[Pages, Callable[[], list[str]]]:
    admin = login(client, "bureau_admin")
    model = client.get("/api/v1/masking/profiles", headers=admin).json()[0]
    body = {"name": payload, "description": payload, "levels": model["levels"], "elements": {}}
    response = client.put("/api/v1/masking/profiles/xsscheck", json=body, headers=admin)
    assert response.status_code == 201, response.text

    def stored() -> list[str]:
        got = client.get("/api/v1/masking/profiles/xsscheck", headers=admin).json()
        return [got["name"], got["description"]]

    return [("bureau_admin", "/admin/masking"), ("police_admin", "/admin/masking")], stored


def _sharing_requests(client: TestClient, db: Session, payload: str) -> tuple[Pages, Callable[[], list[str]]]:
    cars = db.scalar(select(Resource).where(Resource.name == "机动车登记信息"))
    assert cars is not None and cars.sharing_type == "conditional"
    civil = login(client, "civil_user")
    body = {
        "resource_id": cars.id,
        "items": [
            i["name"] for i in client.get(f"/api/v1/resources/{cars.id}", headers=civil).json()["items"]
        ][:2],
        "purpose": payload,
        "basis": payload,
        "scope_of_use": payload,
        "duration_days": 30,
    }
    response = client.post("/api/v1/requests", json=body, headers=civil)
    assert response.status_code == 201, response.text
    request_id = response.json()["id"]
    approver = login(client, "police_approver")
    decided = client.post(
        f"/api/v1/requests/{request_id}/decision",
        json={"decision": "reject", "reason": payload},
        headers=approver,
    )
    assert decided.status_code == 200, decided.text

    def stored() -> list[str]:
        got = client.get(f"/api/v1/requests/{request_id}", headers=civil).json()
        return [got["purpose"], got["basis"], got["scope_of_use"], got["decision_reason"]]

    page = f"/sharing/requests/{request_id}"
    return [("civil_user", page), ("police_approver", page), ("civil_user", "/sharing/requests")], stored


def _feedback(client: TestClient, db: Session, payload: str) -> tuple[Pages, Callable[[], list[str]]]:
    population = loaded(client, db)
    granted(client, population, ["id_number", "name", "address"])
    civil = login(client, "civil_user")
    filed = report(
        client, civil, population, keys={"id_number": PEOPLE[0]}, items=["address"], description=payload
    )
    assert filed.status_code == 201, filed.text
    case = filed.json()["id"]

    def stored() -> list[str]:
        return [client.get(f"/api/v1/feedback/{case}", headers=civil).json()["description"]]

    return [
        ("civil_user", f"/sharing/feedback/{case}"),
        ("police_admin", f"/sharing/feedback/{case}"),
    ], stored


SCENARIOS: dict[str, Callable[[TestClient, Session, str], tuple[Pages, Callable[[], list[str]]]]] = {
    "organisation name": _orgs,
    "person's name": _people,
    "business system": _systems,
    "catalog entry and item": _catalog_entries,
    "catalog class": _catalog_classes,
    "masking profile": _masking_profiles,
    "sharing request and rejection": _sharing_requests,
    "doubt report": _feedback,
}


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_free_text_is_stored_verbatim_and_shown_as_text(
    client: TestClient, app: FastAPI, db: Session, scenario: str, payload: str
) -> None:
    pages, stored = SCENARIOS[scenario](client, db, payload)
    assert stored() == [payload] * len(stored()), "stored or returned differently from what was sent"
    browsers: dict[str, Browser] = {}
    for username, path in pages:
        browser = browsers.setdefault(username, Browser(app).login(username))
        response = browser.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert_shown_as_text(response.text, payload, f"{scenario}: {username} {path}")
    assert db.scalar(select(func.count()).select_from(User)) > 0  # the users table is still there
