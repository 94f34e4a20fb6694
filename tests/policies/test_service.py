"""The policy register through its service: who reads and writes what, versions, stale edits,
retirement and the review reminders (S5, S6, S8)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.pagination import PageParams
from govshare.policies import service
from govshare.policies.models import PolicyKind, PolicyStatus, SecurityPolicy
from govshare.tasks.models import Task
from govshare.workdays import today
from tests.helpers import actor, org

ALL = PageParams(page=1, page_size=100)


def text(kind: PolicyKind | None = PolicyKind.asset_rules, **overrides: object) -> service.PolicyText:
    values: dict[str, object] = {
        "kind": kind,
        "title": "数据资产安全管理制度（测试）",
        "body": "第一条　目标。\n第二条　原则。",
        "effective_on": today(),
        "review_months": 12,
        **overrides,
    }
    return service.PolicyText(**values)  # type: ignore[arg-type]


def events(db, policy_id: int, type_: str) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    rows = db.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type == "security_policies",
            AuditEvent.object_id == str(policy_id),
            AuditEvent.event_type == type_,
        )
    )
    return [json.loads(e.details) for e in rows]


def review_tasks(db, policy_id: int, status: str = "open") -> list[Task]:  # type: ignore[no-untyped-def]
    return list(
        db.scalars(
            select(Task).where(
                Task.subject_type == "security_policy",
                Task.subject_id == str(policy_id),
                Task.kind == "policy_review",
                Task.status == status,
            )
        )
    )


def test_add_months_clips_to_the_months_end() -> None:
    assert service.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert service.add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert service.add_months(date(2026, 6, 15), 36) == date(2029, 6, 15)


def test_department_admins_write_their_own_and_everyone_reads_the_bureaus_and_their_own(city, db) -> None:
    police = service.create_policy(db, actor=actor(db, "police_admin"), data=text())
    security = service.create_policy(
        db, actor=actor(db, "police_security"), data=text(PolicyKind.leak_prevention, title="数据防泄露规范")
    )
    bureau = service.create_policy(
        db, actor=actor(db, "bureau_admin"), data=text(PolicyKind.management, title="全市安全管理制度")
    )
    assert police.org_id == security.org_id == org(db, "police").id
    assert bureau.org_id == org(db, "bureau").id
    assert police.next_review_on == service.add_months(today(), 12) and police.version == 1
    assert events(db, police.id, "policy.created")[0]["kind"] == "asset_rules"

    for username in ("police_user", "police_compiler", "police_supervisor", "police_approver"):
        reader = actor(db, username)
        assert service.get_policy(db, actor=reader, policy_id=police.id).id == police.id
        assert service.get_policy(db, actor=reader, policy_id=bureau.id).id == bureau.id
        listed = {p.id for p in service.list_policies(db, actor=reader, params=ALL)[0]}
        assert {police.id, security.id, bureau.id} <= listed
    for username in ("bureau_admin", "bureau_auditor", "bureau_reviewer"):  # the Bureau supervises
        reader = actor(db, username)
        assert service.get_policy(db, actor=reader, policy_id=police.id).id == police.id
        assert police.id in {p.id for p in service.list_policies(db, actor=reader, params=ALL)[0]}
    for username in ("health_user", "health_admin"):
        outsider = actor(db, username)
        with pytest.raises(NotFound):
            service.get_policy(db, actor=outsider, policy_id=police.id)
        listed = {p.id for p in service.list_policies(db, actor=outsider, params=ALL)[0]}
        assert police.id not in listed and bureau.id in listed
    with pytest.raises(NotFound):  # another department's policy does not exist for its admins either
        service.review_policy(db, actor=actor(db, "health_admin"), policy_id=police.id, version=1)
    for username, policy_id in (("police_admin", bureau.id), ("bureau_admin", police.id)):
        with pytest.raises((Forbidden, NotFound)):
            service.review_policy(db, actor=actor(db, username), policy_id=policy_id, version=1)
    with pytest.raises(Forbidden):  # a reader of its own department cannot write
        service.review_policy(db, actor=actor(db, "police_user"), policy_id=police.id, version=1)
    with pytest.raises(Forbidden):
        service.create_policy(db, actor=actor(db, "police_user"), data=text())


def test_the_bureau_admin_reads_but_cannot_change_a_departments_policy_and_403_for_other_roles(
    city, db
) -> None:
    police = service.create_policy(db, actor=actor(db, "police_admin"), data=text())
    assert service.get_policy(db, actor=actor(db, "bureau_admin"), policy_id=police.id).id == police.id
    with pytest.raises(Forbidden):
        service.retire_policy(db, actor=actor(db, "bureau_admin"), policy_id=police.id, version=1, reason="x")
    bureau = service.create_policy(db, actor=actor(db, "bureau_admin"), data=text(PolicyKind.strategy))
    with pytest.raises(Forbidden):
        service.retire_policy(
            db, actor=actor(db, "bureau_auditor"), policy_id=bureau.id, version=1, reason="x"
        )
    with pytest.raises(Forbidden):
        service.retire_policy(db, actor=actor(db, "police_admin"), policy_id=bureau.id, version=1, reason="x")


def test_only_the_bureau_formulates_the_citywide_strategy_and_bad_input_names_the_field(city, db) -> None:
    admin = actor(db, "police_admin")
    with pytest.raises(Invalid) as refused:
        service.create_policy(db, actor=admin, data=text(PolicyKind.strategy))
    assert refused.value.details == {"field": "kind"}
    for overrides, field in (
        ({"title": "  "}, "title"),
        ({"body": ""}, "body"),
        ({"body": "字" * 20_001}, "body"),
        ({"review_months": 0}, "review_months"),
        ({"review_months": 37}, "review_months"),
    ):
        with pytest.raises(Invalid) as refused:
            service.create_policy(db, actor=admin, data=text(**overrides))
        assert refused.value.details == {"field": field}, overrides
    kept = service.create_policy(
        db, actor=admin, data=text(body="  第一段\r\n\r\n第二段  ", review_months=36)
    )
    assert kept.body == "第一段\n\n第二段"


def test_revising_keeps_every_version_and_a_stale_edit_conflicts(city, db) -> None:
    admin = actor(db, "police_admin")
    policy = service.create_policy(
        db, actor=admin, data=text(body="旧文本", effective_on=today() - timedelta(days=400))
    )
    service.revise_policy(
        db,
        actor=actor(db, "police_security"),
        policy_id=policy.id,
        version=1,
        data=text(None, body="新文本", review_months=6),
        change_note="按新规定修订",
    )
    assert policy.version == 2 and policy.body == "新文本"
    assert policy.next_review_on == service.add_months(today(), 6)
    history = service.versions(db, actor=actor(db, "police_user"), policy_id=policy.id)
    assert [(v.version, v.body, v.change_note) for v in history] == [
        (2, "新文本", "按新规定修订"),
        (1, "旧文本", "首次发布"),
    ]
    assert service.get_version(db, actor=admin, policy_id=policy.id, version=1).body == "旧文本"
    assert events(db, policy.id, "policy.revised")[0]["version"] == 2

    with pytest.raises(Conflict) as stale:
        service.revise_policy(
            db,
            actor=admin,
            policy_id=policy.id,
            version=1,
            data=text(None, body="迟到的修改"),
            change_note="x",
        )
    assert stale.value.status == 409 and stale.value.details == {"current_version": 2}
    with pytest.raises(Invalid):
        service.revise_policy(
            db, actor=admin, policy_id=policy.id, version=2, data=text(None), change_note=" "
        )
    assert policy.body == "新文本" and len(service.versions(db, actor=admin, policy_id=policy.id)) == 2


def test_retiring_needs_a_reason_and_ends_changes_and_reminders(city, db) -> None:
    admin = actor(db, "police_admin")
    policy = service.create_policy(db, actor=admin, data=text(effective_on=today() - timedelta(days=800)))
    assert service.remind_due_reviews(db) >= 1 and len(review_tasks(db, policy.id)) == 1
    with pytest.raises(Invalid):
        service.retire_policy(db, actor=admin, policy_id=policy.id, version=1, reason="  ")
    service.retire_policy(db, actor=admin, policy_id=policy.id, version=1, reason="已被新制度替代")
    assert policy.status == PolicyStatus.retired.value and policy.retire_reason == "已被新制度替代"
    assert review_tasks(db, policy.id) == [] and len(review_tasks(db, policy.id, "done")) == 1
    assert events(db, policy.id, "policy.retired")[0]["reason"] == "已被新制度替代"
    with pytest.raises(Conflict):
        service.review_policy(db, actor=admin, policy_id=policy.id, version=1)
    service.remind_due_reviews(db, today=today() + timedelta(days=3650))
    assert review_tasks(db, policy.id) == []  # retired: never reminded again
    assert service.get_policy(db, actor=actor(db, "police_user"), policy_id=policy.id).status == "retired"


def test_a_due_review_is_reminded_once_and_reviewing_resets_it(city, db) -> None:
    admin = actor(db, "police_admin")
    policy = service.create_policy(db, actor=admin, data=text(effective_on=today() - timedelta(days=400)))
    due = policy.next_review_on
    assert due < today() and service.is_overdue(policy)

    service.remind_due_reviews(db)
    service.remind_due_reviews(db)  # the next day's run: still the same due date
    [task] = review_tasks(db, policy.id)
    assert task.assignee_role == "data_admin" and task.org_id == policy.org_id
    assert task.link == f"/policies/{policy.id}"
    assert [e["due_on"] for e in events(db, policy.id, "policy.review_due")] == [str(due)]

    service.review_policy(db, actor=admin, policy_id=policy.id, version=1, note="经审核，无需修改")
    assert policy.next_review_on == service.add_months(today(), 12) and policy.version == 1
    assert policy.last_reviewed_on == today() and not service.is_overdue(policy)
    assert review_tasks(db, policy.id) == []
    assert events(db, policy.id, "policy.reviewed")[0]["note"] == "经审核，无需修改"
    service.remind_due_reviews(db)
    assert review_tasks(db, policy.id) == []  # not due any more

    # A year later the new date passes: one new reminder for the new due date.
    service.remind_due_reviews(db, today=policy.next_review_on + timedelta(days=1))
    assert len(review_tasks(db, policy.id)) == 1


def test_the_bureaus_reminders_go_to_its_administrators(city, db) -> None:
    bureau = service.create_policy(
        db,
        actor=actor(db, "bureau_admin"),
        data=text(PolicyKind.principles, effective_on=today() - timedelta(days=100), review_months=1),
    )
    service.remind_due_reviews(db)
    [task] = review_tasks(db, bureau.id)
    assert task.assignee_role == "bureau_admin" and task.org_id == org(db, "bureau").id


def test_the_demo_shows_an_overdue_police_policy(city, db) -> None:
    overdue = [
        p
        for p in db.scalars(select(SecurityPolicy).where(SecurityPolicy.org_id == org(db, "police").id))
        if service.is_overdue(p)
    ]
    assert [p.kind for p in overdue] == ["asset_rules"]
