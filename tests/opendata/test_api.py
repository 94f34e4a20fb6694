"""The public open-data API: no token, the list contract, closed resources invisible, masked rows,
equality filters, keyset pages, audit of every delivery, the per-address rate limit (M1, M3, S23,
S26, S27)."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from govshare.audit.models import AuditEvent
from govshare.crypto import sm3_hex
from govshare.opendata.models import OpenRateCounter
from tests.conftest import settings_override
from tests.opendata.helpers import CLOSED, ENTERPRISES, EQUIPMENT, loaded, resource

API = "/api/v1/open/resources"


def test_the_list_answers_items_and_total_without_a_token_and_never_closed_resources(
    client, db, city
) -> None:
    response = client.get(API, params={"per_page": 100})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"items", "total"} and body["total"] == len(body["items"]) > 0
    names = {i["name"] for i in body["items"]}
    assert ENTERPRISES in names and EQUIPMENT in names and CLOSED not in names
    for item in body["items"]:
        assert {"id", "name", "provider"} <= set(item) and item["open_type"] in ("open", "conditional")
    enterprises = next(i for i in body["items"] if i["name"] == ENTERPRISES)
    assert enterprises["provider"] == "石家庄市市场监督管理局"


def test_search_finds_by_chinese_terms_and_survives_injection_strings(client, db, city) -> None:
    found = client.get(API, params={"q": "企业登记"}).json()
    assert [i["name"] for i in found["items"]] == [ENTERPRISES] and found["total"] == 1
    assert client.get(API, params={"q": "人口基础"}).json()["total"] == 0  # closed: not even found
    for evil in ("' OR 1=1 --", '"; DROP TABLE resources; --', "%", "_", "\\", "企业%' UNION SELECT 1 --"):
        response = client.get(API, params={"q": evil})
        assert response.status_code == 200 and response.json()["total"] == 0, evil
    assert db.scalar(select(func.count()).select_from(resource(db, ENTERPRISES).__table__)) > 0
    assert client.get(API, params={"q": "x" * 101}).status_code == 422


def test_metadata_of_an_open_resource_and_404_for_a_closed_one(client, db, city) -> None:
    entry = resource(db, ENTERPRISES)
    body = client.get(f"{API}/{entry.id}").json()
    assert body["name"] == ENTERPRISES and body["provider"] == "石家庄市市场监督管理局"
    items = {i["name"]: i for i in body["items"]}
    assert items["credit_code"]["open"] and items["legal_representative"]["masking"] != "原样提供"
    assert body["rows_url"] == f"{API}/{entry.id}/rows"
    closed = resource(db, CLOSED)
    for path in (f"{API}/{closed.id}", f"{API}/{closed.id}/rows", f"/open/resources/{closed.id}"):
        assert client.get(path).status_code == 404, path
    assert client.get(f"{API}/999999").status_code == 404


def test_rows_come_back_masked_paged_and_filtered_and_every_call_is_audited(client, db, city) -> None:
    entry, pushed = loaded(client, db, n=12)
    first = client.get(f"{API}/{entry.id}/rows", params={"limit": 5})
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["rows"]) == 5 and page["next_cursor"]
    representatives = {r["legal_representative"] for r in pushed}
    credit_codes = {r["credit_code"] for r in pushed}
    seen: list[dict] = list(page["rows"])
    cursor = page["next_cursor"]
    while cursor:
        more = client.get(f"{API}/{entry.id}/rows", params={"limit": 5, "cursor": cursor}).json()
        seen += more["rows"]
        cursor = more["next_cursor"]
    assert len(seen) == 12
    assert {r["credit_code"] for r in seen} == credit_codes  # opened as it is
    assert not representatives & {r["legal_representative"] for r in seen}  # people's names never in clear
    assert all(r["legal_representative"] for r in seen)
    # Equality filters on items opened as they are; none on masked items (no guessing oracle).
    one = sorted(credit_codes)[0]
    hit = client.get(f"{API}/{entry.id}/rows", params={"credit_code": one}).json()["rows"]
    assert [r["credit_code"] for r in hit] == [one]
    masked = client.get(f"{API}/{entry.id}/rows", params={"legal_representative": "张伟"})
    assert masked.status_code == 422 and "原样开放" in masked.json()["error"]["message"]
    assert client.get(f"{API}/{entry.id}/rows", params={"credit_code__gte": "9"}).status_code == 422
    assert client.get(f"{API}/{entry.id}/rows", params={"cursor": "forged"}).status_code == 422
    assert client.get(f"{API}/{entry.id}/rows", params={"limit": 1001}).status_code == 422
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.event_type == "open.data_delivered").order_by(AuditEvent.seq)
    ).all()
    assert len(events) == 4  # 3 pages and the filtered call; refused calls delivered nothing
    last = events[-1]
    assert last.actor_kind == "anonymous" and last.source_ip == "127.0.0.1"
    assert last.object_id == str(entry.id) and last.org_id == entry.org_id
    details = json.loads(last.details)
    assert details["rows"] == 1 and details["filters"] == {"credit_code": [one]}
    assert details["sm3"] == sm3_hex(json.dumps(hit, ensure_ascii=False, separators=(",", ":")).encode())
    assert details["masking_profile"] == "open"


def test_rows_of_a_conditional_resource_are_refused_with_a_hint_to_apply(client, db, city) -> None:
    entry, _ = loaded(client, db, EQUIPMENT, n=3)
    response = client.get(f"{API}/{entry.id}/rows")
    assert response.status_code == 403 and "申请" in response.json()["error"]["message"]


def test_csv_page_and_whole_downloads_are_masked(client, db, city) -> None:
    entry, pushed = loaded(client, db, n=7)
    names = {r["legal_representative"] for r in pushed}
    page = client.get(f"{API}/{entry.id}/rows", params={"format": "csv", "limit": 3})
    assert page.status_code == 200 and page.headers["x-next-cursor"]
    for path in (f"/open/resources/{entry.id}/download.csv", f"/open/resources/{entry.id}/download.json"):
        response = client.get(path)
        assert response.status_code == 200, response.text
        assert "attachment" in response.headers["content-disposition"]
        text = response.content.decode("utf-8-sig")
        assert not any(n in text for n in names)
        rows = list(csv.DictReader(io.StringIO(text))) if path.endswith(".csv") else json.loads(text)
        assert len(rows) == 7 and {r["credit_code"] for r in rows} == {r["credit_code"] for r in pushed}
    downloads = db.scalars(
        select(AuditEvent).where(AuditEvent.event_type == "open.data_delivered").order_by(AuditEvent.seq)
    ).all()[-2:]
    for event, fmt in zip(downloads, ("csv", "json"), strict=True):
        details = json.loads(event.details)
        assert details["channel"] == f"download.{fmt}" and details["rows"] == 7 and details["complete"]


def well_inside_a_minute(margin: float = 30.0) -> None:
    """Wait for the next minute when fewer than `margin` seconds are left in this one: the limit counts
    per clock minute, and calls straddling a minute boundary would be counted in two windows."""
    left = 60 - (time.time() % 60)
    if left < margin:
        time.sleep(left + 0.1)


def test_the_rate_limit_answers_429_per_address_and_resets_with_the_window(client, app, db, city) -> None:
    well_inside_a_minute()
    limit = 3
    entry = resource(db, ENTERPRISES)
    url = f"{API}/{entry.id}/rows"
    with settings_override(open_rate_limit_per_minute=limit):
        for _ in range(limit):
            assert client.get(url).status_code == 200
        refused = client.get(url)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "频繁" in refused.json()["error"]["message"]
        with TestClient(app, client=("10.9.8.7", 40000)) as other:
            assert other.get(url).status_code == 200  # another address has its own allowance
        # The next window: move the counted windows back a minute.
        for start in set(db.scalars(select(OpenRateCounter.window_start))):
            db.execute(
                update(OpenRateCounter)
                .where(OpenRateCounter.window_start == start)
                .values(window_start=start - timedelta(minutes=1))
            )
        assert client.get(url).status_code == 200


def test_the_default_limit_is_120_a_minute(client, db, city) -> None:
    entry = resource(db, ENTERPRISES)
    url = f"{API}/{entry.id}/rows"
    well_inside_a_minute()
    codes = [client.get(url, params={"limit": 1}).status_code for _ in range(121)]
    assert codes[:120] == [200] * 120 and codes[120] == 429


def test_an_item_that_is_not_openable_is_never_served_even_if_the_entry_slipped_through(
    client, db, city
) -> None:
    from govshare.catalog.models import ResourceVersion

    entry, pushed = loaded(client, db, n=3)
    version = db.get(ResourceVersion, entry.published_version_id)
    assert version is not None
    version.items = [
        {**i, "sensitivity": "L2"} if i["name"] == "enterprise_name" else i for i in version.items
    ]  # as if the scheme had changed after publication
    db.flush()
    meta = {i["name"]: i for i in client.get(f"{API}/{entry.id}").json()["items"]}
    assert meta["enterprise_name"]["open"] is False and meta["credit_code"]["open"] is True
    rows = client.get(f"{API}/{entry.id}/rows").json()["rows"]
    assert len(rows) == 3 and all("enterprise_name" not in r for r in rows)
    download = client.get(f"/open/resources/{entry.id}/download.csv").content.decode("utf-8-sig")
    assert not any(r["enterprise_name"] in download for r in pushed)
