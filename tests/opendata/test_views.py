"""The portal's pages for anyone, the Bureau's inbox and its choice of masking profile, and the demo
city's open data."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit.models import AuditEvent
from govshare.errors import Forbidden, Invalid
from govshare.masking import service as masking
from govshare.masking.profiles import builtin
from govshare.masking.schemas import ProfileIn
from govshare.opendata import service
from govshare.opendata.models import OpenApplication
from tests.helpers import actor
from tests.opendata.helpers import CLOSED, ENTERPRISES, EQUIPMENT, loaded, resource
from tests.ui import browser


def test_home_search_and_pages_for_anyone_without_a_sidebar(client, db: Session, city) -> None:
    home = client.get("/open")
    assert home.status_code == 200 and 'class="sidebar"' not in home.text
    assert 'href="/open/reports"' in home.text and "石家庄市市场监督管理局" in home.text
    overview = service.overview(db)
    assert overview.total == overview.open + overview.conditional and overview.conditional >= 1
    results = client.get("/open/resources", params={"q": "登记"})
    assert results.status_code == 200 and ENTERPRISES in results.text and CLOSED not in results.text
    market = resource(db, ENTERPRISES).org_id
    by_org = client.get("/open/resources", params={"org": str(market), "page_size": "2"})
    assert by_org.text.count('data-testid="open-row"') == 2 and "下一页" in by_org.text
    assert client.get(f"/open/resources/{resource(db, CLOSED).id}").status_code == 404
    empty = client.get("/open/resources", params={"q": "<script>alert(1)</script>"})
    assert empty.status_code == 200 and "<script>alert(1)</script>" not in empty.text


def test_the_resource_page_previews_masked_rows_and_a_conditional_one_offers_the_form(
    client, db, city
) -> None:
    entry, rows = loaded(client, db, n=6)
    page = client.get(f"/open/resources/{entry.id}")
    assert page.status_code == 200 and 'data-testid="open-preview"' in page.text
    assert not any(r["legal_representative"] in page.text for r in rows)
    assert "download.csv" in page.text and 'data-testid="apply-form"' not in page.text
    previews = db.scalars(select(AuditEvent).where(AuditEvent.event_type == "open.data_delivered")).all()
    assert [json.loads(e.details)["channel"] for e in previews] == ["preview"]
    conditional = client.get(f"/open/resources/{resource(db, EQUIPMENT).id}")
    assert (
        'data-testid="apply-form"' in conditional.text
        and 'data-testid="open-preview"' not in conditional.text
    )
    assert 'value="location"' not in conditional.text  # an L2 item is never offered


def test_the_bureau_chooses_the_masking_profile_but_never_one_that_opens_people_in_clear(
    app, db, city
) -> None:
    admin = actor(db, "bureau_admin")
    with pytest.raises(Invalid, match="原样提供"):
        service.set_masking_profile(db, actor=admin, code="strict")  # L1 names as they are
    with pytest.raises(Invalid, match="找不到"):
        service.set_masking_profile(db, actor=admin, code="no-such")
    opened = builtin("open")
    assert opened is not None
    levels = {**opened.levels, "L1": {**opened.levels["L1"], "address": "nullify", "other": "nullify"}}
    masking.save_profile(
        db, actor=admin, code="open-min", data=ProfileIn(name="开放数据最小化", levels=levels, elements={})
    )
    with pytest.raises(Forbidden):
        service.set_masking_profile(db, actor=actor(db, "bureau_reviewer"), code="strict")
    assert service.masking_profile(db) == "open"
    bureau = browser(app, "bureau_admin")
    assert 'data-testid="open-settings"' in bureau.get("/open-applications").text
    refused = bureau.post("/open-applications/settings", {"profile": "standard"})
    assert refused.status_code == 422 and "原样提供" in refused.text
    saved = bureau.post("/open-applications/settings", {"profile": "open-min"})
    assert saved.status_code == 303 and service.masking_profile(db) == "open-min"
    assert service.get(db, resource_id=resource(db, ENTERPRISES).id).masking()["address"] == "置空"
    changed = db.scalars(select(AuditEvent).where(AuditEvent.event_type == "open.settings_changed")).all()
    assert [json.loads(e.details) for e in changed] == [{"before": "open", "after": "open-min"}]
    reviewer = browser(app, "bureau_reviewer")
    assert 'data-testid="open-settings"' not in reviewer.get("/open-applications").text
    assert browser(app, "market_admin").get("/open-applications").status_code == 403


def test_the_demo_city_has_a_conditional_resource_with_an_approved_and_a_pending_application(
    db, city
) -> None:
    shown = service.get(db, resource_id=resource(db, EQUIPMENT).id)
    assert shown.open_type == "conditional" and shown.version.open_condition
    found = db.scalars(select(OpenApplication).order_by(OpenApplication.id)).all()
    assert [a.status for a in found] == ["approved", "pending"]
    assert found[0].approved_items == ["licence_no", "credit_code", "issued_on"] and found[0].valid_until
