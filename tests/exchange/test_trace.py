"""Tracing a row by its business key to the batch, channel and system that wrote it (S14)."""

from __future__ import annotations

from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from tests.exchange.test_ingest import BAD, GOOD1, GOOD2, csv_body, line, push
from tests.helpers import bearer, login
from tests.ui import browser, text


def test_a_row_traces_to_its_batch_system_and_retirement(client, city, db, population: Resource) -> None:
    admin = login(client, "police_admin")
    system = bearer(city.tokens["police-hukou"])
    first = push(client, admin, population.id, csv_body(line(GOOD1)))
    second = push(client, system, population.id, csv_body(line(GOOD2)))
    assert first.status_code == second.status_code == 201
    path = f"/api/v1/resources/{population.id}/provenance"

    by_person = client.get(path, params={"id_number": GOOD1.lower()}, headers=admin).json()
    assert by_person["found"] and by_person["batch_id"] == first.json()["batch_id"]
    assert (by_person["channel"], by_person["system"], by_person["retired_at"]) == ("push", None, None)
    assert by_person["catalog_version"] == 1 and len(by_person["row_sm3"]) == 64
    assert "张伟" not in str(by_person)  # provenance only, never the values

    by_system = client.get(path, params={"id_number": GOOD2}, headers=admin).json()
    assert by_system["system"] == "人口信息管理系统"

    deleted = push(
        client, admin, population.id, csv_body(GOOD2, header="id_number"), params={"mode": "delete"}
    )
    assert deleted.status_code == 201
    retired = client.get(path, params={"id_number": GOOD2}, headers=admin).json()
    assert retired["retired_at"] is not None and retired["retired_batch_id"] == deleted.json()["batch_id"]

    never = client.get(path, params={"id_number": "110101199003074514"}, headers=admin).json()
    assert never["found"] is False
    invalid = client.get(path, params={"id_number": BAD}, headers=admin)
    assert invalid.status_code == 422 and "公民身份号码" in invalid.json()["error"]["message"]
    assert client.get(path, headers=admin).status_code == 422
    traced = db.scalars(select(AuditEvent).where(AuditEvent.event_type == "data.row_traced")).all()
    assert len(traced) == 4 and all(GOOD1 not in str(e.details) for e in traced)  # the key's SM3 only

    assert (
        client.get(path, params={"id_number": GOOD1}, headers=login(client, "market_admin")).status_code
        == 403
    )
    assert client.get(path, params={"id_number": GOOD1}, headers=login(client, "bureau_reviewer")).json()[
        "found"
    ]


def test_the_trace_page(app, client, city, db, population: Resource) -> None:
    pushed = push(client, login(client, "police_admin"), population.id, csv_body(line(GOOD1)))
    admin = browser(app, "police_admin")
    form = admin.get(f"/catalog/{population.id}/data/trace")
    assert form.status_code == 200 and 'data-testid="trace-form"' in form.text
    found = admin.get(f"/catalog/{population.id}/data/trace", params={"id_number": GOOD1})
    assert text(found.text, "trace-state") == "当前有效"
    assert text(found.text, "trace-batch") == pushed.json()["batch_id"]
    refused = admin.get(f"/catalog/{population.id}/data/trace", params={"id_number": BAD})
    assert refused.status_code == 422 and "公民身份号码" in text(refused.text, "form-error")
    assert 'data-testid="trace-link"' in admin.get(f"/catalog/{population.id}/data").text
