"""ASGI middleware: request body limits, security headers and the data API's admission."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

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
