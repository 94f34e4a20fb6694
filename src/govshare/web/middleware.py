"""ASGI middleware: request body limits, security headers, the data API's admission and its
direct dispatch."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govshare.errors import TooLarge


class BodyLimit:
    """Refuse bodies larger than the limit for their path, declared or streamed, with 413."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int,
        overrides: dict[str, int] | None = None,
        patterns: list[tuple[re.Pattern[str], int]] | None = None,
    ) -> None:
        self.app = app
        self.default = default
        self.overrides = sorted((overrides or {}).items(), key=lambda kv: -len(kv[0]))
        self.patterns = patterns or []

    def limit_for(self, path: str) -> int:
        """The limit of the first path pattern that matches, else of the longest prefix, else the default."""
        for pattern, limit in self.patterns:
            if pattern.fullmatch(path):
                return limit
        return next((limit for prefix, limit in self.overrides if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await _too_large(send, limit)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    error = TooLarge(
        f"提交的内容超过上限（{limit // 1024} KB），请拆分后重试。",
        f"The request body exceeds {limit} bytes.",
        details={"limit_bytes": limit},
    )
    body = json.dumps(error.to_dict(), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    (b"content-security-policy", CSP.encode()),
                    (b"cache-control", b"public, max-age=3600" if static else b"no-store"),
                ]
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


ADMITTED = "govshare.admitted"  # scope key: gives up the request's turn (`give_turn`)


class Admission:
    """At most `slots` requests to paths matching `pattern` run at once in this process; the others
    wait their turn in order of arrival.

    A data API call is CPU work in Python from its token to its answer. Eight of them in the threads
    of one process do not finish sooner than one after another: they take turns for the interpreter
    lock, each one's answer is as late as the slowest, and the switching costs time of its own.
    Admitted one at a time per process (`GOVSHARE_DATA_API_CONCURRENCY`), with a process per core,
    the same load is served with more calls a second and a far shorter tail. Other routes are not
    held back.

    A call that has done its work and only waits for the database to commit what it recorded gives
    up its turn (`give_turn`): the next call works meanwhile, and the waiting ones commit together
    (`db._GroupWriter`)."""

    def __init__(self, app: ASGIApp, *, pattern: re.Pattern[str], slots: int) -> None:
        self.app = app
        self.pattern = pattern
        self.slots = slots
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turns = asyncio.Semaphore(slots)

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a semaphore serves the event loop it was first used in
            self._loop, self._turns = loop, asyncio.Semaphore(self.slots)
        return self._turns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.pattern.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        turns = self._semaphore()
        await turns.acquire()
        held = True

        def give_up() -> None:
            nonlocal held
            if held:
                held = False
                turns.release()

        scope[ADMITTED] = give_up
        try:
            await self.app(scope, receive, send)
        finally:
            give_up()


def give_turn(scope: Scope) -> None:
    """Let the next admitted request start (on the event loop's thread); nothing for a request that
    was not admitted, or gave up its turn already."""
    give_up = scope.get(ADMITTED)
    if give_up is not None:
        give_up()


MAX_DIGITS = 18  # a longer path integer goes the usual way (Python refuses int() past 4,300 digits)


class DirectRoutes:
    """GET requests for `routes` go straight to their endpoints, not through the router.

    For the data API's page of rows, the way from the middleware to the endpoint (the exception
    middleware, matching the path against every route, FastAPI's request handler and its exit
    stacks) cost a tenth of a call's CPU (bench/README.md). Only routes whose endpoint reads
    nothing through FastAPI qualify (`direct_route`): integer path parameters and the request, no
    query, header, cookie or body parameters, no dependencies; so what FastAPI would have done
    for them is to call the endpoint with the path's integers and send the response it returns.
    The errors it raises get the application's handlers, as the exception middleware would give
    them; the rest reaches the server-error middleware as before. Anything else, and any path
    parameter that is not plain digits (the router answers 422) or is longer than `MAX_DIGITS`,
    takes the usual way."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[APIRoute]) -> None:
        self.app = app
        self.routes = list(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            for route in self.routes:
                found = route.path_regex.match(scope["path"])
                if found is not None:
                    given = found.groupdict()
                    if all(v.isascii() and v.isdigit() and len(v) <= MAX_DIGITS for v in given.values()):
                        await _dispatch(route, given, scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


async def _dispatch(
    route: APIRoute, given: dict[str, str], scope: Scope, receive: Receive, send: Send
) -> None:
    scope["path_params"], scope["route"], scope["endpoint"] = given, route, route.endpoint
    request = Request(scope, receive, send)
    numbers = {name: int(value) for name, value in given.items()}
    try:
        response = await route.endpoint(request=request, **numbers)
    except Exception as exc:
        handler = _handler_for(scope["app"], exc)
        if handler is None:
            raise
        if inspect.iscoroutinefunction(handler):
            response = await handler(request, exc)
        else:
            response = await run_in_threadpool(handler, request, exc)
    await response(scope, receive, send)


def _handler_for(app: Any, exc: Exception) -> Callable[..., Any] | None:
    """The application's handler for `exc` as the exception middleware finds it (the nearest class
    in its MRO); none for what the server-error middleware handles (`Exception`, 500)."""
    handlers = app.exception_handlers
    for kind in type(exc).__mro__:
        if kind is Exception:
            return None
        if kind in handlers:
            return handlers[kind]  # type: ignore[no-any-return]
    return None


def direct_route(routes: Sequence[Any], endpoint: Callable[..., Any]) -> APIRoute:
    """The GET route among `routes` served by `endpoint`, checked to qualify for `DirectRoutes`;
    raises ValueError (at startup) for one that reads anything through FastAPI."""
    found = [r for r in routes if isinstance(r, APIRoute) and r.endpoint is endpoint]
    if len(found) != 1 or found[0].methods != {"GET"}:
        raise ValueError(f"{endpoint.__name__}: not the endpoint of exactly one GET route")
    route, dependant = found[0], found[0].dependant
    path_names = {p.name for p in dependant.path_params}
    reads = (
        dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.dependencies
        or route.dependencies
        or dependant.request_param_name != "request"
        or any(p.field_info.annotation is not int for p in dependant.path_params)
        or set(inspect.signature(endpoint).parameters) != {"request", *path_names}
        or not inspect.iscoroutinefunction(endpoint)
    )
    if reads:
        raise ValueError(
            f"{route.path}: its endpoint takes more than the request and integer path parameters"
        )
    return route
