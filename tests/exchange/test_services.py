"""API-service resources: registration (address guard, OpenAPI, masks, sealed credential) and calls
through the platform against a real upstream on 127.0.0.1 (masking, parameters, timeout, errors,
size limit, rate limit, grants), each call recorded with its audit event."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from cryptography.hazmat.primitives import hashes
from pydantic import ValidationError
from sqlalchemy import delete, func, select

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.db import unit_of_work, utcnow
from govshare.exchange import services
from govshare.exchange.service_calls import CallRequest, RateLimited, prepare_call, take_slot
from govshare.exchange.service_models import ApiCall, ApiRateWindow, ApiService
from govshare.orgs.models import Organisation
from govshare.settings import Settings
from govshare.systems.models import BusinessSystem
from tests.conftest import settings_override
from tests.exchange.upstream import PERSON, Upstream, serve
from tests.helpers import actor, bearer, login

SECRET = "s3cr3t-upstream-key-9F2A"
LOCAL = '["127.0.0.0/8"]'
MASKS = [
    {"path": "data[*].legal_person", "rule": "name"},
    {"path": "data[*].sfzh", "rule": "id_number"},
    {"path": "data[*].mobile", "rule": "mobile"},
    {"path": "data[*].address", "rule": "address"},
    {"path": "data[*].bank_card", "rule": "pseudonym"},
]
LICENCE = [{"name": "licence_no", "in": "query", "required": True, "description": "道路运输经营许可证号"}]


def sm3(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with serve() as server:
        yield server


@pytest.fixture
def local() -> Iterator[None]:
    """The test upstream lives on 127.0.0.1, which the address guard refuses unless allowed."""
    with settings_override(service_allowed_networks=LOCAL):
        yield


@pytest.fixture
def licences(db) -> Resource:  # type: ignore[no-untyped-def]
    found = db.scalar(select(Resource).where(Resource.name == "道路运输经营许可信息"))
    assert found is not None and found.provision_method == "api"
    return found


def registration(upstream: Upstream, path: str = "/licence", **extra: Any) -> dict[str, Any]:
    return {
        "url": upstream.url(path),
        "method": "GET",
        "parameters": LICENCE,
        "timeout_seconds": 2,
        "masks": MASKS,
        **extra,
    }


def register(client, headers, resource: Resource, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    return client.put(f"/api/v1/resources/{resource.id}/service", json=body, headers=headers)


def registered(client, resource: Resource, upstream: Upstream, **extra: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = register(client, login(client, "transport_admin"), resource, registration(upstream, **extra))
    assert response.status_code == 200, response.text
    return dict(response.json())


def call(client, headers, resource: Resource, method: str = "GET", **params: Any):  # type: ignore[no-untyped-def]
    path = f"/api/v1/resources/{resource.id}/service/call"
    if method == "POST":
        purpose = params.pop("purpose", "道路运输许可核验")
        return client.post(path, params={"purpose": purpose}, json=params, headers=headers)
    return client.get(path, params={"purpose": "道路运输许可核验", **params}, headers=headers)


def calls(db, resource: Resource) -> list[ApiCall]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(ApiCall).where(ApiCall.resource_id == resource.id).order_by(ApiCall.at)))


def call_events(db) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(AuditEvent).where(AuditEvent.event_type == "data.service_called")))


# --- registration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://10.1.2.3/licence", "http:// 或 https://"),
        ("http://user:pw@10.1.2.3/licence", "用户名或密码"),
        ("http://127.0.0.1:9/licence", "本机回环地址"),
        ("http://localhost:9/licence", "本机回环地址"),
        ("http://[::1]:9/licence", "本机回环地址"),
        ("http://[::ffff:127.0.0.1]:9/licence", "本机回环地址"),
        ("http://2130706433/licence", "本机回环地址"),  # 127.0.0.1 written as a number
        ("http://169.254.169.254/latest/meta-data", "链路本地地址"),
        ("http://224.0.0.1/licence", "组播地址"),
        ("http://0.0.0.0:9/licence", "未指定地址"),
        ("http://no-such-host.invalid/licence", "无法解析"),
    ],
)
def test_endpoints_are_guarded_at_registration(client, city, db, licences, url, message) -> None:
    response = register(client, login(client, "transport_admin"), licences, {"url": url})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert message in error["message"] and error["details"]["field"] == "url"
    assert db.scalar(select(ApiService).where(ApiService.resource_id == licences.id)) is None


def test_registration_is_checked(client, city, db, licences, upstream, local) -> None:
    admin = login(client, "transport_admin")

    def refused(**changes: Any) -> dict[str, Any]:
        response = register(client, admin, licences, registration(upstream) | changes)
        assert response.status_code == 422, response.text
        return dict(response.json()["error"])

    assert "OpenAPI" in refused(openapi={"info": {"title": "没有版本字段"}})["message"]
    assert "512 KB" in refused(openapi={"openapi": "3.0.3", "x": "x" * 600_000})["message"]
    assert "脱敏路径" in refused(masks=[{"path": "data[0].sfzh", "rule": "id_number"}])["message"]
    assert "不认识的脱敏规则" in refused(masks=[{"path": "data[*].sfzh", "rule": "hide"}])["message"]
    assert "purpose" in refused(parameters=[{"name": "purpose", "in": "query"}])["message"]
    assert "重复" in refused(parameters=LICENCE + LICENCE)["message"]
    assert "GET 接口不能有请求体参数" in refused(parameters=[{"name": "q", "in": "body"}])["message"]
    assert "平台上限 30 秒" in refused(timeout_seconds=31)["message"]
    assert "请求头名称" in refused(credential_header="Host", credential_value="x")["message"]
    assert "请填写凭据的值" in refused(credential_header="X-Api-Key")["message"]
    assert "换行" in refused(credential_header="X-Api-Key", credential_value="a\nb")["message"]

    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    police = login(client, "police_admin")
    assert register(client, police, population, registration(upstream)).status_code == 422  # not 接口
    assert register(client, police, licences, registration(upstream)).status_code == 403  # not theirs
    assert (
        register(client, login(client, "transport_user"), licences, registration(upstream)).status_code == 403
    )

    saved = registered(
        client, licences, upstream, openapi={"openapi": "3.0.3", "info": {"title": "许可核验"}}
    )
    assert (
        saved["version"] == 1 and saved["rate_per_minute"] == 60
    )  # GOVSHARE_SERVICE_DEFAULT_RATE_PER_MINUTE
    assert saved["openapi"]["info"]["title"] == "许可核验" and len(saved["openapi_sm3"]) == 64
    stale = register(client, admin, licences, registration(upstream, timeout_seconds=3))
    assert stale.status_code == 409 and stale.json()["error"]["details"]["current_version"] == 1
    again = register(client, admin, licences, registration(upstream, timeout_seconds=3, version=1))
    assert again.status_code == 200 and again.json()["version"] == 2 and again.json()["openapi"] is None
    assert (
        client.get(
            f"/api/v1/resources/{licences.id}/service", headers=login(client, "bureau_auditor")
        ).status_code
        == 200
    )
    assert client.get(f"/api/v1/resources/{licences.id}/service", headers=police).status_code == 403
    event = db.scalar(select(AuditEvent).where(AuditEvent.event_type == "data.service_saved"))
    assert event is not None and "licence_no" in event.details


def test_the_credential_is_sealed_used_upstream_and_never_shown(
    client, city, db, licences, upstream, local, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = login(client, "transport_admin")
    saved = registered(client, licences, upstream, credential_header="X-Api-Key", credential_value=SECRET)
    assert saved["credential_header"] == "X-Api-Key" and saved["has_credential"] is True
    assert SECRET not in json.dumps(saved)
    stored = db.scalar(select(ApiService).where(ApiService.resource_id == licences.id))
    assert stored is not None and stored.credential_sealed is not None
    assert stored.credential_sealed.startswith("sm4gcm1:") and SECRET not in stored.credential_sealed

    ok = call(client, admin, licences, licence_no="冀交运管许可石字130102000009号")
    assert ok.status_code == 200, ok.text
    assert upstream.last()["headers"]["x-api-key"] == SECRET  # the platform presents it upstream
    assert SECRET not in ok.text

    # An edit that leaves the value out keeps it, at the same host and header ...
    kept = register(
        client,
        admin,
        licences,
        registration(upstream, credential_header="X-Api-Key", version=saved["version"]),
    )
    assert kept.status_code == 200, kept.text
    call(client, admin, licences, licence_no="1")
    assert upstream.last()["headers"]["x-api-key"] == SECRET
    # ... but an address at another host never receives it without the value being entered again.
    moved = registration(upstream, credential_header="X-Api-Key", version=kept.json()["version"])
    moved["url"] = upstream.url("/licence").replace("127.0.0.1", "127.0.0.2")  # another host
    assert "请填写凭据的值" in register(client, admin, licences, moved).json()["error"]["message"]

    shown = client.get(f"/api/v1/resources/{licences.id}/service", headers=admin).text
    records = [e.details for e in db.scalars(select(AuditEvent))] + [
        json.dumps([c.purpose, c.reason, c.params_digest]) for c in calls(db, licences)
    ]
    for text in [shown, caplog.text, *records]:
        assert SECRET not in text


# --- calls -----------------------------------------------------------------------------------------


def test_a_call_is_masked_answered_and_recorded(client, city, db, licences, upstream, local) -> None:
    registered(client, licences, upstream)
    system = bearer(city.tokens["transport-license"])  # the department's business system
    response = call(client, system, licences, licence_no="冀交运管许可石字130102000002号")
    assert response.status_code == 200, response.text
    first, second = response.json()["data"]
    assert first["legal_person"] == "欧阳**" and second["legal_person"] == "张*"
    assert first["sfzh"] == "130102********7718" and first["mobile"] == "139****5678"
    assert first["address"] == "河北省石家庄市长安区****"
    assert len(first["bank_card"]) == 32 and first["bank_card"] == second["bank_card"]  # pseudonym joins
    assert first["licence_no"] == "冀交运管许可石字130102000002号"  # unmapped fields pass
    for value in (PERSON["sfzh"], PERSON["mobile"], PERSON["bank_card"], "娜娜"):
        assert value not in response.text

    sent = upstream.last()
    assert sent["query"] == {"licence_no": "冀交运管许可石字130102000002号"}  # purpose stays on the platform
    call_id = response.headers["x-govshare-call-id"]
    assert sent["headers"]["x-govshare-call-id"] == call_id
    assert "authorization" not in sent["headers"]  # the caller's token is not passed on

    row = db.get(ApiCall, call_id)
    assert row is not None and row.outcome == "ok" and row.upstream_status == 200
    system_row = db.get(BusinessSystem, row.system_id)
    assert system_row is not None and system_row.code == "transport-license"
    assert row.purpose == "道路运输许可核验" and row.user_id is None
    assert row.response_bytes == len(response.content) and row.response_sm3 == sm3(response.content)
    assert response.headers["x-content-sm3"] == row.response_sm3
    assert row.params_digest is not None and len(row.params_digest) == 64
    event = call_events(db)[-1]
    assert event.outcome == "success" and event.actor_kind == "system"
    details = json.loads(event.details)
    assert details["call_id"] == call_id and details["params_digest"] == row.params_digest
    assert details["bytes"] == row.response_bytes and details["response_sm3"] == row.response_sm3
    assert "130102000002" not in event.details  # the parameters' values are never recorded

    # Equal parameters give an equal digest (supervision can compare calls), others another.
    again = call(
        client, login(client, "transport_admin"), licences, licence_no="冀交运管许可石字130102000002号"
    )
    other = call(
        client, login(client, "transport_admin"), licences, licence_no="冀交运管许可石字130102000003号"
    )
    assert db.get(ApiCall, again.headers["x-govshare-call-id"]).params_digest == row.params_digest
    assert db.get(ApiCall, other.headers["x-govshare-call-id"]).params_digest != row.params_digest


def test_post_services_send_declared_body_parameters(client, city, db, licences, upstream, local) -> None:
    registered(
        client,
        licences,
        upstream,
        path="/verify",
        method="POST",
        parameters=[
            {"name": "credit_code", "in": "body", "required": True},
            {"name": "year", "in": "body"},
            {"name": "channel", "in": "query"},
        ],
        masks=[
            {"path": "result.owner.sfzh", "rule": "id_number"},
            {"path": "result.owner.mobile", "rule": "nullify"},
        ],
    )
    admin = login(client, "transport_admin")
    response = call(
        client, admin, licences, "POST", credit_code="91130100MA0CX4R1XX", year=2026, channel="app"
    )
    assert response.status_code == 200, response.text
    owner = response.json()["result"]["owner"]
    assert owner["sfzh"] == "130102********7718" and owner["mobile"] is None
    sent = upstream.last()
    assert sent["method"] == "POST" and sent["body"] == {"credit_code": "91130100MA0CX4R1XX", "year": 2026}
    assert sent["query"] == {"channel": "app"}
    not_object = client.post(
        f"/api/v1/resources/{licences.id}/service/call",
        params={"purpose": "核验"},
        content=b"[1, 2]",
        headers={**admin, "Content-Type": "application/json"},
    )
    assert not_object.status_code == 422 and "JSON 对象" in not_object.json()["error"]["message"]


def test_purpose_and_parameters_are_checked_and_refusals_recorded(
    client, city, db, licences, upstream, local
) -> None:
    registered(client, licences, upstream)
    admin = login(client, "transport_admin")
    path = f"/api/v1/resources/{licences.id}/service/call"
    before = len(upstream.received)

    no_purpose = client.get(path, params={"licence_no": "1"}, headers=admin)
    assert no_purpose.status_code == 422 and "调用用途" in no_purpose.json()["error"]["message"]
    long_purpose = client.get(path, params={"purpose": "用" * 201, "licence_no": "1"}, headers=admin)
    assert long_purpose.status_code == 422 and "200" in long_purpose.json()["error"]["message"]
    unknown = call(client, admin, licences, licence_no="1", name="张伟")
    assert unknown.status_code == 422 and unknown.json()["error"]["details"]["unknown"] == ["name"]
    missing = call(client, admin, licences)
    assert missing.status_code == 422 and missing.json()["error"]["details"]["missing"] == ["licence_no"]
    too_long = call(client, admin, licences, licence_no="1" * 1001)
    assert too_long.status_code == 422 and "1000" in too_long.json()["error"]["message"]
    assert len(upstream.received) == before  # nothing refused went upstream

    rows = calls(db, licences)
    assert [r.outcome for r in rows] == ["refused"] * 5
    assert rows[0].purpose == "" and rows[1].purpose == "用" * 200
    assert {r.id for r in rows} == {
        r.json()["error"]["details"]["call_id"]
        for r in (no_purpose, long_purpose, unknown, missing, too_long)
    }
    events = call_events(db)
    assert len(events) == 5 and {e.outcome for e in events} == {"denied"}
    assert all("张伟" not in e.details for e in events)


def test_another_department_needs_a_grant(client, city, db, licences, upstream, local) -> None:
    registered(client, licences, upstream)
    before = len(upstream.received)
    for headers in (
        login(client, "police_admin"),
        bearer(city.tokens["police-hukou"]),
        login(client, "bureau_admin"),
    ):
        refused = call(client, headers, licences, licence_no="1")
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert "共享授权" in error["message"] and error["details"]["reason"] == "grant_required"
    staff = call(
        client, login(client, "transport_user"), licences, licence_no="1"
    )  # the provider's business user
    assert staff.status_code == 403 and staff.json()["error"]["details"]["reason"] == "provider_role"
    assert len(upstream.received) == before

    rows = calls(db, licences)
    assert [r.outcome for r in rows] == ["refused"] * 4
    police = db.scalar(select(Organisation).where(Organisation.short_name == "市公安局"))
    assert police is not None and rows[0].caller_org_id == police.id and rows[1].system_id is not None
    events = call_events(db)
    assert [e.outcome for e in events] == ["denied"] * 4
    assert json.loads(events[0].details)["reason"].startswith("调用其他部门的接口服务需要共享授权")


def test_a_grant_for_the_purpose_lets_another_department_call(
    client, city, db, licences, upstream, local
) -> None:
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
    if requested.json()["status"] == "pending":  # 有条件共享: the provider's approver answers
        decided = client.post(
            f"/api/v1/requests/{requested.json()['id']}/decision",
            json={"decision": "approve", "reason": "同意"},
            headers=login(client, "transport_approver"),
        )
        assert decided.status_code == 200, decided.text
    answered = call(client, police, licences, licence_no="冀交运管许可石字130102000002号")
    assert answered.status_code == 200, answered.text
    assert answered.json()["data"][0]["sfzh"] == "130102********7718"  # the service's masks still apply
    other = client.get(
        f"/api/v1/resources/{licences.id}/service/call",
        params={"purpose": "商业营销", "licence_no": "1"},
        headers=police,
    )
    assert other.status_code == 403 and other.json()["error"]["details"]["reason"] == "purpose_mismatch"
    hrss = call(client, login(client, "hrss_user"), licences, licence_no="1")  # holds no grant
    assert hrss.status_code == 403 and hrss.json()["error"]["details"]["reason"] == "grant_required"


def test_a_timeout_is_504_and_recorded(client, city, db, licences, upstream, local) -> None:
    registered(client, licences, upstream, path="/slow", timeout_seconds=1, parameters=[], masks=[])
    started = utcnow()
    response = call(client, login(client, "transport_admin"), licences)
    assert response.status_code == 504, response.text
    assert (utcnow() - started).total_seconds() < 2.5  # the deadline, not the upstream's 3 seconds
    assert "1 秒内没有完成应答" in response.json()["error"]["message"]
    row = db.get(ApiCall, response.json()["error"]["details"]["call_id"])
    assert row is not None and row.outcome == "timeout" and row.duration_ms >= 900
    assert call_events(db)[-1].outcome == "failed"


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/error", 500, "HTTP 500"),
        ("/redirect", 302, "HTTP 302"),  # redirects are not followed
    ],
)
def test_upstream_errors_are_502_with_the_status(
    client, city, db, licences, upstream, local, path, status, message
) -> None:
    registered(client, licences, upstream, path=path, parameters=[], masks=[])
    response = call(client, login(client, "transport_admin"), licences)
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert message in error["message"] and error["details"]["upstream_status"] == status
    row = db.get(ApiCall, error["details"]["call_id"])
    assert row is not None and row.outcome == "upstream_error" and row.upstream_status == status
    assert [r["path"] for r in upstream.received[-1:]] == [path]  # one request, no second one to /licence


@pytest.mark.parametrize("path", ["/huge", "/huge-stream"])
def test_an_answer_beyond_the_size_limit_is_502(client, city, db, licences, upstream, local, path) -> None:
    registered(client, licences, upstream, path=path, parameters=[], masks=[])
    with settings_override(service_max_response_bytes=65536):
        response = call(client, login(client, "transport_admin"), licences)
    assert response.status_code == 502, response.text
    assert "65536 字节" in response.json()["error"]["message"]
    assert calls(db, licences)[-1].outcome == "upstream_error"


def test_masks_need_json_of_the_registered_shape(client, city, db, licences, upstream, local) -> None:
    admin = login(client, "transport_admin")
    version = registered(client, licences, upstream, path="/text", parameters=[])["version"]
    not_json = call(client, admin, licences)
    assert not_json.status_code == 502 and "不是 JSON" in not_json.json()["error"]["message"]
    version = register(
        client, admin, licences, registration(upstream, path="/shape", parameters=[], version=version)
    ).json()["version"]
    shape = call(client, admin, licences)
    assert shape.status_code == 502 and "数据结构与脱敏配置不符" in shape.json()["error"]["message"]
    assert PERSON["sfzh"] not in shape.text
    # Without masks an answer goes out as it came, except as a page of the platform.
    version = register(
        client,
        admin,
        licences,
        registration(upstream, path="/text", parameters=[], masks=[], version=version),
    ).json()["version"]
    text = call(client, admin, licences)
    assert (
        text.status_code == 200
        and text.text == "许可证有效"
        and text.headers["content-type"].startswith("text/plain")
    )
    register(
        client,
        admin,
        licences,
        registration(upstream, path="/html", parameters=[], masks=[], version=version),
    )
    html = call(client, admin, licences)
    assert html.status_code == 200 and html.headers["content-type"] == "application/octet-stream"
    assert [r.outcome for r in calls(db, licences)] == ["upstream_error", "upstream_error", "ok", "ok"]


def test_the_rate_limit_refuses_with_retry_after_then_opens_the_next_minute(
    client, city, db, licences, upstream, local
) -> None:
    registered(client, licences, upstream, rate_per_minute=2)
    admin = login(client, "transport_admin")
    system = bearer(city.tokens["transport-license"])
    if utcnow().second >= 50:  # the three calls below must fall in one minute's window
        time.sleep(61 - utcnow().second)
    assert call(client, admin, licences, licence_no="1").status_code == 200
    assert call(client, system, licences, licence_no="2").status_code == 200  # same department, same count
    limited = call(client, admin, licences, licence_no="3")
    assert limited.status_code == 429, limited.text
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["x-govshare-call-id"] == limited.json()["error"]["details"]["call_id"]
    assert "每分钟 2 次" in limited.json()["error"]["message"]
    assert calls(db, licences)[-1].outcome == "rate_limited"

    # The next minute's window (no sleeping: the service takes the call's time).
    transport = actor(db, "transport_admin")
    request = CallRequest(purpose="下一分钟", query=[("licence_no", "4")])
    later = utcnow() + timedelta(minutes=1)
    # In a thread of its own: a worker that ran browser tests has Playwright's event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(
            anyio.run,
            lambda: services.call(db, actor=transport, resource_id=licences.id, request=request, now=later),
        ).result()
    assert json.loads(result.body)["data"][0]["sfzh"] == "130102********7718"
    prepare_call(db, actor=transport, resource_id=licences.id, request=request, now=later)
    with pytest.raises(RateLimited):
        prepare_call(db, actor=transport, resource_id=licences.id, request=request, now=later)
    assert db.scalar(select(func.count()).select_from(ApiRateWindow)) == 1  # the old window is gone


def test_the_rate_counter_is_per_department_and_window(db, city, licences) -> None:
    transport = actor(db, "transport_admin").org_id
    police = actor(db, "police_admin").org_id
    assert transport is not None and police is not None
    now = utcnow().replace(second=30)
    assert [take_slot(db, resource_id=licences.id, org_id=transport, limit=3, now=now) for _ in range(3)] == [
        None
    ] * 3
    assert take_slot(db, resource_id=licences.id, org_id=transport, limit=3, now=now) == 30
    assert take_slot(db, resource_id=licences.id, org_id=police, limit=3, now=now) is None
    assert (
        take_slot(db, resource_id=licences.id, org_id=transport, limit=3, now=now + timedelta(seconds=40))
        is None
    )


def test_the_rate_counter_holds_for_several_instances(engine, demo_city) -> None:
    """Separate connections (as several platform processes have) race for one minute's slots; the
    count holds. Their transactions commit for real, so the test uses a minute of its own and
    removes its rows afterwards."""
    with unit_of_work(engine) as db:
        resource_id = db.scalar(select(Resource.id).where(Resource.name == "道路运输经营许可信息"))
        org_id = db.scalar(select(Organisation.id).where(Organisation.short_name == "市公安局"))
    assert resource_id is not None and org_id is not None
    minute = datetime(2099, 1, 1, tzinfo=UTC) + timedelta(minutes=uuid.uuid4().int % 100_000, seconds=5)
    taken: list[int | None] = []
    start = threading.Barrier(3)

    def instance() -> None:
        start.wait()
        for _ in range(10):
            with unit_of_work(engine) as db:
                taken.append(take_slot(db, resource_id=resource_id, org_id=org_id, limit=12, now=minute))

    threads = [threading.Thread(target=instance) for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(taken) == 30 and taken.count(None) == 12
        assert set(taken) - {None} == {55}
    finally:
        with unit_of_work(engine) as db:
            db.execute(delete(ApiRateWindow).where(ApiRateWindow.window_start == minute.replace(second=0)))


def test_allowed_networks_must_be_cidrs() -> None:
    assert Settings(service_allowed_networks=["10.0.0.0/8", "127.0.0.1"]).service_allowed_networks
    with pytest.raises(ValidationError, match="not a CIDR"):
        Settings(service_allowed_networks=["内网"])


def test_the_guard_applies_at_call_time_too(client, city, db, licences, upstream) -> None:
    with settings_override(service_allowed_networks=LOCAL):
        registered(client, licences, upstream)
    before = len(upstream.received)
    response = call(client, login(client, "transport_admin"), licences, licence_no="1")
    assert response.status_code == 502 and "本机回环地址" in response.json()["error"]["message"]
    assert len(upstream.received) == before
    assert calls(db, licences)[-1].outcome == "upstream_error"


def test_a_disabled_service_refuses_calls_and_the_calls_are_listed(
    client, city, db, licences, upstream, local
) -> None:
    saved = registered(client, licences, upstream)
    admin = login(client, "transport_admin")
    assert call(client, admin, licences, licence_no="1").status_code == 200
    register(client, admin, licences, registration(upstream, enabled=False, version=saved["version"]))
    disabled = call(client, admin, licences, licence_no="1")
    assert disabled.status_code == 409 and "已停用" in disabled.json()["error"]["message"]

    path = f"/api/v1/resources/{licences.id}/service/calls"
    listed = client.get(path, params={"page_size": 1}, headers=login(client, "bureau_admin"))
    assert listed.status_code == 200 and listed.json()["total"] == 2
    assert [c["outcome"] for c in listed.json()["items"]] == ["refused"]  # newest first
    assert client.get(path, headers=admin).json()["items"][1]["outcome"] == "ok"
    assert client.get(path, headers=login(client, "police_admin")).status_code == 403
    unregistered = db.scalar(select(Resource).where(Resource.name == "公交线路站点信息"))
    assert call(client, admin, unregistered).status_code == 404
    assert client.get(f"/api/v1/resources/{unregistered.id}/service", headers=admin).status_code == 404
