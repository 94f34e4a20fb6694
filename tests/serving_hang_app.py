"""An ASGI app whose `/hang` blocks its event loop for good (a blocking call in async code), and
whose other paths answer with the process id (tests/test_serving.py)."""

from __future__ import annotations

import os
import time
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["path"] == "/hang":
        time.sleep(3600)  # the point: the event loop stops turning
    body = str(os.getpid()).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]}
    )
    await send({"type": "http.response.body", "body": body})
