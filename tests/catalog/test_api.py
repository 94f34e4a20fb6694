"""The catalog JSON API contract (issue 3) and its refusals."""

from __future__ import annotations

from tests.helpers import login

SUMMARY_FIELDS = {
    "id",
    "code",
    "name",
    "provider",
    "category",
    "sharing_type",
    "open_type",
    "update_cycle",
    "status",
    "version",
}


def _find(client, headers, q: str, name: str) -> dict:  # type: ignore[no-untyped-def]
    body = client.get("/api/v1/resources", params={"q": q, "page_size": 50}, headers=headers).json()
    return next(item for item in body["items"] if item["name"] == name)


def test_list_and_detail_carry_the_contract_fields(client, city) -> None:
    user = login(client, "civil_user")
    response = client.get("/api/v1/resources", params={"page_size": 100}, headers=user)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] >= 30 and len(body["items"]) == body["total"]
    assert all(set(item) >= SUMMARY_FIELDS for item in body["items"])
    assert {"class_kind", "sharing_type", "org_id", "category", "format", "update_cycle"} <= set(
        body["facets"]
    )

    pop = _find(client, user, "人口", "人口基础信息")
    assert pop["provider"] == {"id": pop["provider"]["id"], "code": "police", "name": "石家庄市公安局"}
    assert (pop["category"], pop["class_kind"], pop["sharing_type"], pop["status"]) == (
        "101",
        "base",
        "unconditional",
        "published",
    )
    detail = client.get(f"/api/v1/resources/{pop['id']}", headers=user).json()
    assert [i["title"] for i in detail["items"]] == [
        "公民身份号码",
        "姓名",
        "性别",
        "出生日期",
        "手机号码",
        "住址",
        "行政区划代码",
    ]
    assert {"name", "title", "data_type", "length", "sensitivity", "queryable"} <= set(detail["items"][0])
    assert [i["name"] for i in detail["items"] if i["queryable"]] == ["id_number", "region_code"]
    assert detail["working"] is None  # a business user of another department sees the published version only

    car = _find(client, user, "机动车", "机动车登记信息")
    car_detail = client.get(f"/api/v1/resources/{car['id']}", headers=user).json()
    assert car_detail["sharing_type"] == "conditional" and "道路交通安全法" in car_detail["legal_basis"]


def test_page_size_is_bounded(client, city) -> None:
    user = login(client, "civil_user")
    assert client.get("/api/v1/resources", params={"page_size": 100}, headers=user).status_code == 200
    assert client.get("/api/v1/resources", params={"page_size": 1000}, headers=user).status_code == 422


def test_compile_submit_review_through_the_api(client, city) -> None:
    police = login(client, "police_admin")
    car = _find(client, police, "机动车", "机动车登记信息")
    basis = client.get(f"/api/v1/resources/{car['id']}", headers=police).json()
    draft = {k: basis[k] for k in ("category", "format", "update_cycle", "summary", "items")}
    draft.update(
        name="门牌地址信息", sharing_type="conditional", sharing_condition="仅限履行社会救助职责使用"
    )

    refused = client.post("/api/v1/resources", json=draft, headers=police)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"] == {"field": "legal_basis"}
    assert "共享依据" in refused.json()["error"]["message"]

    draft["legal_basis"] = "《中华人民共和国户口登记条例》第三条"
    created = client.post("/api/v1/resources", json=draft, headers=police)
    assert created.status_code == 201, created.text
    resource = created.json()
    assert (resource["status"], resource["version"], resource["working"]["state"]) == ("draft", 1, "draft")

    rid = resource["id"]
    assert client.post(f"/api/v1/resources/{rid}/submit", headers=police).status_code == 422
    security = login(client, "police_security")
    secrecy = {"reviewer": "钱志刚（安全管理员）", "reviewed_on": "2026-11-20", "conclusion": "passed"}
    assert (
        client.post(f"/api/v1/resources/{rid}/secrecy-review", json=secrecy, headers=security).status_code
        == 200
    )
    submitted = client.post(f"/api/v1/resources/{rid}/submit", headers=police)
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"

    assert (
        client.post(
            f"/api/v1/resources/{rid}/review", json={"decision": "approve"}, headers=police
        ).status_code
        == 403
    )
    reviewer = login(client, "bureau_reviewer")
    queue = client.get("/api/v1/catalog/review-queue", headers=reviewer).json()
    assert any(q["resource"]["id"] == rid and q["age_working_days"] == 0 for q in queue)
    approved = client.post(
        f"/api/v1/resources/{rid}/review", json={"decision": "approve", "comment": "同意"}, headers=reviewer
    )
    assert approved.status_code == 200 and approved.json()["status"] == "published"
    versions = client.get(f"/api/v1/resources/{rid}/versions", headers=login(client, "civil_user")).json()
    assert [(v["number"], v["state"]) for v in versions] == [(1, "published")]


