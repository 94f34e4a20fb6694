"""The catalog rules and workflow, through the services (M9–M12, M14, M15, M20)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.catalog import elements, service
from govshare.catalog.models import DataElement, ElementConflict, Resource, ResourceVersion
from govshare.catalog.schemas import ConflictDecision, Item, ResourceUpdate, ReviewDecision, SecrecyReview
from govshare.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.workdays import today
from tests.catalog.conftest import SECRECY, approve, department_class, entry, published, submit
from tests.helpers import actor, org

LAW = "《中华人民共和国个人信息保护法》第三十四条"


def _refusal(db, **overrides) -> Invalid:  # type: ignore[no-untyped-def]
    with pytest.raises(Invalid) as caught:
        service.create_resource(db, actor=actor(db, "civil_admin"), data=entry(db, **overrides))
    return caught.value


def _update(db, resource: Resource, username: str = "civil_admin", **overrides) -> Resource:  # type: ignore[no-untyped-def]
    db.refresh(resource)
    reason = overrides.pop("change_reason", None)
    data = entry(db, "civil", **overrides).model_dump()
    return service.update_resource(
        db,
        actor=actor(db, username),
        resource_id=resource.id,
        data=ResourceUpdate(**data, lock_version=resource.lock_version, change_reason=reason),
    )


# --- rules on save -------------------------------------------------------------------------------


def test_base_resources_can_only_be_shared_unconditionally(db, city) -> None:
    police = actor(db, "police_admin")
    data = entry(
        db, "police", category="101", sharing_type="conditional", legal_basis=LAW, sharing_condition="x"
    )
    with pytest.raises(Invalid) as caught:
        service.create_resource(db, actor=police, data=data)
    assert caught.value.details == {"field": "sharing_type"}
    assert "基础信息资源" in caught.value.message and "第十五条第三项" in caught.value.message


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sharing_type": "conditional", "sharing_condition": "仅限救助"}, "legal_basis"),
        (
            {"sharing_type": "conditional", "sharing_condition": "仅限救助", "legal_basis": "个人信息保护法"},
            "legal_basis",
        ),
        ({"sharing_type": "conditional", "legal_basis": LAW}, "sharing_condition"),
        ({"sharing_type": "not_shared", "legal_basis": LAW}, "not_shared_reason"),
        (
            {
                "sharing_type": "not_shared",
                "legal_basis": LAW,
                "not_shared_reason": "涉及隐私",
                "open_type": "open",
            },
            "open_type",
        ),
        ({"open_type": "conditional"}, "open_condition"),
    ],
)
def test_sharing_attributes_need_their_basis(db, city, overrides, field) -> None:
    assert _refusal(db, **overrides).details == {"field": field}


def test_a_conditional_entry_with_its_basis_is_saved_as_a_draft(db, city, civil_admin) -> None:
    data = entry(
        db,
        sharing_type="conditional",
        sharing_condition="仅限履行社会救助职责使用",
        legal_basis=LAW,
        legal_basis_kind="law",
    )
    resource = service.create_resource(db, actor=civil_admin, data=data)
    version = service.shown_version(db, resource)
    assert (resource.status, resource.sharing_type, version.legal_basis) == ("draft", "conditional", LAW)
    assert resource.code.startswith(department_class(db, "civil") + "/")


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([Item(name="a", title="甲", data_type="C", length=2)], "业务主键"),
        ([], "至少要有一个信息项"),
        ([Item(name="a", title="甲", data_type="C", is_key=True)], "必须填写长度"),
        (
            [
                Item(name="a", title="甲", data_type="I", is_key=True),
                Item(name="a", title="乙", data_type="I"),
            ],
            "重复",
        ),
        ([Item(name="a", title="甲", data_type="I", is_key=True, element="NOPE")], "不存在"),
        ([Item(name="a", title="甲", data_type="I", is_key=True, authoritative=True)], "没有关联数据元"),
    ],
)
def test_items_are_checked(db, city, items, message) -> None:
    refusal = _refusal(db, items=items)
    assert refusal.details == {"field": "items"} and message in refusal.message


def test_a_file_resource_may_have_no_items(db, city, civil_admin) -> None:
    resource = service.create_resource(
        db, actor=civil_admin, data=entry(db, items=[], provision_method="file", format="electronic_file")
    )
    assert resource.provision_method == "file"


def test_only_the_lead_department_compiles_a_base_or_theme_sub_class(db, city) -> None:
    refusal = _refusal(db, category="101")  # 人口 is led by the police
    assert refusal.details == {"field": "category"} and "石家庄市公安局" in refusal.message
    refusal = _refusal(db, category=department_class(db, "police"))
    assert "部门信息资源" in refusal.message
    assert _refusal(db, category="1").details == {"field": "category"}  # a class, not a sub-class
    assert _refusal(db, category="999").details == {"field": "category"}


def test_codes_follow_the_sub_class_and_are_never_reused(db, city, civil_admin) -> None:
    first = service.create_resource(db, actor=civil_admin, data=entry(db))
    service.discard(db, actor=civil_admin, resource_id=first.id)
    second = service.create_resource(db, actor=civil_admin, data=entry(db))
    prefix, seq = first.code.split("/")
    assert second.code == f"{prefix}/{int(seq) + 1:06d}"
    assert first.status == "retired"  # a discarded never-published draft keeps its code


def test_people_without_the_compile_permission_are_refused(db, city) -> None:
    for username in ("civil_user", "civil_approver", "bureau_reviewer", "civil_security"):
        with pytest.raises(Forbidden):
            service.create_resource(db, actor=actor(db, username), data=entry(db))


# --- workflow ------------------------------------------------------------------------------------


def test_compile_secrecy_submit_return_fix_and_approve(db, city, civil_admin) -> None:
    resource = service.create_resource(db, actor=civil_admin, data=entry(db))
    with pytest.raises(Invalid) as caught:
        service.submit(db, actor=civil_admin, resource_id=resource.id)
    assert "保密审查" in caught.value.message and "第二十条" in caught.value.message

    submit(db, resource.id)
    assert resource.status == "submitted"
    with pytest.raises(Conflict):  # under review: no edits
        _update(db, resource, summary="改一下摘要内容。")

    reviewer = actor(db, "bureau_reviewer")
    with pytest.raises(Invalid):  # a return says why
        service.review(db, actor=reviewer, resource_id=resource.id, data=ReviewDecision(decision="return"))
    service.review(
        db,
        actor=reviewer,
        resource_id=resource.id,
        data=ReviewDecision(
            decision="return", field_comments={"summary": "请写明数据来源系统。", "name": " "}
        ),
    )
    version = service.shown_version(db, resource)
    assert (resource.status, version.state, version.field_comments) == (
        "returned",
        "returned",
        {"summary": "请写明数据来源系统。"},
    )

    _update(db, resource, summary="社区工作人员走访困难群众的记录，来源：社会救助信息系统。")
    version = service.shown_version(db, resource)
    assert (resource.status, version.state, version.secrecy_conclusion) == ("draft", "draft", None)
    with pytest.raises(Invalid):  # the 保密审查 covered the old content
        service.submit(db, actor=civil_admin, resource_id=resource.id)
    submit(db, resource.id)
    approve(db, resource.id)

    assert (resource.status, resource.version_number, resource.working_version_id) == ("published", 1, None)
    assert resource.published_at is not None
    events = db.scalars(
        select(AuditEvent.event_type)
        .where(AuditEvent.object_type == "resources", AuditEvent.object_id == str(resource.id))
        .order_by(AuditEvent.seq)
    ).all()
    assert events == [
        "catalog.created",
        "catalog.secrecy_recorded",
        "catalog.submitted",
        "catalog.returned",
        "catalog.updated",
        "catalog.secrecy_recorded",
        "catalog.submitted",
        "catalog.approved",
    ]


def test_a_failed_confidentiality_review_blocks_submission(db, city, civil_admin) -> None:
    resource = service.create_resource(db, actor=civil_admin, data=entry(db))
    failed = SecrecyReview.model_validate({**SECRECY.model_dump(), "conclusion": "failed"})
    service.record_secrecy(db, actor=actor(db, "civil_security"), resource_id=resource.id, data=failed)
    with pytest.raises(Invalid) as caught:
        service.submit(db, actor=civil_admin, resource_id=resource.id)
    assert "涉及国家秘密" in caught.value.message


def test_secrecy_review_dates_cannot_be_in_the_future(db, city) -> None:
    resource = service.create_resource(db, actor=actor(db, "civil_admin"), data=entry(db))
    later = SecrecyReview.model_validate({**SECRECY.model_dump(), "reviewed_on": today() + timedelta(days=1)})
    with pytest.raises(Invalid):
        service.record_secrecy(db, actor=actor(db, "civil_security"), resource_id=resource.id, data=later)
    with pytest.raises(Forbidden):  # a compiler does not record the department's 保密审查
        service.record_secrecy(db, actor=actor(db, "civil_compiler"), resource_id=resource.id, data=SECRECY)


def test_a_change_is_reviewed_while_the_published_version_stays_visible(db, city) -> None:
    resource = published(db)
    with pytest.raises(Invalid) as caught:
        _update(db, resource, name="困难群众走访信息")
    assert caught.value.details == {"field": "change_reason"}

    _update(db, resource, name="困难群众走访信息", change_reason="机构改革后职责调整")
    other = actor(db, "police_user")
    seen = service.get_resource(db, actor=other, resource_id=resource.id)
    assert seen.name == "困难群众走访记录" and seen.status == "published"
    assert service.working_version(db, actor=other, resource=seen) is None
    assert [v.number for v in service.list_versions(db, actor=other, resource_id=resource.id)] == [1]
    with pytest.raises(NotFound):
        service.get_version(db, actor=other, resource_id=resource.id, number=2)

    submit(db, resource.id)
    approve(db, resource.id)
    assert (resource.name, resource.version_number) == ("困难群众走访信息", 2)
    states = [(v.number, v.state) for v in service.list_versions(db, actor=other, resource_id=resource.id)]
    assert states == [(2, "published"), (1, "superseded")]
    changes = service.diff_versions(db, actor=other, resource_id=resource.id, a=1, b=2)
    assert [(c.field, c.before, c.after) for c in changes] == [
        ("name", "困难群众走访记录", "困难群众走访信息")
    ]


def test_diff_names_added_removed_and_changed_items(db, city) -> None:
    before = entry(db).model_dump(mode="json")
    after = {
        **before,
        "items": [
            {**before["items"][0], "length": 30},
            before["items"][2],
            {"name": "visitor", "title": "走访人", "data_type": "C", "length": 20},
        ],
    }
    changes = {c.field: (c.before, c.after) for c in service.diff(before, after)}
    assert changes["items.visit_no.length"] == (20, 30)
    assert changes["items.visited_on"][1] is None
    assert changes["items.visitor"][0] is None
    assert "信息项 走访人（新增）" in [c.label for c in service.diff(before, after)]


def test_diff_names_a_query_item_and_reads_items_saved_before_it_as_not_queryable(db, city) -> None:
    before = entry(db).model_dump(mode="json")
    after = {**before, "items": [{**before["items"][0], "queryable": True}, *before["items"][1:]]}
    assert [(c.field, c.label, c.before, c.after) for c in service.diff(before, after)] == [
        ("items.visit_no.queryable", "信息项 走访编号：查询项", False, True)
    ]

    # Versions stored before the attribute existed have items without the key: not a change.
    stored = {**before, "items": [{k: v for k, v in i.items() if k != "queryable"} for i in before["items"]]}
    assert service.diff(stored, before) == [] and service.diff(before, stored) == []
    assert [c.field for c in service.diff(stored, after)] == ["items.visit_no.queryable"]


def test_edits_based_on_an_old_version_conflict(db, city, civil_admin) -> None:
    resource = service.create_resource(db, actor=civil_admin, data=entry(db))
    stale = resource.lock_version
    _update(db, resource, summary="第一次修改后的摘要。")
    data = ResourceUpdate(**{**entry(db).model_dump(), "lock_version": stale})
    with pytest.raises(Conflict) as caught:
        service.update_resource(db, actor=civil_admin, resource_id=resource.id, data=data)
    assert caught.value.details == {"current_version": resource.lock_version}


def test_retirement_is_reviewed_and_a_refusal_leaves_the_entry_published(db, city, civil_admin) -> None:
    resource = published(db)
    reviewer = actor(db, "bureau_reviewer")
    service.retire(db, actor=civil_admin, resource_id=resource.id, reason="业务已停办，数据不再更新。")
    assert resource.status == "published"
    service.review(
        db,
        actor=reviewer,
        resource_id=resource.id,
        data=ReviewDecision(decision="return", comment="其他部门仍在使用，暂不撤销。"),
    )
    assert (resource.status, resource.working_version_id) == ("published", None)

    service.retire(db, actor=civil_admin, resource_id=resource.id, reason="业务已停办，数据不再更新。")
    service.review(db, actor=reviewer, resource_id=resource.id, data=ReviewDecision(decision="approve"))
    assert resource.status == "retired"
    with pytest.raises(Invalid):
        _update(db, resource, summary="撤销后不能再改。", change_reason="试图修改")


def test_departments_see_their_own_drafts_and_only_published_entries_of_others(db, city) -> None:
    draft = service.create_resource(db, actor=actor(db, "civil_admin"), data=entry(db))
    for username in ("civil_compiler", "civil_security", "bureau_reviewer", "bureau_auditor"):
        assert service.get_resource(db, actor=actor(db, username), resource_id=draft.id) is draft
    for username in ("police_admin", "civil_user"):  # another department; a business user of its own
        with pytest.raises(NotFound):
            service.get_resource(db, actor=actor(db, username), resource_id=draft.id)
    mine = published(db)
    with pytest.raises(Forbidden):  # visible, but not theirs to change
        _update(db, mine, username="police_admin", change_reason="越权修改")


def test_only_the_bureau_reviewer_reviews(db, city) -> None:
    resource = service.create_resource(db, actor=actor(db, "civil_admin"), data=entry(db))
    submit(db, resource.id)
    for username in ("bureau_admin", "civil_admin", "bureau_auditor"):
        with pytest.raises(Forbidden):
            service.review(
                db,
                actor=actor(db, username),
                resource_id=resource.id,
                data=ReviewDecision(decision="approve"),
            )


def test_review_queue_counts_age_in_working_days(db, city) -> None:
    queue = service.review_queue(db, actor=actor(db, "bureau_reviewer"), today=date(2026, 12, 31))
    entry_ = next(e for e in queue if e.version.name == "流动人口居住登记信息")
    assert entry_.provider == "石家庄市公安局" and entry_.age_days >= 20 and not entry_.age_provisional
    later = service.review_queue(db, actor=actor(db, "bureau_reviewer"), today=date(2027, 1, 8))
    assert next(e for e in later if e.version.name == "流动人口居住登记信息").age_provisional


# --- one data, one source ------------------------------------------------------------------------


def _claiming(db, element: str = "DE0001"):  # type: ignore[no-untyped-def]
    items = [
        Item(
            name="id_number",
            title="公民身份号码",
            data_type="C",
            length=18,
            is_key=True,
            element=element,
            authoritative=True,
        )
    ]
    resource = service.create_resource(db, actor=actor(db, "civil_admin"), data=entry(db, items=items))
    submit(db, resource.id)
    return resource


def test_a_claim_on_an_element_owned_elsewhere_is_a_conflict_the_bureau_resolves(db, city) -> None:
    resource = _claiming(db)
    conflict = db.scalar(select(ElementConflict).where(ElementConflict.resource_id == resource.id))
    assert conflict is not None and conflict.status == "open"
    assert (conflict.claimant_org_id, conflict.owner_org_id) == (org(db, "civil").id, org(db, "police").id)
    with pytest.raises(Conflict):
        approve(db, resource.id)

    reviewer = actor(db, "bureau_reviewer")
    elements.resolve(
        db,
        actor=reviewer,
        conflict_id=conflict.id,
        data=ConflictDecision(resolution="keep", comment="公民身份号码以公安为准。"),
    )
    with pytest.raises(Invalid) as caught:  # the claim still stands in the submitted version
        approve(db, resource.id)
    assert "石家庄市公安局" in caught.value.message
    with pytest.raises(Conflict):
        elements.resolve(
            db,
            actor=reviewer,
            conflict_id=conflict.id,
            data=ConflictDecision(resolution="transfer", comment="再次处理"),
        )


def test_transferring_the_element_lets_the_claimant_publish(db, city) -> None:
    resource = _claiming(db)
    conflict = db.scalar(select(ElementConflict).where(ElementConflict.resource_id == resource.id))
    assert conflict is not None
    elements.resolve(
        db,
        actor=actor(db, "bureau_admin"),
        conflict_id=conflict.id,
        data=ConflictDecision(resolution="transfer", comment="职责调整，改由民政局采集。"),
    )
    approve(db, resource.id)
    element = db.scalar(select(DataElement).where(DataElement.code == "DE0001"))
    assert element is not None and element.source_org_id == org(db, "civil").id
    with pytest.raises(Forbidden):
        elements.resolve(
            db,
            actor=actor(db, "civil_admin"),
            conflict_id=conflict.id,
            data=ConflictDecision(resolution="keep", comment="无权处理"),
        )


def test_an_unowned_element_is_owned_by_the_first_approved_claim(db, city) -> None:
    resource = _claiming(db, element="DE0006")  # 手机号码 has no source yet
    assert db.scalar(select(ElementConflict).where(ElementConflict.resource_id == resource.id)) is None
    approve(db, resource.id)
    element = db.scalar(select(DataElement).where(DataElement.code == "DE0006"))
    assert element is not None and element.source_org_id == org(db, "civil").id


def test_versions_keep_their_items_as_compiled(db, city) -> None:
    resource = published(db)
    first = db.scalar(select(ResourceVersion).where(ResourceVersion.resource_id == resource.id))
    assert first is not None
    assert [i["name"] for i in first.items] == ["visit_no", "visited_on", "note"]
    assert first.items[0] == {
        "name": "visit_no",
        "title": "走访编号",
        "data_type": "C",
        "length": 20,
        "is_key": True,
        "queryable": False,
        "sensitivity": "L1",
        "importance": "general",
        "element": None,
        "authoritative": False,
        "description": None,
    }
