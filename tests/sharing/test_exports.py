"""Bulk exports only with the Bureau's approval, fingerprinted per export, traced back from a leaked
part of a file (S27)."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from govshare.identifiers import id_number_valid
from govshare.sharing import exports
from govshare.tasks.models import Task
from tests.helpers import actor, login
from tests.sharing.test_requests import PURPOSE
from tests.sharing.test_rows import PEOPLE, granted, loaded


def ask(client, headers, resource_id: int, **extra):  # type: ignore[no-untyped-def]
    body = {"resource_id": resource_id, "purpose": PURPOSE, "reason": "年度低保复核需离线比对", **extra}
    return client.post("/api/v1/exports", json=body, headers=headers)


def test_an_export_needs_the_bureaus_approval_and_is_fingerprinted(client, city, db, tmp_path) -> None:
    population = loaded(client, db)
    civil, bureau = login(client, "civil_user"), login(client, "bureau_admin")
    assert ask(client, civil, population.id).status_code == 403  # no grant yet
    granted(client, population, ["id_number", "name", "region_code"])
    assert ask(client, civil, population.id, format="pdf").status_code == 422
    assert ask(client, civil, population.id, filters={"mobile": ["13912345670"]}).status_code == 422
    created = ask(client, civil, population.id, filters={"region_code": ["130102", "130104"]})
    assert created.status_code == 201, created.text
    export = created.json()
    assert export["status"] == "pending"
    assert db.scalar(select(Task).where(Task.kind == "export_request", Task.subject_id == str(export["id"])))
    url = f"/api/v1/exports/{export['id']}"
    assert client.get(f"{url}/file", headers=civil).status_code == 409  # not approved yet
    assert (
        client.post(f"{url}/decision", json={"approve": True, "reason": "同意"}, headers=civil).status_code
        == 403
    )
    approved = client.post(
        f"{url}/decision", json={"approve": True, "reason": "用于年度复核，同意"}, headers=bureau
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"

    file = client.get(f"{url}/file", headers=civil)
    assert file.status_code == 200 and "attachment" in file.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(file.content.decode("utf-8-sig"))))
    assert table[0] == ["_row_id", "id_number", "name", "region_code"]
    assert len(table) == 1 + 3  # 130102 ×2 and 130104
    assert not any(id_number_valid(cell) for row in table for cell in row)
    api_ids = {
        r["_row_id"]
        for r in client.get(
            f"/api/v1/resources/{population.id}/rows", params={"purpose": PURPOSE}, headers=civil
        ).json()["rows"]
    }
    assert not {row[0] for row in table[1:]} & api_ids  # the export's own identifiers
    assert client.get(url, headers=civil).json()["downloads"] == 1
    for _ in range(2):
        assert client.get(f"{url}/file", headers=civil).status_code == 200
    assert client.get(f"{url}/file", headers=civil).status_code == 409  # 3 downloads at most
    assert client.get(f"{url}/file", headers=login(client, "hrss_user")).status_code == 404

    # A leaked part of the file, without its header and with columns moved, names the recipient.
    leaked = tmp_path / "leaked.csv"
    leaked.write_text("\n".join(",".join([r[2], r[0]]) for r in table[2:]), encoding="utf-8")
    traces, total = exports.trace_leak(db, actor=actor(db, "bureau_auditor"), path=leaked)
    assert total == 2 and traces and traces[0].export.id == export["id"] and traces[0].matched == 2
    described = exports.describe(db, traces[0])
    assert described["department"] == "石家庄市民政局" and "civil_user" in str(described["requested_by"])
    unrelated = tmp_path / "other.csv"
    unrelated.write_text("a,b\n" + "0" * 64 + ",x\n", encoding="utf-8")
    assert exports.trace_leak(db, actor=actor(db, "bureau_auditor"), path=unrelated)[0] == []


def test_a_rejected_export_is_never_downloaded_and_xlsx_is_traced_too(client, city, db, tmp_path) -> None:
    population = loaded(client, db)
    civil, bureau = login(client, "civil_user"), login(client, "bureau_admin")
    granted(client, population, ["id_number", "region_code"])
    rejected = ask(client, civil, population.id).json()
    client.post(
        f"/api/v1/exports/{rejected['id']}/decision",
        json={"approve": False, "reason": "可在线核查"},
        headers=bureau,
    )
    assert client.get(f"/api/v1/exports/{rejected['id']}/file", headers=civil).status_code == 409
    workbook = ask(client, civil, population.id, format="xlsx").json()
    client.post(
        f"/api/v1/exports/{workbook['id']}/decision", json={"approve": True, "reason": "同意"}, headers=bureau
    )
    file = client.get(f"/api/v1/exports/{workbook['id']}/file", headers=civil)
    assert file.status_code == 200 and file.content[:2] == b"PK"
    copy = tmp_path / "copy.xlsx"
    copy.write_bytes(file.content)
    traces, total = exports.trace_leak(db, actor=actor(db, "bureau_auditor"), path=copy)
    assert total == len(PEOPLE) and traces[0].export.id == workbook["id"]


def test_an_export_is_neither_approved_nor_downloaded_while_its_grant_is_not_in_force(
    client, city, db
) -> None:
    """An export carries what its own grant allows: suspended, it waits; revoked, a later grant for
    the same purpose (here with more items) does not carry it."""
    population = loaded(client, db)
    civil, bureau, provider = (
        login(client, "civil_user"),
        login(client, "bureau_admin"),
        login(client, "police_admin"),
    )
    first = granted(client, population, ["id_number", "name"])

    def change(what: str, reason: str) -> None:
        path = f"/api/v1/grants/{first['id']}/{what}"
        changed = client.post(path, json={"reason": reason}, headers=provider)
        assert changed.status_code == 200, changed.text

    export = ask(client, civil, population.id).json()
    url = f"/api/v1/exports/{export['id']}"
    change("suspend", "核查调用情况")
    waiting = client.post(f"{url}/decision", json={"approve": True, "reason": "同意"}, headers=bureau)
    assert waiting.status_code == 409 and "暂停、撤销或过期" in waiting.json()["error"]["message"]
    change("resume", "核查完毕")
    approved = client.post(f"{url}/decision", json={"approve": True, "reason": "同意"}, headers=bureau)
    assert approved.status_code == 200, approved.text

    change("suspend", "再次核查")
    assert client.get(f"{url}/file", headers=civil).status_code == 409
    change("resume", "核查完毕")
    file = client.get(f"{url}/file", headers=civil)
    assert file.status_code == 200
    assert file.content.decode("utf-8-sig").splitlines()[0] == "_row_id,id_number,name"

    change("revoke", "用途已完成")
    granted(client, population, ["id_number", "name", "gender", "region_code"])  # asked for again
    refused = client.get(f"{url}/file", headers=civil)
    assert refused.status_code == 409, refused.text
    assert client.get(url, headers=civil).json()["downloads"] == 1  # the refusals counted nothing
