"""Every role against every action, as one explicit table, and the same decisions over real routes.

The table below is the policy written out by hand: adding an `Action` (or a `Role`) without deciding
here who holds it fails `test_the_table_covers_every_action_and_every_role`, and changing a grant in
`authz.PERMISSIONS` without changing the table fails `test_authz_decides_exactly_as_the_table_says`.

Columns, in this order: bureau_admin, bureau_reviewer, auditor, data_admin, catalog_compiler,
approver, security_officer, destruction_supervisor, business_user, metadata_admin,
bureau_metadata_admin, then (after two spaces) a department's business system. Cells: C city-wide,
O own organisation only, - not allowed.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, Role, Scope, allowed, scope_of
from govshare.users.models import User
from tests.helpers import login, org

ROLE_COLUMNS = [
    Role.bureau_admin,
    Role.bureau_reviewer,
    Role.auditor,
    Role.data_admin,
    Role.catalog_compiler,
    Role.approver,
    Role.security_officer,
    Role.destruction_supervisor,
    Role.business_user,
    Role.metadata_admin,
    Role.bureau_metadata_admin,
]

#                                 admin rev aud dadm comp appr sec sup user meta bmeta   system
MATRIX: dict[str, str] = {
    "org_view":                       "C C C C C C C C C C C  -",
    "org_manage":                     "C - - - - - - - - - -  -",
    "user_view":                      "C - C O - - O - - - -  -",
    "user_manage":                    "C - - O - - - - - - -  -",
    "role_assign":                    "C - - O - - - - - - -  -",
    "user_offboard":                  "C - - O - - - - - - -  -",
    "registration_view":              "C C C O - - - - - - -  -",
    "registration_submit":            "C - - O - - - - - - -  -",
    "registration_decide":            "C - - - - - - - - - -  -",
    "system_view":                    "C - C O - - O - - - -  -",
    "system_manage":                  "C - - O - - - - - - -  -",
    "audit_read":                     "- - C - - - O - - - -  -",
    "audit_verify":                   "- - C - - - - - - - -  -",
    "catalog_view":                   "C C C C C C C C C C C  C",
    "catalog_view_unpublished":       "C C C O O O O - - O C  -",
    "catalog_compile":                "- - - O O - - - - - -  -",
    "catalog_secrecy":                "- - - O - - O - - - -  -",
    "catalog_submit":                 "- - - O O - - - - - -  -",
    "catalog_review":                 "- C - - - - - - - - -  -",
    "catalog_classes":                "C - - - - - - - - - -  -",
    "catalog_supervise":              "C C C - - - - - - - -  -",
    "element_manage":                 "C - - - - - - - - - -  -",
    "element_resolve":                "C C - - - - - - - - -  -",
    "data_provide":                   "- - - O - - - - - - -  O",
    "provision_view":                 "C C C O - - O - - - -  O",
    "sync_manage":                    "- - - O - - - - - - -  -",
    "service_manage":                 "- - - O - - - - - - -  -",
    "sharing_request":                "- - - O - - - - O - -  -",
    "sharing_view":                   "C C C O - O O - O - -  -",
    "sharing_decide":                 "- - - - - O - - - - -  -",
    "sharing_supervise":              "C C C - - - - - - - -  -",
    "grant_manage":                   "C - - O - - - - - - -  -",
    "sharing_rule":                   "C - - - - - - - - - -  -",
    "export_approve":                 "C - - - - - - - - - -  -",
    "data_consume":                   "- - - O - - - - O - -  O",
    "calendar_view":                  "C C C C C C C C C C C  -",
    "policy_view":                    "C C C C C C C C C C C  -",
    "policy_manage":                  "O - - O - - O - - - -  -",
    "supervision_view":               "C C C O - - - - - - -  -",
    "report_publish":                 "C - - - - - - - - - -  -",
    "open_application_view":          "C C C - - - - - - - -  -",
    "open_application_decide":        "C C - - - - - - - - -  -",
    "open_settings":                  "C - - - - - - - - - -  -",
    "analysis_run":                   "- - - O - - - - O - -  -",
    "analysis_release":               "- - - O - - - - O - -  -",
    "analysis_audit":                 "C - C - - - - - - - -  -",
    "calendar_manage":                "C - - - - - - - - - -  -",
    "masking_view":                   "C C C C C C C C C C C  -",
    "masking_manage":                 "C - - - - - - - - - -  -",
    "backup_view":                    "C - C - - - - - - - -  -",
    "backup_manage":                  "C - - - - - - - - - -  -",
    "alert_view":                     "C - C - - - O - - - -  -",
    "alert_handle":                   "C - - - - - - - - - -  -",
    "rules_view":                     "C - C - - - - - - - -  -",
    "rules_manage":                   "C - - - - - - - - - -  -",
    "incident_view":                  "C - C - - - - - - - -  -",
    "incident_manage":                "C - - - - - - - - - -  -",
    "catalog_view_sensitive":         "C C - O O O O - - O C  -",
    "classification_manage":          "C - - - - - - - - - -  -",
    "asset_register_view":            "C C C O - - O - - O C  -",
    "destruction_view":               "C - C O - O O O - - -  -",
    "destruction_request":            "- - - O - - - - - - -  -",
    "destruction_approve_department": "- - - - - O - - - - -  -",
    "destruction_approve_bureau":     "C - - - - - - - - - -  -",
    "destruction_supervise":          "- - - - - - - O - - -  -",
    "rectification_view":             "C C C O - - - - - - -  -",
    "rectification_supervise":        "C C - - - - - - - - -  -",
    "rectification_report":           "- - - O - - - - - - -  -",
}  # fmt: skip

CELL = {"C": Scope.city, "O": Scope.own_org, "-": None}
OWN_ORG, OTHER_ORG = 7, 8


def _row(action: Action) -> tuple[list[Scope | None], Scope | None]:
    cells = MATRIX[action.name].split()
    assert len(cells) == len(ROLE_COLUMNS) + 1, action
    return [CELL[c] for c in cells[:-1]], CELL[cells[-1]]


def _person(role: Role) -> Actor:
    return Actor(kind="user", name=role.value, user_id=1, org_id=OWN_ORG, roles=frozenset({role}))


def test_the_table_covers_every_action_and_every_role() -> None:
    assert set(MATRIX) == {a.name for a in Action}, "decide the new action's roles in MATRIX"
    assert set(ROLE_COLUMNS) == set(Role) and len(ROLE_COLUMNS) == len(Role), "add the new role's column"


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_authz_decides_exactly_as_the_table_says(action: Action) -> None:
    people, system = _row(action)
    for role, expected in zip(ROLE_COLUMNS, people, strict=True):
        actor = _person(role)
        assert scope_of(actor, action) is expected, (role.value, action.value)
        mine, theirs = User(id=2, org_id=OWN_ORG), User(id=3, org_id=OTHER_ORG)
        assert allowed(actor, action, mine) is (expected is not None), (role.value, action.value)
        assert allowed(actor, action, theirs) is (expected is Scope.city), (role.value, action.value)
    machine = Actor(kind="system", name="system:x", system_id=1, org_id=OWN_ORG)
    assert scope_of(machine, action) is system, ("system", action.value)
    # Nobody anonymous holds anything; the local operator (CLI on the server) holds everything.
    assert scope_of(Actor.anonymous(), action) is None
    assert scope_of(Actor.operator(), action) is Scope.city


def test_a_person_without_roles_may_only_read_the_calendar_and_the_security_policies() -> None:
    nobody = Actor(kind="user", name="nobody", user_id=1, org_id=OWN_ORG)
    assert {a for a in Action if scope_of(nobody, a) is not None} == {
        Action.calendar_view,
        Action.policy_view,
    }


# ---- The same decisions over the real routes, for one demo person of each role --------------------

# A department person of each role in the police department; Bureau people are Bureau-wide. (The demo
# has no department metadata administrator: the table test above covers that role.)
DEMO_USER = {
    Role.bureau_admin: "bureau_admin",
    Role.bureau_reviewer: "bureau_reviewer",
    Role.auditor: "bureau_auditor",
    Role.data_admin: "police_admin",
    Role.catalog_compiler: "police_compiler",
    Role.approver: "police_approver",
    Role.security_officer: "police_security",
    Role.destruction_supervisor: "police_supervisor",
    Role.business_user: "police_user",
    Role.bureau_metadata_admin: "bureau_metadata",
}

# (method, path, JSON body, the action the route requires): these refuse a caller without the action
# with 403 naming it.
ROUTES: list[tuple[str, str, Any, Action]] = [
    ("GET", "/api/v1/audit/verify", None, Action.audit_verify),
    ("GET", "/api/v1/audit/events", None, Action.audit_read),
    ("GET", "/api/v1/catalog/review-queue", None, Action.catalog_review),
    ("GET", "/api/v1/catalog/supervision", None, Action.catalog_supervise),
    ("GET", "/api/v1/catalog/conflicts", None, Action.element_resolve),
    ("GET", "/api/v1/provision/timeliness", None, Action.provision_view),
    ("GET", "/api/v1/sharing/purpose-review", None, Action.sharing_supervise),
    ("GET", "/api/v1/masking/profiles", None, Action.masking_view),
    ("GET", "/api/v1/holidays", None, Action.calendar_view),
    ("GET", "/api/v1/orgs", None, Action.org_view),
    ("GET", "/api/v1/resources", None, Action.catalog_view),
    ("POST", "/api/v1/catalog/classes", {"parent": "2", "name": "矩阵测试分类"}, Action.catalog_classes),
    ("GET", "/api/v1/backups/runs", None, Action.backup_view),
    ("GET", "/api/v1/backups/policy", None, Action.backup_view),
    ("GET", "/api/v1/rectification/notices", None, Action.rectification_view),
    ("GET", "/api/v1/rectification/violations", None, Action.rectification_view),
    ("POST", "/api/v1/rectification/detection", None, Action.rectification_supervise),
]


# Lists filtered by `authz.visible` instead: nothing without the action, own organisation's rows only
# with an own-organisation reach, every organisation's rows city-wide. (path, action, org field)
FILTERED_LISTS: list[tuple[str, Action, str]] = [
    ("/api/v1/users", Action.user_view, "org_id"),
    ("/api/v1/registrations", Action.registration_view, "org_id"),
    ("/api/v1/systems", Action.system_view, "org_id"),
]


@pytest.mark.parametrize("role", list(DEMO_USER), ids=lambda r: r.value)
def test_filtered_lists_show_each_role_what_the_table_says(
    client: TestClient, db: Session, role: Role
) -> None:
    headers = login(client, DEMO_USER[role])
    police = org(db, "police").id
    for path, action, field in FILTERED_LISTS:
        scope = _row(action)[0][ROLE_COLUMNS.index(role)]
        response = client.get(path, params={"size": 100}, headers=headers)
        assert response.status_code == 200, (path, response.text)
        orgs = {_org_of(item, field) for item in response.json()["items"]}
        if scope is None:
            assert orgs == set(), (role.value, path)
        elif scope is Scope.own_org:
            assert orgs == {police}, (role.value, path, orgs)
        else:
            assert len(orgs) > 1, (role.value, path, orgs)


def _org_of(item: dict[str, Any], field: str) -> int:
    value = item[field] if field in item else item["org"]["id"]
    assert isinstance(value, int)
    return value


@pytest.mark.parametrize("role", list(DEMO_USER), ids=lambda r: r.value)
def test_routes_answer_each_role_as_the_table_says(client: TestClient, db: Session, role: Role) -> None:
    headers = login(client, DEMO_USER[role])
    mismatches = []
    for method, path, body, action in ROUTES:
        expected_scope = _row(action)[0][ROLE_COLUMNS.index(role)]
        response = client.request(method, path, json=body, headers=headers)
        if expected_scope is None:
            ok = response.status_code == 403 and response.json()["error"]["details"]["action"] == action.value
        else:
            ok = 200 <= response.status_code < 300
        if not ok:
            mismatches.append(f"{method} {path}: {response.status_code} (expected {expected_scope})")
    assert mismatches == [], f"{role.value}: {mismatches}"
