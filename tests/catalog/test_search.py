"""Chinese catalog search, filters and facets, supervision figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from govshare.catalog import service, supervision
from govshare.catalog.models import Resource
from govshare.catalog.search import Filters, search
from govshare.catalog.vocab import ClassKind, SharingType
from govshare.db import utcnow
from govshare.pagination import PageParams
from tests.catalog.conftest import entry, published
from tests.conftest import settings_override
from tests.helpers import actor, org

PAGE = PageParams(page=1, page_size=100)


def _names(db, username: str = "civil_user", **filters) -> list[str]:  # type: ignore[no-untyped-def]
    result = search(db, actor=actor(db, username), filters=Filters(**filters), params=PAGE, facets=False)
    return [r.name for r in result.rows]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("人口", "人口基础信息"),  # two characters: no trigram, found by scan
        ("税", None),
        ("机动车登记", "机动车登记信息"),  # five characters: the trigram index
        ("号牌号码", "机动车登记信息"),  # an item title
        ("公安局 驾驶", "驾驶人信息"),  # several terms: all must match (provider name included)
        ("101/000001", "人口基础信息"),  # the code
    ],
)
def test_chinese_terms_of_any_length_are_found(db, city, q, expected) -> None:
    names = _names(db, q=q)
    if expected is None:
        assert names == []
    else:
        assert expected in names


def test_terms_must_all_match_and_the_name_ranks_first(db, city) -> None:
    names = _names(db, q="企业")
    in_name = [n for n in names if "企业" in n]
    assert in_name and names[: len(in_name)] == in_name  # name matches before summary/item matches
    assert "社会保险参保信息" in names[len(in_name) :]  # its summary mentions 企业职工
    assert _names(db, q="公民身份号码 不动产单元") == ["不动产登记信息"]
    assert _names(db, q="公民身份号码 价格") == []


@pytest.mark.parametrize(
    "q", ["' OR 1=1 --", '"', '人口"基础', "%", "_", "人口 OR 企业", "NEAR(人口)", "*", "\\"]
)
def test_search_syntax_and_injection_strings_are_plain_text(db, city, q) -> None:
    names = _names(db, q=q)
    assert "企业登记信息" not in names  # nothing matched through operators or wildcards


def test_other_departments_drafts_and_changes_are_not_searchable(db, city) -> None:
    service.create_resource(db, actor=actor(db, "civil_admin"), data=entry(db, name="民政专用的草稿目录"))
    assert _names(db, "civil_compiler", q="专用的草稿") == ["民政专用的草稿目录"]
    assert _names(db, "police_admin", q="专用的草稿") == []
    resource = published(db)
    from govshare.catalog.schemas import ResourceUpdate

    data = entry(db, name="困难群众走访台账").model_dump()
    db.refresh(resource)
    service.update_resource(
        db,
        actor=actor(db, "civil_admin"),
        resource_id=resource.id,
        data=ResourceUpdate(**data, lock_version=resource.lock_version, change_reason="更名"),
    )
    assert _names(db, "police_admin", q="走访台账") == []
    assert "困难群众走访记录" in _names(db, "police_admin", q="走访记录")


def test_filters_and_facet_counts(db, city) -> None:
    user = actor(db, "civil_user")
    result = search(db, actor=user, filters=Filters(class_kind=ClassKind.base), params=PAGE)
    assert result.total == len(result.rows) > 0
    assert {r.sharing_type for r in result.rows} == {"unconditional"}
    kinds = {value: count for value, _label, count in result.facets["class_kind"]}
    assert kinds["base"] == result.total and kinds["department"] > 0  # a facet ignores its own filter
    sharing = {value: count for value, _label, count in result.facets["sharing_type"]}
    assert sharing == {"unconditional": result.total}

    conditional = search(db, actor=user, filters=Filters(sharing_type=SharingType.conditional), params=PAGE)
    police = org(db, "police").id
    providers = {int(v): n for v, _l, n in conditional.facets["org_id"]}
    assert providers[police] == 2  # 机动车登记信息 and 驾驶人信息
    narrowed = search(
        db,
        actor=user,
        filters=Filters(sharing_type=SharingType.conditional, org_id=police),
        params=PAGE,
        facets=False,
    )
    assert sorted(r.name for r in narrowed.rows) == ["机动车登记信息", "驾驶人信息"]


def test_pages_do_not_overlap(db, city) -> None:
    user = actor(db, "civil_user")
    first = search(db, actor=user, filters=Filters(), params=PageParams(page=1, page_size=10), facets=False)
    second = search(db, actor=user, filters=Filters(), params=PageParams(page=2, page_size=10), facets=False)
    assert first.total == second.total >= 30
    assert not {r.id for r in first.rows} & {r.id for r in second.rows}


def test_supervision_shows_each_departments_catalog(db, city) -> None:
    rows = {r.name: r for r in supervision.department_catalogs(db, actor=actor(db, "bureau_admin"))}
    assert (
        rows["石家庄市桥西区人民政府"].no_catalog and "未编制目录" in rows["石家庄市桥西区人民政府"].problems
    )
    assert rows["石家庄市卫生健康委员会"].returned == 1
    assert rows["石家庄市公安局"].pending == 1 and rows["石家庄市公安局"].published == 5
    assert rows["石家庄市民政局"].drafts == 1
    assert rows["石家庄市交通运输局"].pending == 1 and rows["石家庄市交通运输局"].retired == 1
    assert "石家庄城市数字运营有限公司" not in rows  # enterprises compile no catalog
    first = next(iter(supervision.department_catalogs(db, actor=actor(db, "bureau_admin"))))
    assert first.problems  # worst first


def test_entries_not_reviewed_for_long_are_reported_stale(db, city) -> None:
    police = org(db, "police").id
    db.execute(
        update(Resource)
        .where(Resource.org_id == police, Resource.status == "published")
        .values(reviewed_at=utcnow() - timedelta(days=100))
    )
    with settings_override(catalog_stale_days=90):
        rows = {r.org_id: r for r in supervision.department_catalogs(db, actor=actor(db, "bureau_reviewer"))}
    assert rows[police].stale == 5 and "5 条长期未更新" in rows[police].problems
    rows = {r.org_id: r for r in supervision.department_catalogs(db, actor=actor(db, "bureau_reviewer"))}
    assert rows[police].stale == 0


def test_supervision_is_for_the_bureau(db, city) -> None:
    from govshare.errors import Forbidden

    with pytest.raises(Forbidden):
        supervision.department_catalogs(db, actor=actor(db, "police_admin"))
