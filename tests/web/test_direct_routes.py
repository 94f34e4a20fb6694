"""The data API's page of rows, dispatched straight to its endpoint (`DirectRoutes`): the same
answers as through the router, for deliveries and for every kind of refusal, and only for the
routes and requests that qualify."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.testclient import TestClient

from govshare.sharing import api as sharing_api
from govshare.web.middleware import DirectRoutes, direct_route
from tests.conftest import app_within
from tests.helpers import login
from tests.sharing.test_requests import PURPOSE
from tests.sharing.test_rows import granted, loaded

COMPARED_HEADERS = (
    "content-type",
    "x-content-sm3",
    "x-govshare-grant",
    "x-content-type-options",
    "x-frame-options",
    "content-security-policy",
    "cache-control",
)


def _answer(response: Any) -> tuple[int, dict[str, str | None], Any]:
    """What a caller gets, with a cursor's sealing (random each time) reduced to whether there is one."""
    headers = {name: response.headers.get(name) for name in COMPARED_HEADERS}
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict) and "next_cursor" in body:
            body["next_cursor"] = body["next_cursor"] is not None
    else:
        body = response.text
    return response.status_code, headers, body


def _direct(app: Any) -> DirectRoutes:
    """The application's `DirectRoutes` middleware (its stack is built by the first request)."""
    layer = app.middleware_stack
    while not isinstance(layer, DirectRoutes):
        layer = layer.app
    return layer


def test_the_page_of_rows_answers_as_through_the_router(client, app, engine, db, city) -> None:  # type: ignore[no-untyped-def]
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "name", "mobile", "region_code"])
    routed_app = app_within(engine, db)
    routed_app.user_middleware = [m for m in routed_app.user_middleware if m.cls is not DirectRoutes]
    base = f"/api/v1/resources/{population.id}/rows"
    cases: list[tuple[str, dict[str, str], dict[str, str]]] = [
        ("delivered", {"purpose": PURPOSE}, civil),
        ("filtered", {"purpose": PURPOSE, "region_code": "130102"}, civil),
        ("paged", {"purpose": PURPOSE, "limit": "2"}, civil),
        ("csv", {"purpose": PURPOSE, "format": "csv"}, civil),
        ("chosen fields", {"purpose": PURPOSE, "fields": "name,mobile"}, civil),
        ("no token", {"purpose": PURPOSE}, {}),
        ("forged token", {"purpose": PURPOSE}, {"Authorization": "Bearer gss_forged"}),
        ("other purpose", {"purpose": "别的用途"}, civil),
        ("no purpose", {}, civil),
        ("bad limit", {"purpose": PURPOSE, "limit": "many"}, civil),
        ("limit out of range", {"purpose": PURPOSE, "limit": "0"}, civil),
        ("bad cursor", {"purpose": PURPOSE, "cursor": "forged"}, civil),
        ("filter outside the grant", {"purpose": PURPOSE, "gender": "男"}, civil),
        ("bad format", {"purpose": PURPOSE, "format": "xml"}, civil),
    ]
    with TestClient(routed_app, client=("127.0.0.1", 50000)) as routed:
        for name, params, headers in cases:
            direct = _answer(client.get(base, params=params, headers=headers))
            assert direct == _answer(routed.get(base, params=params, headers=headers)), name
        for number in ("987654321", "9" * 18):  # unknown, and beyond what the database's integers hold
            unknown = f"/api/v1/resources/{number}/rows"
            answer = _answer(client.get(unknown, params={"purpose": PURPOSE}, headers=civil))
            assert answer == _answer(routed.get(unknown, params={"purpose": PURPOSE}, headers=civil))
            assert answer[0] in (404, 422), answer
        # The second page through each, by the cursor each one gave.
        paged = {"purpose": PURPOSE, "limit": "2"}
        first = client.get(base, params=paged, headers=civil).json()
        first_routed = routed.get(base, params=paged, headers=civil).json()
        second = client.get(base, params={**paged, "cursor": first["next_cursor"]}, headers=civil)
        again = {**paged, "cursor": first_routed["next_cursor"]}
        second_routed = routed.get(base, params=again, headers=civil)
        assert second.status_code == 200 and _answer(second) == _answer(second_routed)
        assert second.json()["rows"] != first["rows"]


def test_qualifying_requests_never_reach_the_router(client, app, db, city) -> None:  # type: ignore[no-untyped-def]
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population)
    assert client.get("/healthz").status_code == 200  # builds the middleware stack
    direct = _direct(app)
    router = direct.app
    reached: list[tuple[str, str]] = []

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        reached.append((scope["method"], scope["path"]))
        await router(scope, receive, send)

    direct.app = recording
    base = f"/api/v1/resources/{population.id}/rows"
    page = client.get(base, params={"purpose": PURPOSE}, headers=civil)
    assert page.status_code == 200 and len(page.json()["rows"]) == 5
    assert client.get(base, headers=civil).status_code == 422  # refused directly too
    assert reached == []
    # The rest takes the usual way: other methods, other routes, a path parameter that is not plain
    # digits (the router's validation answers), and the feed of changes.
    assert client.post(base, headers=civil).status_code == 405
    assert client.get("/api/v1/resources/abc/rows", headers=civil).status_code == 422
    assert client.get("/api/v1/resources/١/rows", headers=civil).status_code == 422
    too_long = "/api/v1/resources/" + "9" * 5000 + "/rows"
    assert client.get(too_long, headers=civil).status_code == 422
    changes = f"/api/v1/resources/{population.id}/changes"
    assert client.get(changes, params={"purpose": PURPOSE}, headers=civil).status_code == 200
    assert reached == [
        ("POST", base),
        ("GET", "/api/v1/resources/abc/rows"),
        ("GET", "/api/v1/resources/١/rows"),
        ("GET", too_long),
        ("GET", changes),
    ]


def test_only_an_endpoint_that_reads_nothing_through_fastapi_qualifies() -> None:
    assert direct_route(sharing_api.router.routes, sharing_api.read_rows).path.endswith("/rows")
    with pytest.raises(ValueError, match="more than the request"):
        direct_route(sharing_api.router.routes, sharing_api.read_changes)  # declares query parameters

    router = APIRouter()

    def needs() -> str:
        return "x"

    @router.get("/a/{n}")
    async def with_dependency(n: int, request: Request, x: str = Depends(needs)) -> None: ...

    @router.get("/b/{code}")
    async def text_parameter(code: str, request: Request) -> None: ...

    @router.get("/c/{n}", dependencies=[Depends(needs)])
    async def route_dependency(n: int, request: Request) -> None: ...

    @router.post("/d/{n}")
    async def posted(n: int, request: Request) -> None: ...

    for endpoint in (with_dependency, text_parameter, route_dependency, posted):
        with pytest.raises(ValueError):
            direct_route(router.routes, endpoint)
