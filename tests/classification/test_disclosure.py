"""Metadata access control (S9): restricted items (by default 核心数据 and L4) are left out, with a
count, of every path that shows items — the API, the pages, DCAT, search, the workbook export and the
request form — for everyone but the owning department's catalog roles, metadata administrators, the
Bureau and departments holding a grant that covers them."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from govshare.authz import Role
from govshare.users import service as users
from govshare.users.models import User
from tests.classification.conftest import SECRET_TITLE, graded, set_level
from tests.helpers import actor, login
from tests.ui import browser, texts

ALL = ["visit_no", "person_name", "dispatch", "diagnosis"]
OPEN = ["visit_no", "person_name"]


def names(client, resource_id: int, username: str) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
    body = client.get(f"/api/v1/resources/{resource_id}", headers=login(client, username)).json()
    return [i["name"] for i in body["items"]], body["hidden_items"]


def make(db, username: str, role: Role, by: str) -> None:  # type: ignore[no-untyped-def]
    user = db.scalar(select(User).where(User.username == username))
    users.grant_role(db, actor=actor(db, by), user=user, role=role)


@pytest.mark.parametrize(
    ("username", "sees"),
    [
        ("civil_compiler", ALL),  # the owning department's catalog roles
        ("civil_admin", ALL),
        ("civil_approver", ALL),
        ("bureau_reviewer", ALL),
        ("bureau_admin", ALL),
        ("bureau_metadata", ALL),
        ("civil_user", OPEN),  # a business user of the owner is no catalog role
        ("police_admin", OPEN),  # other departments
        ("police_user", OPEN),
        ("bureau_auditor", OPEN),
    ],
)
def test_the_api_shows_restricted_items_only_to_those_who_need_them(client, city, db, username, sees) -> None:
    resource = graded(db)
    assert names(client, resource.id, username) == (sees, len(ALL) - len(sees))
    version = client.get(
        f"/api/v1/resources/{resource.id}/versions/1", headers=login(client, username)
    ).json()
    assert [i["name"] for i in version["items"]] == sees and version["hidden_items"] == len(ALL) - len(sees)


def test_metadata_administrators_see_their_own_department_only(client, city, db) -> None:
    resource = graded(db)
    make(db, "police_user", Role.metadata_admin, "police_admin")
    make(db, "civil_user", Role.metadata_admin, "civil_admin")
    assert names(client, resource.id, "police_user") == (OPEN, 2)
    assert names(client, resource.id, "civil_user") == (ALL, 0)


def test_a_grant_covering_a_restricted_item_shows_it_to_the_holder(client, city, db) -> None:
    resource = graded(db)
    police = login(client, "police_user")
    filed = client.post(
        "/api/v1/requests",
        json={
            "resource_id": resource.id,
            "items": ["visit_no", "dispatch"],
            "purpose": "应急调度",
            "basis": "《突发事件应对法》第七条",
            "duration_days": 90,
        },
        headers=police,
    ).json()
    assert names(client, resource.id, "police_admin") == (OPEN, 2)
    decided = client.post(
        f"/api/v1/requests/{filed['id']}/decision",
        json={"decision": "approve", "reason": "同意"},
        headers=login(client, "civil_approver"),
    )
    assert decided.status_code == 200, decided.text
    assert names(client, resource.id, "police_admin") == (["visit_no", "person_name", "dispatch"], 1)
    assert names(client, resource.id, "hrss_admin") == (OPEN, 2)


def test_the_entry_page_and_the_request_form_hide_them_with_a_note(app, city, db) -> None:
    resource = graded(db)
    other = browser(app, "police_user")
    page = other.get(f"/catalog/{resource.id}")
    assert page.status_code == 200
    assert SECRET_TITLE not in page.text and "诊断结论" not in page.text and "走访对象姓名" in page.text
    assert "另有 2 个敏感信息项" in texts(page.text, "hidden-items")[0]
    form = other.get(f"/catalog/{resource.id}/request")
    assert form.status_code == 200 and "person_name" in form.text and "dispatch" not in form.text
    owner = browser(app, "civil_compiler").get(f"/catalog/{resource.id}")
    assert SECRET_TITLE in owner.text and not texts(owner.text, "hidden-items")


def test_dcat_leaves_them_out(client, city, db) -> None:
    resource = graded(db)

    def dataset(username: str) -> dict:  # type: ignore[type-arg]
        document = client.get("/api/v1/catalog/export.jsonld", headers=login(client, username)).json()
        return next(d for d in document["dcat:dataset"] if d["dct:identifier"] == resource.code)

    other = dataset("police_user")
    assert [i["gs:name"] for i in other["gs:items"]["@list"]] == OPEN and other["gs:hiddenItems"] == 2
    owner = dataset("civil_admin")
    assert [i["gs:name"] for i in owner["gs:items"]["@list"]] == ALL and "gs:hiddenItems" not in owner
    assert owner["gs:items"]["@list"][2]["gs:importance"]["@id"] == "gs:importance-core"


def test_the_workbook_export_leaves_them_out(client, city, db) -> None:
    resource = graded(db)

    def exported(username: str) -> list[str]:
        content = client.get("/api/v1/catalog/export.xlsx", headers=login(client, username)).content
        sheet = load_workbook(io.BytesIO(content), read_only=True)["信息项"]
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        return [r[1] for r in rows if r and r[-1] == resource.code]

    assert exported("police_user") == OPEN
    assert exported("civil_admin") == ALL


def test_search_never_finds_a_restricted_items_title(client, city, db) -> None:
    resource = graded(db)

    def found(username: str) -> list[int]:
        listed = client.get("/api/v1/resources", params={"q": SECRET_TITLE}, headers=login(client, username))
        return [r["id"] for r in listed.json()["items"]]

    assert found("police_user") == [] and found("civil_admin") == []
    assert resource.id in found_by_open_title(client)
    set_level(client, "importance", "core", restricted=False)  # the Bureau lifts the restriction
    assert found("police_user") == [resource.id]
    assert names(client, resource.id, "police_user") == (["visit_no", "person_name", "dispatch"], 1)


def found_by_open_title(client) -> list[int]:  # type: ignore[no-untyped-def]
    listed = client.get(
        "/api/v1/resources", params={"q": "走访对象姓名"}, headers=login(client, "police_user")
    )
    return [r["id"] for r in listed.json()["items"]]


def test_a_change_of_a_restricted_item_does_not_show_in_the_diff(client, city, db) -> None:
    from govshare.catalog import service as catalog
    from govshare.catalog.schemas import ResourceUpdate
    from tests.catalog.conftest import approve, submit

    resource = graded(db)
    admin = actor(db, "civil_admin")
    current = catalog.shown_version(db, resource)
    items = [dict(i) for i in current.items]
    items[1]["title"] = "走访对象姓名（户主）"
    items[2]["title"] = SECRET_TITLE + "（修订）"
    detail = client.get(f"/api/v1/resources/{resource.id}", headers=login(client, "civil_admin")).json()
    fields = ("category", "name", "summary", "format", "provision_method", "sharing_type", "open_type")
    data = ResourceUpdate.model_validate(
        {
            **{k: detail[k] for k in fields},
            "update_cycle": detail["update_cycle"],
            "items": items,
            "lock_version": resource.lock_version,
            "change_reason": "核对字段名称",
        }
    )
    catalog.update_resource(db, actor=admin, resource_id=resource.id, data=data)
    submit(db, resource.id)
    approve(db, resource.id)

    def changed(username: str) -> list[str]:
        diff = client.get(
            f"/api/v1/resources/{resource.id}/diff",
            params={"from": 1, "to": 2},
            headers=login(client, username),
        )
        assert diff.status_code == 200, diff.text
        return [c["field"] for c in diff.json()["changes"]]

    assert changed("police_user") == ["items.person_name.title"]
    assert changed("civil_admin") == ["items.person_name.title", "items.dispatch.title"]
