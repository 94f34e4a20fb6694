"""Every way data leaves the platform applies the same controls (S22, S23, S25, S27): found by a
review that compared the delivery paths with each other. Each test pins one path that once forgot
a control the others apply."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from govshare.errors import Forbidden
from govshare.sharing.models import Grant
from govshare.sharing.service import check_levels
from tests.classification.conftest import set_level
from tests.exchange.test_services import call, licences, local, registered, upstream  # noqa: F401
from tests.helpers import login
from tests.opendata.helpers import loaded as open_loaded
from tests.sharing.test_requests import PURPOSE
from tests.sharing.test_rows import PEOPLE, granted, loaded, rows


def _report(client, headers, resource, **body):  # type: ignore[no-untyped-def]
    payload = {"purpose": PURPOSE, "kind": "wrong", "description": "该行数据有误", **body}
    return client.post(f"/api/v1/resources/{resource.id}/feedback", json=payload, headers=headers)


def test_feedback_keys_cannot_probe_an_ungranted_key_item(client, city, db) -> None:
    """S22/S25: a department may only look rows up by items its grant names. Feedback by business
    key must not be an oracle on an ID number the grant does not give (nor link it to a _row_id)."""
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["name", "region_code"])  # no id_number
    listed = rows(client, population, civil).json()["rows"]
    assert "id_number" not in listed[0]
    probe = _report(client, civil, population, keys={"id_number": PEOPLE[0]})
    # Today: 201 with the consumer's _row_id of the person with that clear ID number.
    assert probe.status_code in (403, 422), probe.text


def test_an_api_service_call_respects_the_level_controls_like_every_delivery(
    client,
    city,
    db,
    licences,  # noqa: F811 (fixtures of tests/exchange/test_services.py)
    upstream,  # noqa: F811
    local,  # noqa: F811
) -> None:
    """S13/S25: a grant is checked against the levels on every delivery (rows, files, exports,
    analysis all go through `grant_for_use`). A service call must be refused as well once the
    Bureau closes the level of the granted items."""
    registered(client, licences, upstream)
    police = login(client, "police_user")
    requested = client.post(
        "/api/v1/requests",
        json={
            "resource_id": licences.id,
            "items": ["licence_no"],
            "purpose": "道路运输许可核验",
            "basis": "《道路运输条例》第六十二条",
            "duration_days": 30,
        },
        headers=police,
    )
    assert requested.status_code == 201, requested.text
    if requested.json()["status"] == "pending":
        decided = client.post(
            f"/api/v1/requests/{requested.json()['id']}/decision",
            json={"decision": "approve", "reason": "同意"},
            headers=login(client, "transport_approver"),
        )
        assert decided.status_code == 200, decided.text
    assert call(client, police, licences, licence_no="冀交运管许可石字130102000002号").status_code == 200
    set_level(client, "sensitivity", "L1", shareable=False)  # the Bureau: L1 is no longer shared
    grant = db.scalar(select(Grant).where(Grant.resource_id == licences.id, Grant.status == "active"))
    assert grant is not None
    with pytest.raises(Forbidden):  # what `grant_for_use` refuses every other delivery with
        check_levels(
            db, licences, items=grant.items, masking_profile=grant.masking_profile, days=None, route=None
        )
    after = call(client, police, licences, licence_no="冀交运管许可石字130102000002号")
    # Today: 200, the upstream's answer relayed although the grant's items may no longer be shared.
    assert after.status_code == 403, after.text


def test_the_open_data_profile_cannot_be_edited_into_one_that_opens_names_in_clear(client, city, db) -> None:
    """Open data goes to anyone: the Bureau may not *choose* a profile that passes L1 names or
    identifiers as they are (`set_masking_profile`). Editing the profile already in use must not
    reach the same result by the back door."""
    entry, pushed = open_loaded(client, db, n=6)
    representatives = {r["legal_representative"] for r in pushed}
    admin = login(client, "bureau_admin")
    current = client.get("/api/v1/masking/profiles/open", headers=admin).json()
    levels = current["levels"]
    levels["L1"] = {**levels["L1"], "name": "as_is", "id_number": "as_is"}
    client.put(
        "/api/v1/masking/profiles/open",
        json={
            "name": current["name"],
            "description": current["description"],
            "levels": levels,
            "elements": current["elements"],
            "version": current["version"],
        },
        headers=admin,
    )  # refused (the fix), or accepted — what the public then gets is what counts
    client.cookies.clear()
    served = client.get(f"/api/v1/open/resources/{entry.id}/rows", params={"limit": 100}).json()["rows"]
    assert served, "the open resource serves rows"
    # Today: the edit is saved and every legal representative's name is opened in clear.
    assert not representatives & {r["legal_representative"] for r in served}


def test_an_approved_export_is_not_downloaded_once_its_level_may_no_longer_be_exported(
    client, city, db
) -> None:
    """S13/S27: the file is generated at download time. Request and approval refuse items whose
    level may not be exported; the download, where the data actually leaves, must too."""
    population = loaded(client, db)
    civil, bureau = login(client, "civil_user"), login(client, "bureau_admin")
    granted(client, population, ["name", "region_code"])  # name: L2
    body = {"resource_id": population.id, "purpose": PURPOSE, "reason": "年度复核需离线比对"}
    export = client.post("/api/v1/exports", json=body, headers=civil).json()
    approved = client.post(
        f"/api/v1/exports/{export['id']}/decision", json={"approve": True, "reason": "同意"}, headers=bureau
    )
    assert approved.status_code == 200, approved.text
    set_level(client, "sensitivity", "L2", exportable=False)
    again = client.post("/api/v1/exports", json=body, headers=civil)
    assert again.status_code == 403, again.text  # a new request is refused ...
    downloaded = client.get(f"/api/v1/exports/{export['id']}/file", headers=civil)
    # ... but today the approved one still produces the L2 file.
    assert downloaded.status_code in (403, 409), downloaded.status_code


def test_feedback_shows_the_consumers_row_id_to_the_consumer_only(client, city, db) -> None:
    """_row_id is the consumer's own identifier; the provider is given the row's business key
    instead (docs/data-api.md; the feedback page does the same). The JSON API gives the provider
    (and the Bureau) both, i.e. the key behind another department's _row_id."""
    population = loaded(client, db)
    civil, police = login(client, "civil_user"), login(client, "police_admin")
    granted(client, population, ["id_number", "name"])
    case = _report(client, civil, population, keys={"id_number": PEOPLE[0]}).json()
    assert case["row_id"]
    seen = client.get(f"/api/v1/feedback/{case['id']}", headers=police).json()
    assert seen["row"] == {"id_number": PEOPLE[0]}
    assert not seen.get("row_id"), seen


def test_a_rows_cursor_given_to_the_change_feed_is_refused_not_a_server_error(client, city, db) -> None:
    """docs/data-api.md: a cursor that is not this feed's is refused with 422. Rows cursors and
    change cursors are sealed alike, and a rows cursor as `since` crashes the feed (ValueError, 500)."""
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "region_code"])
    cursor = rows(client, population, civil, limit=2).json()["next_cursor"]
    assert cursor
    fed = client.get(
        f"/api/v1/resources/{population.id}/changes",
        params={"purpose": PURPOSE, "since": cursor},
        headers=civil,
    )
    assert fed.status_code == 422, fed.status_code
