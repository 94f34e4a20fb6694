"""The API-service page: register through the form (errors come back on it), upload an OpenAPI
document, try the service, see the calls and their chart; disable, clear the credential; who sees
the page and who may change it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from govshare.catalog.models import Resource
from govshare.exchange.service_models import ApiCall, ApiService
from tests.conftest import settings_override
from tests.exchange.upstream import PERSON, Upstream, serve
from tests.ui import browser, hidden, text, texts


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with serve() as server:
        yield server


@pytest.fixture
def local() -> Iterator[None]:
    with settings_override(service_allowed_networks='["127.0.0.0/8"]'):
        yield


@pytest.fixture
def licences(db) -> Resource:  # type: ignore[no-untyped-def]
    found = db.scalar(select(Resource).where(Resource.name == "道路运输经营许可信息"))
    assert found is not None
    return found


def form(upstream: Upstream, **extra: str) -> dict[str, str]:
    return {
        "url": upstream.url("/licence"),
        "method": "GET",
        "parameters": "licence_no query 必填 道路运输经营许可证号\nregion query 可选",
        "timeout_seconds": "2",
        "rate_per_minute": "",
        "masks": "data[*].sfzh = id_number\ndata[*].legal_person = name\ndata[*].mobile = keep(3,4)\n",
        "credential_header": "X-Api-Key",
        "credential_value": "page-secret-1",
        **extra,
    }


def stored(db, resource: Resource) -> ApiService:  # type: ignore[no-untyped-def]
    service = db.scalar(select(ApiService).where(ApiService.resource_id == resource.id))
    assert service is not None
    db.refresh(service)
    return service


def test_register_try_and_see_calls_through_the_page(
    app, client, city, db, licences, upstream, local
) -> None:
    admin = browser(app, "transport_admin")
    path = f"/catalog/{licences.id}/service"
    empty = admin.get(path)
    assert empty.status_code == 200, empty.text
    assert 'data-testid="no-service"' in empty.text and 'data-testid="service-form"' in empty.text
    assert 'data-testid="try-form"' not in empty.text and 'data-testid="no-calls"' in empty.text

    refused = admin.post(path, form(upstream, url="http://169.254.169.254/latest/meta-data"))
    assert refused.status_code == 422
    assert "链路本地地址" in text(refused.text, "form-error")
    assert 'value="http://169.254.169.254/latest/meta-data"' in refused.text  # the form keeps what was typed
    bad_mask = admin.post(path, form(upstream, masks="data[0].sfzh = id_number"))
    assert bad_mask.status_code == 422 and "脱敏路径" in text(bad_mask.text, "form-error")
    no_equals = admin.post(path, form(upstream, masks="data[*].sfzh id_number"))
    assert "路径 = 规则" in text(no_equals.text, "form-error")
    not_number = admin.post(path, form(upstream, timeout_seconds="很久"))
    assert not_number.status_code == 422 and "超时（秒）" in text(not_number.text, "form-error")
    assert db.scalar(select(ApiService).where(ApiService.resource_id == licences.id)) is None

    saved = admin.post(path, form(upstream))
    assert saved.status_code == 303, saved.text
    page = admin.get(saved.headers["location"])
    assert "地址检查通过" in text(page.text, "flash")
    assert text(page.text, "service-url") == f"GET {upstream.url('/licence')}"
    assert "X-Api-Key" in text(page.text, "service-credential") and "page-secret-1" not in page.text
    service = stored(db, licences)
    assert [p["name"] for p in service.parameters] == ["licence_no", "region"]
    assert service.parameters[0]["required"] is True and service.parameters[1]["required"] is False
    assert service.masks[2] == {"path": "data[*].mobile", "rule": "keep(3,4)"}

    # An OpenAPI document comes as a JSON file; a file that is not JSON comes back on the form.
    document = {"openapi": "3.0.3", "info": {"title": "道路运输经营许可核验", "version": "1"}, "paths": {}}
    fields = {
        **form(upstream, credential_value=""),
        "version": hidden(page.text, "version"),
        "csrf_token": admin.csrf,
    }
    not_json = admin.client.post(
        path, data=fields, files={"openapi_file": ("openapi.yaml", b"openapi: 3.0.3", "text/yaml")}
    )
    assert not_json.status_code == 422 and "JSON 文件" in text(not_json.text, "form-error")
    uploaded = admin.client.post(
        path,
        data=fields,
        files={"openapi_file": ("openapi.json", json.dumps(document).encode(), "application/json")},
        follow_redirects=False,
    )
    assert uploaded.status_code == 303, uploaded.text
    service = stored(db, licences)
    assert service.openapi == document and service.credential_sealed is not None  # blank value: kept

    # A trial call shows the masked answer; a refused one shows why, and both are listed.
    tried = admin.post(
        f"{path}/try", {"purpose": "接口联调测试", "values": "licence_no = 冀交运管许可石字1号\nregion ="}
    )
    assert tried.status_code == 200, tried.text
    assert "调用成功" in text(tried.text, "try-ok")
    body = text(tried.text, "try-body")
    assert "130102********7718" in body and "欧阳**" in body and "139****5678" in body
    assert PERSON["sfzh"] not in tried.text and PERSON["mobile"] not in tried.text
    assert upstream.last()["query"] == {"licence_no": "冀交运管许可石字1号"}
    assert upstream.last()["headers"]["x-api-key"] == "page-secret-1"
    missing = admin.post(f"{path}/try", {"purpose": "接口联调测试", "values": ""})
    assert missing.status_code == 422 and "缺少必填参数" in text(missing.text, "try-error")
    call_id = text(missing.text, "try-call-id")
    assert db.get(ApiCall, call_id) is not None

    page = admin.get(path).text
    assert texts(page, "call-outcome") == ["拒绝", "成功"]  # newest first
    chart = json.loads(text(page, "chart-data"))
    series = {s["name"]: s["data"] for s in chart["series"]}
    assert series["成功"][-1] == 1 and series["拒绝"][-1] == 1 and len(series["成功"]) == 14
    assert sum(series["超时"]) == 0

    # Disabling and clearing ask first (data-confirm) and take effect.
    assert 'data-confirm="确定停用该接口服务吗' in page
    assert admin.post(f"{path}/disable", {}).status_code == 303
    after = admin.get(path).text
    assert text(after, "service-state") == "已停用" and 'data-testid="try-form"' not in after
    assert admin.post(f"{path}/enable", {}).status_code == 303
    assert admin.post(f"{path}/credential/remove", {}).status_code == 303
    assert admin.post(f"{path}/openapi/remove", {}).status_code == 303
    service = stored(db, licences)
    assert service.enabled and service.credential_sealed is None and service.openapi is None
    assert text(admin.get(path).text, "service-credential") == "无"


def test_the_bureau_and_the_security_officer_see_it_read_only_and_others_are_refused(
    app, client, city, db, licences, upstream, local
) -> None:
    admin = browser(app, "transport_admin")
    path = f"/catalog/{licences.id}/service"
    assert admin.post(path, form(upstream)).status_code == 303
    for username in ("bureau_admin", "bureau_auditor", "transport_security"):
        page = browser(app, username).get(path)
        assert page.status_code == 200, (username, page.text)
        assert 'data-testid="service-registration"' in page.text
        assert 'data-testid="service-form"' not in page.text and 'data-testid="try-form"' not in page.text
        assert 'data-testid="service-disable"' not in page.text
    security = browser(app, "transport_security")
    assert security.post(f"{path}/try", {"purpose": "试", "values": "licence_no = 1"}).status_code == 403
    assert security.post(f"{path}/disable", {}).status_code == 403
    for username in ("police_admin", "transport_user"):
        other = browser(app, username)
        assert other.get(path).status_code == 403
        assert other.post(path, form(upstream)).status_code == 403
    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert browser(app, "police_admin").get(f"/catalog/{population.id}/service").status_code == 404  # 库表

    # The catalog entry of a 接口 resource links to the page for those who may see it.
    entry = f"/catalog/{licences.id}"
    assert f'href="{path}"' in admin.get(entry).text
    assert f'href="{path}"' not in browser(app, "police_admin").get(entry).text


def test_a_trial_of_a_failing_upstream_shows_the_reason(
    app, client, city, db, licences, upstream, local
) -> None:
    admin = browser(app, "transport_admin")
    path = f"/catalog/{licences.id}/service"
    fields: dict[str, Any] = form(upstream, url=upstream.url("/error"), parameters="", masks="")
    assert admin.post(path, fields).status_code == 303
    failed = admin.post(f"{path}/try", {"purpose": "联调", "values": ""})
    assert failed.status_code == 502
    assert "HTTP 500" in text(failed.text, "try-error")
    assert texts(admin.get(path).text, "call-outcome") == ["上游错误"]