def test_a_change_and_its_diff_through_the_api(client, city) -> None:
    police = login(client, "police_admin")
    pop = _find(client, police, "人口", "人口基础信息")
    detail = client.get(f"/api/v1/resources/{pop['id']}", headers=police).json()
    fields = (
        "category",
        "name",
        "summary",
        "format",
        "provision_method",
        "sharing_type",
        "open_type",
        "update_cycle",
        "items",
    )
    change = {k: detail[k] for k in fields}
    assert detail["items"][1]["name"] == "name" and detail["items"][1]["queryable"] is False
    change["items"] = [
        detail["items"][0],
        {**detail["items"][1], "queryable": True},
        *detail["items"][2:],
        {"name": "nation", "title": "民族", "data_type": "C", "length": 2, "queryable": True},
    ]
    change.update(lock_version=detail["lock_version"], change_reason="增加民族信息项")
    response = client.put(f"/api/v1/resources/{pop['id']}", json=change, headers=police)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1 and response.json()["working"]["number"] == 2
    stale = client.put(f"/api/v1/resources/{pop['id']}", json=change, headers=police)
    assert stale.status_code == 409

    diff = client.get(
        f"/api/v1/resources/{pop['id']}/diff", params={"from": 1, "to": 2}, headers=police
    ).json()
    assert [c["field"] for c in diff["changes"]] == ["items.name.queryable", "items.nation"]
    assert diff["changes"][0]["label"] == "信息项 姓名：查询项"
    assert (diff["changes"][0]["before"], diff["changes"][0]["after"]) == (False, True)
    working = client.get(f"/api/v1/resources/{pop['id']}/versions/2", headers=police).json()
    assert [i["name"] for i in working["items"] if i["queryable"]] == [
        "id_number",
        "name",
        "region_code",
        "nation",
    ]
    # Another department sees neither the working version nor a diff against it.
    civil = login(client, "civil_user")
    assert (
        client.get(
            f"/api/v1/resources/{pop['id']}/diff", params={"from": 1, "to": 2}, headers=civil
        ).status_code
        == 404
    )


def test_unknown_and_invisible_entries_are_404(client, city) -> None:
    civil = login(client, "civil_admin")
    assert client.get("/api/v1/resources/999999", headers=civil).status_code == 404
    body = client.get("/api/v1/resources", params={"q": "流动人口", "page_size": 50}, headers=civil).json()
    assert body["total"] == 0  # the police's submitted entry is not yet published
    police = login(client, "police_admin")
    hidden = _find(client, police, "流动人口", "流动人口居住登记信息")
    assert client.get(f"/api/v1/resources/{hidden['id']}", headers=civil).status_code == 404
    assert client.get("/api/v1/resources").status_code == 401


def test_classes_elements_conflicts_and_supervision(client, city) -> None:
    user = login(client, "civil_user")
    classes = client.get("/api/v1/catalog/classes", headers=user).json()
    assert {c["code"] for c in classes} >= {"1", "2", "3", "101", "210"}
    people = next(c for c in classes if c["code"] == "101")
    assert (people["name"], people["kind"], people["lead_org"]["code"]) == ("人口", "base", "police")
    elements = client.get("/api/v1/catalog/elements", params={"q": "身份"}, headers=user).json()
    assert elements["items"][0]["source"]["code"] == "police"

    new_class = {"parent": "2", "name": "文化旅游", "lead_org_id": None}
    assert client.post("/api/v1/catalog/classes", json=new_class, headers=user).status_code == 403
    admin = login(client, "bureau_admin")
    created = client.post("/api/v1/catalog/classes", json=new_class, headers=admin)
    assert created.status_code == 201 and created.json()["code"] == "211"
    assert client.post("/api/v1/catalog/classes", json=new_class, headers=admin).status_code == 409

    assert client.get("/api/v1/catalog/supervision", headers=user).status_code == 403
    rows = client.get("/api/v1/catalog/supervision", headers=admin).json()
    assert next(r for r in rows if r["name"] == "石家庄市桥西区人民政府")["no_catalog"] is True
    assert client.get("/api/v1/catalog/conflicts", headers=login(client, "bureau_reviewer")).json() == []
