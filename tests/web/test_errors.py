"""The one JSON error shape, and what bad input gets."""

from __future__ import annotations

from tests.helpers import login

ERROR_KEYS = {"code", "message", "message_en"}


def assert_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert ERROR_KEYS <= set(error) <= ERROR_KEYS | {"details"}
    assert error["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"]), "message must be Chinese"
    assert error["message_en"].isascii()
    return error


def test_unauthorized_shape(client) -> None:
    assert_error(client.get("/api/v1/users"), 401, "unauthorized")


def test_forged_and_malformed_tokens_are_401(client, city) -> None:
    for header in (
        "Bearer gsu_forged",
        "Bearer gss_forged",
        "Bearer not-a-token",
        "Basic abc",
        "Bearer ",
        "Bearer " + "x" * 5000,
    ):
        assert_error(client.get("/api/v1/auth/me", headers={"Authorization": header}), 401, "unauthorized")


def test_forbidden_shape_is_bilingual_and_names_the_action(client, city) -> None:
    error = assert_error(
        client.get("/api/v1/audit/verify", headers=login(client, "civil_user")), 403, "forbidden"
    )
    assert "校验审计链" in error["message"]
    assert error["details"] == {"action": "audit.verify"}


def test_invisible_objects_are_404_not_403(client, city, db) -> None:
    from tests.helpers import user_id

    headers = login(client, "civil_admin")
    police_person = user_id(db, "police_user")
    assert_error(client.get(f"/api/v1/users/{police_person}", headers=headers), 404, "not_found")
    assert_error(client.get("/api/v1/users/999999", headers=headers), 404, "not_found")


def test_validation_errors_name_the_fields(client, city) -> None:
    headers = login(client, "bureau_admin")
    error = assert_error(client.post("/api/v1/orgs", json={"code": "X"}, headers=headers), 422, "invalid")
    fields = {d["field"] for d in error["details"]}
    assert {"code", "name", "kind", "credit_code"} <= fields


def test_malformed_json_is_422(client, city) -> None:
    headers = login(client, "bureau_admin") | {"Content-Type": "application/json"}
    error = assert_error(client.post("/api/v1/orgs", content=b'{"code": ', headers=headers), 422, "invalid")
    assert error["details"][0]["problem"] == "不是有效的 JSON"


def test_oversized_body_is_413_and_changes_nothing(client, city, db) -> None:
    from sqlalchemy import func, select

    from govshare.orgs.models import Organisation

    before = db.scalar(select(func.count()).select_from(Organisation))
    headers = login(client, "bureau_admin")
    big = {
        "code": "big",
        "name": "大" * 600_000,
        "short_name": "x",
        "kind": "department",
        "credit_code": "11130100000102437L",
    }
    assert_error(client.post("/api/v1/orgs", json=big, headers=headers), 413, "too_large")
    assert db.scalar(select(func.count()).select_from(Organisation)) == before


def test_unknown_api_path_and_method(client) -> None:
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(client.put("/healthz"), 405, "method_not_allowed")


def test_injection_strings_are_data_not_code(client, city, db) -> None:
    headers = login(client, "bureau_admin")
    nasty = "'; DROP TABLE users; --<script>alert(1)</script>"
    response = client.get("/api/v1/users", params={"q": nasty}, headers=headers)
    assert response.status_code == 200 and response.json()["total"] == 0
    created = client.post(
        "/api/v1/orgs",
        headers=headers,
        json={
            "code": "inject",
            "name": nasty[:120],
            "short_name": "测试",
            "kind": "department",
            "credit_code": "11130100000109999" + _check("11130100000109999"),
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == nasty[:120]
    from sqlalchemy import text

    assert db.execute(text("SELECT count(*) FROM users")).scalar_one() > 0


def _check(first17: str) -> str:
    from govshare.identifiers import credit_code_check_char

    return credit_code_check_char(first17)


def test_security_headers(client) -> None:
    response = client.get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
