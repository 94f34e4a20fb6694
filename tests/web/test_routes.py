"""Every route is either protected or explicitly public, and behaves so without credentials."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from govshare.web.app import routers
from govshare.web.deps import current_actor, has_own_unit, is_public

# Routes FastAPI generates itself: the OpenAPI document and its viewer are deliberately public
# (business systems integrate against them).
FRAMEWORK_PUBLIC = {"/api/v1/openapi.json", "/api/docs"}
EXPECTED_PUBLIC = {
    ("GET", "/healthz"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/login"),
    ("POST", "/login"),
    # The public reports (公示, M23): the archive, each report, its PDF and CSV.
    ("GET", "/open/reports"),
    ("GET", "/open/reports/{report_id}"),
    ("GET", "/open/reports/{report_id}.pdf"),
    ("GET", "/open/reports/{report_id}.csv"),
    ("GET", "/api/v1/open/reports"),
    ("GET", "/api/v1/open/reports/{report_id}"),
    # The open-data portal and API (no login, M1/M3): rate-limited and audited where data leaves.
    ("GET", "/api/v1/open/resources"),
    ("GET", "/api/v1/open/resources/{resource_id}"),
    ("GET", "/api/v1/open/resources/{resource_id}/rows"),
    ("GET", "/open"),
    ("GET", "/open/resources"),
    ("GET", "/open/resources/{resource_id}"),
    ("GET", "/open/resources/{resource_id}/download.csv"),
    ("GET", "/open/resources/{resource_id}/download.json"),
    ("POST", "/open/resources/{resource_id}/apply"),
    ("GET", "/open/applications/lookup"),
    ("POST", "/open/applications/lookup"),
    ("POST", "/open/applications/download"),
}


def _depends_on_actor(route: APIRoute) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is current_actor:
            return True
        stack.extend(dep.dependencies)
    return False


def _api_routes(app) -> list[APIRoute]:  # type: ignore[no-untyped-def]
    """All APIRoutes of the app, whether FastAPI flattens included routers or nests them."""
    found: list[APIRoute] = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(r for r in route.original_router.routes if isinstance(r, APIRoute))
    return found


def _routes(app):  # type: ignore[no-untyped-def]
    for route in _api_routes(app):
        for method in sorted(route.methods):
            yield method, route


def test_route_walk_sees_every_router(app) -> None:
    expected = {id(r) for router in routers() for r in router.routes}
    walked = {id(r) for r in _api_routes(app)}
    assert expected <= walked and len(walked) > 30


def test_every_route_is_protected_or_explicitly_public(app) -> None:
    public, unprotected = set(), []
    for method, route in _routes(app):
        if is_public(route.endpoint):
            public.add((method, route.path))
        elif not (_depends_on_actor(route) or has_own_unit(route.endpoint)):
            unprotected.append(f"{method} {route.path}")
    assert unprotected == [], f"routes neither protected nor @public: {unprotected}"
    assert public == EXPECTED_PUBLIC, "a route became public: review it and update EXPECTED_PUBLIC"
    others = [r for r in app.routes if not isinstance(r, APIRoute) and not hasattr(r, "original_router")]
    for route in others:
        if isinstance(route, Mount):
            assert route.path == "/static", f"unexpected mount {route.path}"
        else:
            assert isinstance(route, Route) and route.path in FRAMEWORK_PUBLIC, (
                f"unexpected route {route.path}"
            )


def test_protected_routes_refuse_anonymous_callers(client, app) -> None:
    checked = 0
    for method, route in _routes(app):
        if is_public(route.endpoint):
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        response = client.request(method, path, follow_redirects=False)
        if path.startswith("/api/"):
            assert response.status_code == 401, f"{method} {path} gave {response.status_code}"
            assert response.json()["error"]["code"] == "unauthorized"
        elif method == "GET":
            assert response.status_code == 303, f"{method} {path} gave {response.status_code}"
            assert response.headers["location"].startswith("/login?next=")
        else:
            assert response.status_code == 401, f"{method} {path} gave {response.status_code}"
        checked += 1
    assert checked > 20


def test_static_assets_are_self_hosted(client) -> None:
    for asset in (
        "/static/app.css",
        "/static/app.js",
        "/static/vendor/htmx.min.js",
        "/static/vendor/echarts.min.js",
    ):
        response = client.get(asset)
        assert response.status_code == 200, asset
    page = client.get("/login").text
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
