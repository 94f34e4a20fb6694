"""The destruction pages as people use them: the form, each decision behind a confirmation, the
list filtered by status, and the printable certificate."""

from __future__ import annotations

from sqlalchemy import select

from govshare.exchange import store
from tests.helpers import user_id
from tests.sharing.test_rows import PEOPLE, loaded
from tests.ui import browser, texts


def test_a_request_goes_through_the_pages_to_its_certificate(app, client, city, db) -> None:
    population = loaded(client, db)
    admin = browser(app, "police_admin")
    form = admin.get("/destructions/new")
    assert form.status_code == 200 and population.name in form.text and "身份" in form.text
    fields = {
        "resource_id": str(population.id),
        "scope": "keys",
        "method": "delete",
        "supervisor_id": str(user_id(db, "police_supervisor")),
        "keys": f"{PEOPLE[0]}\n{PEOPLE[1]}\n",
        "reason": "",
    }
    refused = admin.post("/destructions/new", fields)
    assert refused.status_code == 422 and "销毁理由" in texts(refused.text, "form-error")[0]
    assert PEOPLE[0] in refused.text  # the form comes back filled in
    created = admin.post("/destructions/new", {**fields, "reason": "超过保存期限"})
    assert created.status_code == 303, created.text
    url = created.headers["location"].split("?")[0]
    page = admin.get(url)
    assert "等待" not in page.text and texts(page.text, "destruction-status") == ["待本单位审批"]
    assert texts(page.text, "destruction-covered")[0].startswith("按当前数据，本次将销毁：交换库数据 2 行")
    assert 'data-testid="destruction-withdraw-form"' in page.text
    assert 'data-testid="destruction-approve-form"' not in page.text  # the requester never approves

    approver = browser(app, "police_approver")
    page = approver.get(url)
    assert 'data-testid="destruction-approve-form"' in page.text and "data-confirm=" in page.text
    assert approver.post(f"{url}/approve", {"opinion": ""}).status_code == 422
    assert approver.post(f"{url}/approve", {"opinion": "同意"}).status_code == 303
    bureau = browser(app, "bureau_admin")
    assert bureau.post(f"{url}/approve", {"opinion": "同意"}).status_code == 303
    supervisor = browser(app, "police_supervisor")
    page = supervisor.get(url)
    assert 'data-testid="destruction-confirm-form"' in page.text
    assert "数据将被永久删除" in page.text  # the confirmation dialog's question
    done = supervisor.post(f"{url}/confirm", {"opinion": "现场监督，确认执行"})
    assert done.status_code == 303
    page = supervisor.get(done.headers["location"])
    assert texts(page.text, "notice") and texts(page.text, "destruction-status") == ["已销毁"]
    table = store.table_for(db, population.id, [])
    assert len(db.execute(select(table.c._key)).all()) == len(PEOPLE) - 2

    cert = admin.get(f"{url}/certificate")
    assert cert.status_code == 200
    assert texts(cert.text, "cert-rows") == ["2 行"]
    assert "police_supervisor" in texts(cert.text, "cert-supervision")[0]
    assert "police_approver" in texts(cert.text, "cert-department-approval")[0]
    assert len(texts(cert.text, "cert-store-digest")[0]) == 64
    assert "data-print" in cert.text and "<script>" not in cert.text

    listed = bureau.get("/destructions?status=executed")
    assert listed.status_code == 200 and len(texts(listed.text, "destruction-row")) == 1
    assert texts(bureau.get("/destructions?status=pending_bureau").text, "destructions-empty")
    assert browser(app, "hrss_admin").get(url).status_code == 404
    assert 'href="/destructions"' in bureau.get("/").text  # in the navigation
