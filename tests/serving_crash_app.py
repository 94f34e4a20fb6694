"""An ASGI app whose process exits half a second after the app has started: a worker that crashes
as soon as it serves (tests/test_serving.py)."""

from __future__ import annotations

import os
import threading
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "lifespan":
        return
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            threading.Timer(0.5, os._exit, args=(1,)).start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
