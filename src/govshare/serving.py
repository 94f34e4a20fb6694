"""Several worker processes, each accepting on a listening socket of its own (`SO_REUSEPORT`).

uvicorn's own `--workers` lets its processes accept from one shared socket. Whichever process wakes
first takes every connection waiting, so clients that connect together (a business system's pool of
keep-alive connections, the benchmark's 16 clients) mostly land on one process while the others
idle: measured, 15 of 16 connections on one of two workers, and half the throughput. With a socket
per worker, the kernel spreads new connections over the workers by a hash of their addresses.

The parent binds the address first (without listening), so a port in use fails at once with a clear
message, and holds it while it supervises: a worker that dies is started again; a worker that cannot
start (its exit code `STARTUP_FAILURE`) stops the whole server, as it would fail the same way again.
SIGINT and SIGTERM stop the workers gracefully (uvicorn finishes the requests in flight).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("uvicorn.error")

# Seconds a stopping worker gets to finish its requests before it is killed.
STOP_GRACE_S = 30.0


def supported() -> bool:
    """Whether this system can spread connections over sockets sharing a port (Linux can)."""
    return hasattr(socket, "SO_REUSEPORT")


def bound_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) that other sockets of this user may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(options: dict[str, Any]) -> None:
    """One worker process: its own listening socket, then uvicorn on it."""
    config = uvicorn.Config(**options)
    try:
        sock = bound_socket(config.host, config.port)
    except OSError as exc:
        logger.error("Worker cannot listen on %s:%s: %s", config.host, config.port, exc)
        raise SystemExit(STARTUP_FAILURE) from None
    # Not listening yet: uvicorn listens once the app has loaded and started, and only then does the
    # kernel hash connections to this worker (a replacement does not take them while it imports).
    server = uvicorn.Server(config)
    threading.Thread(target=_stop_with_parent, args=(server, os.getppid()), daemon=True).start()
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def _stop_with_parent(server: uvicorn.Server, parent: int) -> None:
    """Stop the worker (gracefully) once its parent is gone, killed without a chance to stop it:
    an orphan would keep serving on the port with nobody to supervise it."""
    while not server.should_exit:
        if os.getppid() != parent:
            logger.warning("The server's parent process is gone; stopping worker [%s].", os.getpid())
            server.should_exit = True
            return
        time.sleep(1.0)


class Workers:
    """`count` worker processes serving uvicorn `options` (keyword arguments of `uvicorn.Config`),
    on the address that `reserved` (from `bound_socket`) holds for them; closed when they stop."""

    def __init__(self, options: dict[str, Any], count: int, reserved: socket.socket) -> None:
        self.options = options
        self.count = count
        self.reserved = reserved
        self.stopping = threading.Event()
        self.failed = False
        self._context = multiprocessing.get_context("spawn")

    def _start(self) -> multiprocessing.process.BaseProcess:
        process = self._context.Process(target=_worker, args=(self.options,), daemon=False)
        process.start()
        logger.info("Started worker process [%s]", process.pid)
        return process

    def run(self) -> bool:
        """Serve until SIGINT or SIGTERM; False when a worker could not start."""
        uvicorn.Config(**self.options)  # the parent logs like the workers
        previous = {
            sig: signal.signal(sig, lambda *_: self.stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        processes = [self._start() for _ in range(self.count)]
        try:
            while not self.stopping.wait(0.5):
                for index, process in enumerate(processes):
                    if process.is_alive():
                        continue
                    if process.exitcode == STARTUP_FAILURE:
                        logger.error("Worker [%s] could not start; stopping the server.", process.pid)
                        self.failed = True
                        self.stopping.set()
                        break
                    logger.warning(
                        "Worker [%s] died (exit code %s); starting another.", process.pid, process.exitcode
                    )
                    processes[index] = self._start()
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()
            for process in processes:
                process.join(STOP_GRACE_S)
                if process.is_alive():
                    logger.warning("Worker [%s] did not stop in time; killing it.", process.pid)
                    process.kill()
                    process.join()
            self.reserved.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return not self.failed
