"""People, roles, registrations (备案) and offboarding (离任)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from govshare.auth import service as auth
from govshare.authz import Role
from govshare.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from govshare.tasks import service as tasks
from govshare.tasks.models import Task
from govshare.users import offboarding, registrations, service
from govshare.users.models import LoginSession, Registration, User
from govshare.users.passwords import policy_problems
from govshare.users.schemas import UserCreate, UserUpdate
from tests.helpers import actor, org, user_id

STRONG = "Shijiazhuang#2026"


def _create(db, by: str, org_code: str, username: str = "newperson", roles=()):  # type: ignore[no-untyped-def]
    return service.create_user(
        db,
        actor=actor(db, by),
        data=UserCreate(
            username=username,
            display_name="新同事",
            org_id=org(db, org_code).id,
            password=STRONG,
            roles=list(roles),
        ),
    )


def test_password_policy() -> None:
    assert policy_problems(STRONG, username="x") == []
    assert "密码长度至少 10 位" in policy_problems("Ab1!", username="x")
    assert any("三类" in p for p in policy_problems("abcdefghijkl", username="x"))
    assert any("用户名" in p for p in policy_problems("Zhangwei#2026", username="zhangwei"))


def test_data_admin_creates_people_only_in_own_department(db, city) -> None:
    person = _create(db, "civil_admin", "civil", roles=[Role.business_user])
    assert person.org_id == org(db, "civil").id and person.role_names == ["business_user"]
    assert person.must_change_password
    with pytest.raises(Forbidden):
        _create(db, "civil_admin", "police", username="intruder")


def test_bureau_roles_stay_in_the_bureau_and_registered_roles_need_registration(db, city) -> None:
    with pytest.raises(Invalid, match="只能授予市数据资源管理局人员"):
        _create(db, "bureau_admin", "civil", roles=[Role.auditor])
    with pytest.raises(Invalid, match="备案"):
        _create(db, "bureau_admin", "civil", roles=[Role.data_admin])
    person = _create(db, "civil_admin", "civil")
    with pytest.raises(Invalid, match="备案"):
        service.set_roles(
            db, actor=actor(db, "civil_admin"), user_id=person.id, roles=[Role.security_officer]
        )


def test_username_taken_and_stale_edit_conflict(db, city) -> None:
    with pytest.raises(Conflict):
        _create(db, "bureau_admin", "civil", username="civil_user")
    person = db.get(User, user_id(db, "civil_user"))
    stale = person.version
    service.update_user(
        db,
        actor=actor(db, "civil_admin"),
        user_id=person.id,
        data=UserUpdate(version=stale, display_name="改名一"),
    )
    with pytest.raises(Conflict):
        service.update_user(
            db,
            actor=actor(db, "civil_admin"),
            user_id=person.id,
            data=UserUpdate(version=stale, display_name="改名二"),
        )


def test_people_lists_are_scoped(db, city) -> None:
    from govshare.pagination import PageParams

    rows, total = service.list_users(db, actor=actor(db, "civil_admin"), params=PageParams(page_size=200))
    assert total == 6 and {u.org_id for u in rows} == {org(db, "civil").id}
    assert service.list_users(db, actor=actor(db, "civil_user"), params=PageParams())[1] == 0
    with pytest.raises(NotFound):
        service.get_user(db, actor=actor(db, "civil_admin"), user_id=user_id(db, "police_user"))


def test_registration_replaces_the_previous_holder(db, city) -> None:
    police = org(db, "police")
    previous = user_id(db, "police_admin")
    newcomer = user_id(db, "police_compiler")
    reg = registrations.submit(
        db, actor=actor(db, "police_admin"), user_id=newcomer, role=Role.data_admin, note="岗位调整"
    )
    assert reg.status == "pending" and reg.supersedes_id is not None
    bureau_tasks = tasks.open_tasks_for(db, actor=actor(db, "bureau_admin"))
    assert any(t.subject_type == "registration" and t.subject_id == str(reg.id) for t in bureau_tasks)
    with pytest.raises(Conflict):
        registrations.submit(db, actor=actor(db, "police_admin"), user_id=newcomer, role=Role.data_admin)
    with pytest.raises(Forbidden):
        registrations.decide(db, actor=actor(db, "police_admin"), registration_id=reg.id, approve=True)
    registrations.decide(
        db, actor=actor(db, "bureau_admin"), registration_id=reg.id, approve=True, comment="同意"
    )
    assert "data_admin" in db.get(User, newcomer).role_names
    assert "data_admin" not in db.get(User, previous).role_names
    holder = registrations.current_holder(db, org_id=police.id, role=Role.data_admin)
    assert holder.user_id == newcomer
    ended = db.get(Registration, reg.supersedes_id)
    assert ended.status == "ended" and ended.ended_at is not None
    assert not any(
        t.subject_id == str(reg.id) for t in tasks.open_tasks_for(db, actor=actor(db, "bureau_admin"))
    )


def test_returned_registration_needs_a_reason(db, city) -> None:
    reg = registrations.submit(
        db, actor=actor(db, "civil_admin"), user_id=user_id(db, "civil_user"), role=Role.security_officer
    )
    with pytest.raises(Invalid):
        registrations.decide(db, actor=actor(db, "bureau_admin"), registration_id=reg.id, approve=False)
    registrations.decide(
        db, actor=actor(db, "bureau_admin"), registration_id=reg.id, approve=False, comment="请补充任命文件"
    )
    assert db.get(Registration, reg.id).status == "rejected"
    assert "security_officer" not in db.get(User, user_id(db, "civil_user")).role_names


def test_offboarding_revokes_everything_at_once(db, city) -> None:
    leaver = db.get(User, user_id(db, "police_admin"))
    result = auth.login(db, username="police_admin", password="govshare-demo", ip="127.0.0.1")
    pending = tasks.open_task(
        db,
        kind="test",
        title="待处理事项",
        link="/",
        org_id=leaver.org_id,
        subject_type="test",
        subject_id=1,
        assignee_id=leaver.id,
    )
    record = offboarding.offboard(
        db,
        actor=actor(db, "bureau_admin"),
        user_id=leaver.id,
        successor_id=user_id(db, "police_approver"),
        reason="调任其他单位",
    )
    report = json.loads(record.report)
    assert report["access"]["roles"] == [{"role": "data_admin", "label": "数据资源管理员"}]
    assert any(p["action"] == "system.manage" for p in report["access"]["permissions"])
    assert report["sessions_revoked"] >= 1 and report["roles_revoked"] == ["data_admin"]
    assert report["tasks_handed_over"] == [{"id": pending.id, "title": "待处理事项"}]
    assert report["registrations_ended"][0]["role"] == "data_admin"
    assert db.get(Task, pending.id).assignee_id == user_id(db, "police_approver")
    assert not leaver.is_active and leaver.role_names == []
    assert all(
        s.revoked_at is not None
        for s in db.scalars(select(LoginSession).where(LoginSession.user_id == leaver.id))
    )
    with pytest.raises(Unauthorized):
        auth.resolve_token(db, token=result.token, ip="127.0.0.1")
    with pytest.raises(Unauthorized):
        auth.login(db, username="police_admin", password="govshare-demo", ip="127.0.0.1")
    bureau_tasks = tasks.open_tasks_for(db, actor=actor(db, "bureau_admin"))
    assert any(t.kind == "registration.vacant" for t in bureau_tasks)


def test_offboarding_rules(db, city) -> None:
    with pytest.raises(Invalid):  # successor from another department
        offboarding.offboard(
            db,
            actor=actor(db, "bureau_admin"),
            user_id=user_id(db, "police_user"),
            successor_id=user_id(db, "civil_user"),
            reason="调离",
        )
    with pytest.raises(Invalid):  # oneself
        offboarding.offboard(
            db,
            actor=actor(db, "police_admin"),
            user_id=user_id(db, "police_admin"),
            successor_id=user_id(db, "police_user"),
            reason="调离",
        )
    with pytest.raises(NotFound):  # another department's person is invisible
        offboarding.offboard(
            db,
            actor=actor(db, "civil_admin"),
            user_id=user_id(db, "police_user"),
            successor_id=user_id(db, "police_approver"),
            reason="调离",
        )
    offboarding.offboard(
        db,
        actor=actor(db, "police_admin"),
        user_id=user_id(db, "police_user"),
        successor_id=user_id(db, "police_approver"),
        reason="退休",
    )
    with pytest.raises(Conflict):
        offboarding.offboard(
            db,
            actor=actor(db, "police_admin"),
            user_id=user_id(db, "police_user"),
            successor_id=user_id(db, "police_approver"),
            reason="退休",
        )
