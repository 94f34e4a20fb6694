"""A real HTTP upstream for API-service tests: a small Starlette app under uvicorn on 127.0.0.1, in a
thread, serving JSON, a slow answer, an error, non-JSON, a redirect and answers too large to relay.
It remembers what it received, so tests can see what the platform sent (credential, parameters)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

PERSON = {
    "licence_no": "冀交运管许可石字130102000001号",
    "enterprise_name": "石家庄市长安运输有限公司",
    "legal_person": "欧阳娜娜",
    "sfzh": "130102198503177718",
    "mobile": "13912345678",
    "address": "河北省石家庄市长安区中山东路39号",
    "bank_card": "6222021234567890123",
}
SLOW_SECONDS = 3.0
HUGE_BYTES = 256 * 1024


@dataclass
class Upstream:
    base: str
    received: list[dict[str, Any]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def last(self) -> dict[str, Any]:
        assert self.received, "the upstream received nothing"
        return self.received[-1]


def _app(seen: list[dict[str, Any]]) -> Starlette:
    async def remember(request: Request) -> dict[str, Any]:
        body = await request.body()
        entry = {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": json.loads(body) if body else None,
        }
        seen.append(entry)
        return entry

    async def licence(request: Request) -> Response:
        entry = await remember(request)
        record = {**PERSON, "licence_no": entry["query"].get("licence_no", PERSON["licence_no"])}
        return JSONResponse({"code": 0, "data": [record, {**record, "legal_person": "张伟"}]})

    async def verify(request: Request) -> Response:
        entry = await remember(request)
        return JSONResponse({"result": {"owner": dict(PERSON), "asked": entry["body"]}})

    async def slow(request: Request) -> Response:
        await remember(request)
        await asyncio.sleep(SLOW_SECONDS)
        return JSONResponse({"data": []})

    async def error(request: Request) -> Response:
        await remember(request)
        return JSONResponse({"message": "internal"}, status_code=500)

    async def text(request: Request) -> Response:
        await remember(request)
        return PlainTextResponse("许可证有效")

    async def html(request: Request) -> Response:
        await remember(request)
        return Response("<script>alert(1)</script>", media_type="text/html")

    async def huge(request: Request) -> Response:
        await remember(request)
        return JSONResponse({"data": "x" * HUGE_BYTES})

    async def huge_stream(request: Request) -> Response:
        await remember(request)

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b"y" * 8192

        return StreamingResponse(chunks(), media_type="application/json")

    async def redirect(request: Request) -> Response:
        await remember(request)
        return RedirectResponse("/licence", status_code=302)

    async def shape(request: Request) -> Response:
        await remember(request)
        return JSONResponse({"data": dict(PERSON)})  # an object where the masks expect an array

    return Starlette(
        routes=[
            Route("/licence", licence),
            Route("/verify", verify, methods=["POST"]),
            Route("/slow", slow),
            Route("/error", error),
            Route("/text", text),
            Route("/html", html),
            Route("/huge", huge),
            Route("/huge-stream", huge_stream),
            Route("/redirect", redirect),
            Route("/shape", shape),
        ]
    )


@contextlib.contextmanager
def serve() -> Iterator[Upstream]:
    """Run the upstream on a free port of 127.0.0.1 until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    upstream = Upstream(base=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(
        uvicorn.Config(_app(upstream.received), log_level="warning", lifespan="off", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test upstream did not start"
        time.sleep(0.02)
    try:
        yield upstream
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
