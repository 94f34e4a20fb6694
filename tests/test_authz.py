"""The permission table: least privilege by construction."""

from __future__ import annotations

from sqlalchemy import select

from govshare.authz import BUREAU_ROLES, PERMISSIONS, Action, Actor, Role, Scope, allowed, scope_of, visible
from govshare.users.models import User


def test_every_role_has_a_row_and_only_known_actions() -> None:
    assert set(PERMISSIONS) == set(Role)
    for actions in PERMISSIONS.values():
        assert set(actions) <= set(Action)


# What every government body may read city-wide: who the organisations are, the published
# catalog, which is the basis of sharing between departments (M9), and the Bureau's masking
# profiles, which say what a consumer receives (S23).
CITY_WIDE_READING = {Action.org_view, Action.catalog_view, Action.masking_view}


def test_department_roles_never_reach_city_wide_beyond_reading_organisations_and_the_catalog() -> None:
    for role in set(Role) - BUREAU_ROLES:
        for action, scope in PERMISSIONS[role].items():
            assert scope is not Scope.city or action in CITY_WIDE_READING, (role, action)


def test_only_the_bureau_reviewer_reviews_the_catalog_and_departments_compile_their_own() -> None:
    assert [r for r in Role if Action.catalog_review in PERMISSIONS[r]] == [Role.bureau_reviewer]
    for role in Role:
        for action in (Action.catalog_compile, Action.catalog_submit, Action.catalog_secrecy):
            assert PERMISSIONS[role].get(action) in (None, Scope.own_org), (role, action)
    assert all(Action.catalog_view in PERMISSIONS[r] for r in Role)


def test_only_auditors_verify_the_chain_and_only_the_bureau_decides_registrations() -> None:
    assert [r for r in Role if Action.audit_verify in PERMISSIONS[r]] == [Role.auditor]
    assert [r for r in Role if Action.registration_decide in PERMISSIONS[r]] == [Role.bureau_admin]


def test_actions_all_have_chinese_labels() -> None:
    for action in Action:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in action.label)


def test_own_org_scope() -> None:
    admin = Actor(kind="user", name="a", user_id=1, org_id=7, roles=frozenset({Role.data_admin}))
    mine, theirs = User(id=2, org_id=7), User(id=3, org_id=8)
    assert allowed(admin, Action.user_manage, mine) and not allowed(admin, Action.user_manage, theirs)
    assert scope_of(Actor.anonymous(), Action.org_view) is None
    assert scope_of(Actor.operator(), Action.audit_verify) is Scope.city


def test_visible_filters_lists() -> None:
    admin = Actor(kind="user", name="a", user_id=1, org_id=7, roles=frozenset({Role.data_admin}))
    sql = str(
        visible(admin, Action.user_view, select(User), User).compile(compile_kwargs={"literal_binds": True})
    )
    assert "users.org_id = 7" in sql
    nobody = Actor(kind="user", name="b", user_id=2, org_id=7, roles=frozenset({Role.business_user}))
    sql = str(
        visible(nobody, Action.user_view, select(User), User).compile(compile_kwargs={"literal_binds": True})
    )
    assert "false" in sql.lower() or "0 = 1" in sql or "1 != 1" in sql


def test_business_systems_read_the_catalog_push_their_departments_data_and_consume_grants_only() -> None:
    from govshare.authz import SYSTEM_PERMISSIONS

    system = Actor(kind="system", name="system:police-hukou", system_id=1, org_id=7)
    assert scope_of(system, Action.catalog_view) is Scope.city
    assert scope_of(system, Action.data_provide) is Scope.own_org
    assert allowed(system, Action.data_provide, User(id=1, org_id=7))
    assert not allowed(system, Action.data_provide, User(id=1, org_id=8))
    for action in (
        Action.catalog_compile,
        Action.catalog_review,
        Action.user_manage,
        Action.audit_read,
        Action.sharing_request,  # people file requests, people answer them
        Action.sharing_decide,
        Action.grant_manage,
    ):
        assert scope_of(system, action) is None
    assert scope_of(system, Action.data_consume) is Scope.own_org
    assert set(SYSTEM_PERMISSIONS) == {
        Action.catalog_view,
        Action.data_provide,
        Action.provision_view,
        Action.data_consume,
    }
