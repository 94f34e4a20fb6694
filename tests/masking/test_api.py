"""The masking API: everyone logged in reads profiles; the Bureau writes and previews them (S23)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from govshare.masking.profiles import builtin
from tests.helpers import login

ITEMS = [
    {
        "name": "sfzh",
        "title": "公民身份号码",
        "data_type": "C",
        "length": 18,
        "sensitivity": "L3",
        "element": "DE0001",
    },
    {"name": "xm", "title": "姓名", "data_type": "C", "length": 50, "sensitivity": "L2"},
    {"name": "lxdh", "title": "联系电话", "data_type": "C", "length": 20, "sensitivity": "L3"},
    {"name": "csrq", "title": "出生日期", "data_type": "D", "sensitivity": "L2"},
    {"name": "bz", "title": "备注", "data_type": "C", "length": 200, "sensitivity": "L4"},
]
ROWS = [
    {
        "sfzh": "13010219850317771X",
        "xm": "诸葛亮",
        "lxdh": "+86 139 1234 5678",
        "csrq": "1985-03-17",
        "bz": "x",
    },
    {"sfzh": None, "xm": "张伟", "lxdh": None, "csrq": None},
]


def body(code: str = "standard", **changes: Any) -> dict[str, Any]:
    base = builtin(code)
    assert base is not None
    return {
        "name": base.name,
        "description": base.description,
        "levels": base.levels,
        "elements": base.elements,
    } | changes


def test_everyone_logged_in_reads_the_profiles(client: TestClient, city) -> None:
    assert client.get("/api/v1/masking/profiles").status_code == 401
    headers = login(client, "police_user")
    listed = client.get("/api/v1/masking/profiles", headers=headers)
    assert listed.status_code == 200
    assert [p["code"] for p in listed.json()] == ["linkage", "open", "standard", "strict"]
    one = client.get("/api/v1/masking/profiles/standard", headers=headers)
    assert one.status_code == 200 and one.json()["name"] == "标准脱敏" and one.json()["builtin"] is True
    assert one.json()["levels"]["L3"]["region"] == "region(4)"
    missing = client.get("/api/v1/masking/profiles/nothing", headers=headers)
    assert missing.status_code == 404 and "找不到脱敏方案" in missing.json()["error"]["message"]


def test_only_the_bureau_writes_profiles(client: TestClient, city) -> None:
    for username in ("police_admin", "bureau_reviewer"):
        refused = client.put(
            "/api/v1/masking/profiles/standard", json=body(), headers=login(client, username)
        )
        assert refused.status_code == 403, username
        assert refused.json()["error"]["details"]["action"] == "masking.manage"

    bureau = login(client, "bureau_admin")
    current = client.get("/api/v1/masking/profiles/standard", headers=bureau).json()
    levels = current["levels"] | {"L2": current["levels"]["L2"] | {"date": "date_year"}}
    saved = client.put(
        "/api/v1/masking/profiles/standard",
        json=body(levels=levels, version=current["version"]),
        headers=bureau,
    )
    assert saved.status_code == 200, saved.text
    assert (
        saved.json()["levels"]["L2"]["date"] == "date_year"
        and saved.json()["version"] == current["version"] + 1
    )
    stale = client.put(
        "/api/v1/masking/profiles/standard", json=body(version=current["version"]), headers=bureau
    )
    assert (
        stale.status_code == 409
        and stale.json()["error"]["details"]["current_version"] == current["version"] + 1
    )

    created = client.put(
        "/api/v1/masking/profiles/research", json=body("strict", name="科研分析"), headers=bureau
    )
    assert created.status_code == 201 and created.json()["builtin"] is False
    audit = client.get(
        "/api/v1/audit/events",
        params={"event_type": "masking.profile_created"},
        headers=login(client, "bureau_auditor"),
    )
    assert audit.status_code == 200, audit.text
    events = audit.json()["items"]
    assert [e["details"]["code"] for e in events] == ["research"]
    assert events[0]["details"]["after"]["name"] == "科研分析" and events[0]["actor_name"]


def test_wrong_profiles_get_422_in_chinese(client: TestClient, city) -> None:
    bureau = login(client, "bureau_admin")
    levels = body()["levels"] | {"L3": body()["levels"]["L3"] | {"name": "keep(1)"}}
    wrong_rule = client.put("/api/v1/masking/profiles/standard", json=body(levels=levels), headers=bureau)
    assert wrong_rule.status_code == 422
    assert "L3 级“姓名”：不认识的脱敏规则“keep(1)”" in wrong_rule.json()["error"]["message"]
    no_l2 = {k: v for k, v in body()["levels"].items() if k != "L2"}
    missing = client.put("/api/v1/masking/profiles/standard", json=body(levels=no_l2), headers=bureau)
    assert missing.status_code == 422 and "缺少 L2 级" in missing.json()["error"]["message"]
    bad_code = client.put("/api/v1/masking/profiles/A%20B", json=body(name="另一个"), headers=bureau)
    assert bad_code.status_code == 422 and "方案编码" in bad_code.json()["error"]["message"]
    short = client.put("/api/v1/masking/profiles/standard", json=body(name="x"), headers=bureau)
    assert short.status_code == 422 and short.json()["error"]["details"][0]["field"] == "name"


def test_preview_masks_rows_for_the_bureau_only(client: TestClient, city) -> None:
    payload = {"profile": None, "items": ITEMS, "rows": ROWS}
    refused = client.post("/api/v1/masking/preview", json=payload, headers=login(client, "police_admin"))
    assert refused.status_code == 403  # a preview computes keyed pseudonyms: not for everyone

    bureau = login(client, "bureau_admin")
    preview = client.post("/api/v1/masking/preview", json=payload, headers=bureau)
    assert preview.status_code == 200, preview.text
    result = preview.json()
    assert result["profile"] == "standard" and result["dropped"] == ["bz"]
    assert result["rows"] == [
        {"sfzh": "130102********771X", "xm": "诸葛*", "lxdh": "139****5678", "csrq": "1985-03"},
        {"sfzh": None, "xm": "张*", "lxdh": None, "csrq": None},
    ]
    assert (
        result["rules"]["bz"] == "不提供（L4 级数据不共享）"
        and result["rules"]["csrq"] == "日期（只保留年月）"
    )

    strict = client.post(
        "/api/v1/masking/preview", json=payload | {"profile": "strict"}, headers=bureau
    ).json()
    assert strict["rows"][0]["csrq"] is None and len(strict["rows"][0]["sfzh"]) == 32
    unknown = client.post("/api/v1/masking/preview", json=payload | {"profile": "nope"}, headers=bureau)
    assert unknown.status_code == 404
    bad_item = client.post(
        "/api/v1/masking/preview",
        json=payload | {"items": [ITEMS[0] | {"sensitivity": "L9"}]},
        headers=bureau,
    )
    assert bad_item.status_code == 422
