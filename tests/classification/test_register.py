"""The data-asset register (S8): what each role sees, what a line says, filters, pages and the
audited CSV export."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import func, select

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from tests.classification.conftest import graded
from tests.helpers import login, org
from tests.sharing.test_rows import PEOPLE, loaded
from tests.ui import browser, texts

ASSETS = "/api/v1/assets"


def test_the_bureau_sees_every_resource_and_a_department_its_own(client, city, db) -> None:
    everything = db.scalar(select(func.count()).select_from(Resource))
    bureau = client.get(ASSETS, params={"page_size": 200}, headers=login(client, "bureau_reviewer")).json()
    assert bureau["total"] == everything and len(bureau["items"]) == everything
    police_id = org(db, "police").id
    own = client.get(ASSETS, params={"page_size": 200}, headers=login(client, "police_security")).json()
    police = db.scalar(select(func.count()).select_from(Resource).where(Resource.org_id == police_id))
    assert own["total"] == police and {a["owner"]["id"] for a in own["items"]} == {police_id}
    other = client.get(ASSETS, params={"org_id": org(db, "civil").id}, headers=login(client, "police_admin"))
    assert other.json()["total"] == 0
    for user in ("police_user", "police_compiler"):
        assert client.get(ASSETS, headers=login(client, user)).status_code == 403
    assert client.get(ASSETS).status_code == 401


def test_a_line_carries_level_owner_location_lifecycle_rows_and_last_update(client, city, db) -> None:
    population = loaded(client, db)
    graded(db)
    admin = login(client, "bureau_admin")
    lines = {
        a["name"]: a for a in client.get(ASSETS, params={"page_size": 200}, headers=admin).json()["items"]
    }
    people = lines["人口基础信息"]
    assert people["resource_id"] == population.id and people["owner"]["name"] == "石家庄市公安局"
    assert (people["importance"], people["sensitivity"], people["sensitivity_label"]) == (
        "general",
        "L3",
        "L3 敏感",
    )
    assert (people["location"], people["lifecycle"], people["rows"]) == ("store", "published", len(PEOPLE))
    assert people["last_update"] is not None
    assert not people["encryption_required"]
    visits = lines["困难群众走访记录"]
    assert (visits["importance"], visits["sensitivity"], visits["location"], visits["rows"]) == (
        "core",
        "L4",
        "external",
        None,
    )
    assert visits["encryption_required"]  # 核心数据 and L4 are to be encrypted at rest
    assert lines["临时救助对象信息"]["lifecycle"] == "draft"
    assert lines["出租汽车经营权信息（旧）"]["lifecycle"] == "retired"
    assert lines["重点商品价格监测信息"]["location"] in ("file", "external")


def test_filters_and_pages(client, city, db) -> None:
    admin = login(client, "bureau_admin")
    core = client.get(ASSETS, params={"importance": "core"}, headers=admin).json()
    assert [a["name"] for a in core["items"]] == ["出入境证件办理信息"]
    drafts = client.get(ASSETS, params={"lifecycle": "draft", "page_size": 200}, headers=admin).json()[
        "items"
    ]
    assert drafts and all(a["lifecycle"] == "draft" for a in drafts)
    files = client.get(ASSETS, params={"method": "file", "page_size": 200}, headers=admin).json()["items"]
    assert {a["name"] for a in files} >= {"重点商品价格监测信息"}
    named = client.get(ASSETS, params={"q": "人口"}, headers=admin).json()["items"]
    assert "人口基础信息" in [a["name"] for a in named]
    first = client.get(ASSETS, params={"page_size": 5}, headers=admin).json()
    second = client.get(ASSETS, params={"page_size": 5, "page": 2}, headers=admin).json()
    assert len(first["items"]) == 5 and not {a["resource_id"] for a in first["items"]} & {
        a["resource_id"] for a in second["items"]
    }
    assert client.get(ASSETS, params={"sensitivity": "L9"}, headers=admin).status_code == 422


def test_the_csv_export_is_audited_and_holds_what_the_exporter_sees(client, city, db) -> None:
    police = login(client, "police_admin")
    exported = client.get(f"{ASSETS}.csv", params={"sensitivity": "L3"}, headers=police)
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[0][:5] == ["信息资源代码", "信息资源名称", "所属部门", "重要程度", "敏感程度"]
    assert table[1:] and {row[2] for row in table[1:]} == {"石家庄市公安局"}
    assert {row[4] for row in table[1:]} == {"L3 敏感"}
    event = db.scalar(
        select(AuditEvent)
        .where(AuditEvent.event_type == "classification.register_exported")
        .order_by(AuditEvent.seq.desc())
    )
    assert event is not None
    assert json.loads(event.details) == {
        "format": "csv",
        "count": len(table) - 1,
        "filters": {"sensitivity": "L3"},
    }
    assert client.get(f"{ASSETS}.csv", headers=login(client, "police_user")).status_code == 403


def test_the_register_page_filters_and_links_the_csv(app, city, db) -> None:
    page = browser(app, "bureau_admin").get("/assets?importance=core")
    assert page.status_code == 200
    assert texts(page.text, "asset-importance") == ["核心数据"]
    assert 'href="/api/v1/assets.csv?importance=core"' in page.text
    assert browser(app, "civil_user").get("/assets").status_code == 403
