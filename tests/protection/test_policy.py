"""Who may do what in abuse detection and incident response: least privilege (S25, S10–S12)."""

from __future__ import annotations

from govshare.authz import BUREAU_ROLES, PERMISSIONS, Action, Role, Scope

PROTECTION = [a for a in Action if a.value.startswith("protection.")]
OPERATING = {Action.alert_handle, Action.rules_manage, Action.incident_manage}


def test_only_the_bureau_admin_operates_and_auditors_only_look() -> None:
    for role, actions in PERMISSIONS.items():
        for action in OPERATING:
            assert (action in actions) == (role is Role.bureau_admin), (role, action)
    auditor = PERMISSIONS[Role.auditor]
    assert {a for a in PROTECTION if a in auditor} == {
        Action.alert_view,
        Action.rules_view,
        Action.incident_view,
    }


def test_departments_see_only_their_own_alerts_and_no_incidents_or_rules() -> None:
    for role, actions in PERMISSIONS.items():
        if role in BUREAU_ROLES:
            continue
        granted = {a: s for a, s in actions.items() if a in PROTECTION}
        expected = {Action.alert_view: Scope.own_org} if role is Role.security_officer else {}
        assert granted == expected, role
