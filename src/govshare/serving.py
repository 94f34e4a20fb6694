"""Several worker processes behind one listening socket: the parent accepts every connection and
deals it to the worker that has the fewest open.

uvicorn's own `--workers` lets its processes accept from one shared socket. Whichever process wakes
first takes every connection waiting, so clients that connect together (a business system's pool of
keep-alive connections, the benchmark's 16 clients) mostly land on one process while the others
idle: measured, 15 of 16 connections on one of two workers, and half the throughput. A socket per
worker (`SO_REUSEPORT`) lets the kernel hash connections over the workers, but a hash splits 16
connections 11:5 or worse as often as not, and a keep-alive connection stays where it landed: the
busier worker's callers waited up to half as long again (p99 89 ms at 12:4 against 58 ms at 8:8).

So the parent accepts, and passes each connection's descriptor (`SCM_RIGHTS` over a Unix socket
pair, one per worker) to the ready worker with the fewest connections open; the worker serves it
with uvicorn's protocol and reports when it closes. Connections are then dealt as evenly as they
can be, whatever their addresses. The parent only accepts and deals; requests never pass through it.

The parent binds the address before any worker starts, so a port in use fails at once with a clear
message. It supervises: a worker that dies is started again (later each time, while workers keep
dying soon after they start); a worker that cannot start (its exit code `STARTUP_FAILURE`) stops the
whole server, as it would fail the same way again. A worker whose event loop stops answering (a
blocking call in async code, a deadlock) is found by its missing heartbeat, made to write every
thread's stack to the log, and killed; it is then replaced like one that died. Connections
wait in the listen queue until a worker is ready, so a worker that is still importing is never
dealt one. SIGINT and SIGTERM stop the workers gracefully (uvicorn finishes the requests in flight),
and a worker whose parent is gone (its end of the pair closes) stops the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import logging
import multiprocessing
import os
import selectors
import signal
import socket
import time
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("uvicorn.error")

# Seconds a stopping worker gets to finish its requests before it is killed.
STOP_GRACE_S = 30.0
# A worker that dies sooner than this after it started has died "at once": its replacement waits
# RESTART_DELAY_S, doubled for each such death in a row, up to MAX_RESTART_DELAY_S.
QUICK_DEATH_S = 10.0
RESTART_DELAY_S = 0.5
MAX_RESTART_DELAY_S = 30.0
# A ready worker not heard from for this long is hung: its stacks are dumped and it is killed. It
# tells the parent it is alive HEARTBEATS times as often, from its event loop.
HUNG_AFTER_S = 60.0
HEARTBEATS = 6
# What the parent sends a worker over their pair, with a connection's descriptor; what a worker tells
# the parent: it is ready for connections; one of them closed; its event loop still turns.
CONNECTION, READY, CLOSED, ALIVE = b"n", b"r", b"c", b"a"
# The signal on which a worker writes every thread's stack to its standard error (`faulthandler`).
DUMP_STACKS = signal.SIGUSR1
# Descriptors passed in one message, and connections the listen queue holds while workers are busy.
FDS_PER_MESSAGE = 16
BACKLOG = 2048


def supported() -> bool:
    """Whether this system can pass descriptors between processes (Unix can)."""
    return hasattr(socket, "send_fds") and hasattr(socket, "AF_UNIX")


def bound_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port), not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class _DealtServer(uvicorn.Server):
    """uvicorn serving the connections its parent passes over `channel`, instead of listening."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket, heartbeat_s: float) -> None:
        super().__init__(config)
        self.channel = channel
        self.heartbeat_s = heartbeat_s
        self.handshakes: set[asyncio.Task[None]] = set()  # held, or a task may be collected mid-way

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the app started; no socket of its own
        if not self.started:
            return
        # What the imports and the app's startup built stays for the process's life: kept out of
        # the collector, a full collection while serving no longer walks it (measured: 160 ms for
        # the 290,000 objects of a started worker, which every call queued on it would wait out).
        gc.collect()
        gc.freeze()
        self.channel.setblocking(False)
        loop = asyncio.get_running_loop()
        loop.add_reader(self.channel.fileno(), self._receive)
        self._tell(READY)
        loop.call_later(self.heartbeat_s, self._beat)
        logger.info("Ready for connections (%d objects from startup frozen).", gc.get_freeze_count())

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets=sockets)

    def _receive(self) -> None:
        while True:
            try:
                message, fds, _flags, _address = socket.recv_fds(self.channel, 64, FDS_PER_MESSAGE)
            except BlockingIOError:
                return
            except OSError:
                message, fds = b"", []
            if not message and not fds:  # the parent's end closed: it is gone
                logger.warning("The server's parent process is gone; stopping this worker.")
                asyncio.get_running_loop().remove_reader(self.channel.fileno())
                self.should_exit = True
                return
            for fd in fds:
                task = asyncio.ensure_future(self._connection(socket.socket(fileno=fd)))
                self.handshakes.add(task)
                task.add_done_callback(self.handshakes.discard)

    async def _connection(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(self._protocol, sock, ssl=self.config.ssl)
        except (TimeoutError, OSError) as exc:  # reset before it was served, a failed handshake
            logger.debug("A connection closed before it was served: %s", exc)
            sock.close()
            self._tell(CLOSED)

    def _protocol(self) -> asyncio.Protocol:
        protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        served = protocol.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            served(exc)
            self._tell(CLOSED)

        protocol.connection_lost = connection_lost  # type: ignore[method-assign]
        return protocol

    def _beat(self) -> None:
        """Tell the parent the event loop still turns, and again in a while (until it stops)."""
        if not self.should_exit:
            self._tell(ALIVE)
            asyncio.get_running_loop().call_later(self.heartbeat_s, self._beat)

    def _tell(self, what: bytes) -> None:
        # Failing, the parent is gone (the reader notices) or, for a moment, not reading.
        with contextlib.suppress(OSError):
            self.channel.send(what)


def _worker(options: dict[str, Any], channel: socket.socket, heartbeat_s: float) -> None:
    """One worker process: the app, serving what the parent deals it over `channel`."""
    # Written from the signal handler itself, so even a thread stuck in C code is shown.
    faulthandler.register(DUMP_STACKS, all_threads=True)
    server = _DealtServer(uvicorn.Config(**options), channel, heartbeat_s)
    server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


class _Worker:
    """The parent's view of one worker process: its end of the pair and its connections open."""

    def __init__(self, process: multiprocessing.process.BaseProcess, channel: socket.socket) -> None:
        self.process = process
        self.channel = channel
        self.ready = False
        self.heard = True  # its end of the pair is open: the selector watches ours
        self.open = 0
        self.dealt = 0
        self.started_at = self.heard_at = time.monotonic()
        self.hung = False  # found hung and killed
        self.quick_deaths = 0  # its slot's workers that died at once, in a row
        self.restart_at: float | None = None  # when it is dead: when its replacement starts


class Workers:
    """`count` worker processes serving uvicorn `options` (keyword arguments of `uvicorn.Config`),
    on the address that `reserved` (from `bound_socket`) holds for them; closed when they stop. A
    ready worker not heard from for `hung_after` seconds is killed and replaced."""

    def __init__(
        self,
        options: dict[str, Any],
        count: int,
        reserved: socket.socket,
        *,
        hung_after: float = HUNG_AFTER_S,
    ) -> None:
        self.options = options
        self.count = count
        self.hung_after = hung_after
        self.listener = reserved
        self.stopping = False
        self.failed = False
        self._context = multiprocessing.get_context("spawn")
        self._selector = selectors.DefaultSelector()
        self._accepting = False

    def _start(self) -> _Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        process = self._context.Process(
            target=_worker, args=(self.options, theirs, self.hung_after / HEARTBEATS), daemon=False
        )
        process.start()
        theirs.close()
        ours.setblocking(False)
        worker = _Worker(process, ours)
        self._selector.register(ours, selectors.EVENT_READ, worker)
        logger.info("Started worker process [%s]", process.pid)
        return worker

    def _stop(self, *_: object) -> None:
        self.stopping = True

    def run(self) -> bool:
        """Serve until SIGINT or SIGTERM; False when a worker could not start."""
        uvicorn.Config(**self.options)  # the parent logs like the workers
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        self.listener.listen(BACKLOG)
        self.listener.setblocking(False)
        workers = [self._start() for _ in range(self.count)]
        try:
            while not self.stopping:
                self._accept_while_any_ready(workers)
                for key, _events in self._selector.select(timeout=0.5):
                    if key.data is None:
                        self._deal(workers)
                    else:
                        self._hear(key.data)
                self._supervise(workers)
        finally:
            self.listener.close()  # no new connections while the workers finish theirs
            for worker in workers:
                if worker.process.is_alive():
                    worker.process.terminate()
            for worker in workers:
                worker.process.join(STOP_GRACE_S)
                if worker.process.is_alive():
                    logger.warning("Worker [%s] did not stop in time; killing it.", worker.process.pid)
                    worker.process.kill()
                    worker.process.join()
                worker.channel.close()
            self._selector.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return not self.failed

    def _accept_while_any_ready(self, workers: list[_Worker]) -> None:
        """Watch the listening socket only while a worker can take a connection: until then the
        connections wait in its queue."""
        ready = any(worker.ready for worker in workers)
        if ready and not self._accepting:
            self._selector.register(self.listener, selectors.EVENT_READ, None)
        elif not ready and self._accepting:
            self._selector.unregister(self.listener)
        self._accepting = ready

    def _deal(self, workers: list[_Worker]) -> None:
        """Accept the connections waiting and pass each to the ready worker with the fewest open."""
        while True:
            try:
                conn, _address = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of descriptors: the connection stays queued
                logger.error("Cannot accept a connection: %s", exc)
                return
            with conn:
                # As asyncio sets on connections it accepts itself: a response's parts go out at once.
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for worker in sorted((w for w in workers if w.ready), key=lambda w: (w.open, w.dealt)):
                    try:
                        socket.send_fds(worker.channel, [CONNECTION], [conn.fileno()])
                    except OSError:  # its queue is full, or it just died: the next one
                        continue
                    worker.open += 1
                    worker.dealt += 1
                    break
                else:
                    logger.warning("No worker could take a connection; it was closed.")

    def _hear(self, worker: _Worker) -> None:
        """What `worker` reported: ready, connections closed, or (its end closed) that it died."""
        while True:
            try:
                message = worker.channel.recv(16)
            except BlockingIOError:
                return
            except OSError:
                message = b""
            worker.heard_at = time.monotonic()
            if message == READY:
                worker.ready = True
            elif message == CLOSED:
                worker.open = max(0, worker.open - 1)
            elif not message:
                self._selector.unregister(worker.channel)
                worker.ready = worker.heard = False
                return

    def _supervise(self, workers: list[_Worker]) -> None:
        """Start a worker in place of one that died, later each time one dies at once (a worker
        that crashes as soon as it serves is not started again many times a second); stop when
        one could not start."""
        now = time.monotonic()
        for index, worker in enumerate(workers):
            if worker.process.is_alive():
                if worker.ready and not worker.hung and now - worker.heard_at > self.hung_after:
                    self._kill_hung(worker, now - worker.heard_at)
                continue
            if worker.restart_at is None:  # found dead just now
                if worker.process.exitcode == STARTUP_FAILURE:
                    logger.error("Worker [%s] could not start; stopping the server.", worker.process.pid)
                    self.failed = True
                    self.stopping = True
                    return
                if worker.heard:
                    self._selector.unregister(worker.channel)
                    worker.heard = worker.ready = False
                worker.channel.close()
                at_once = now - worker.started_at < QUICK_DEATH_S
                worker.quick_deaths = worker.quick_deaths + 1 if at_once else 0
                delay = restart_delay(worker.quick_deaths)
                worker.restart_at = now + delay
                logger.warning(
                    "Worker [%s] died (exit code %s); starting another in %.1f s.",
                    worker.process.pid,
                    worker.process.exitcode,
                    delay,
                )
            if now >= worker.restart_at:
                replacement = self._start()
                replacement.quick_deaths = worker.quick_deaths
                workers[index] = replacement

    def _kill_hung(self, worker: _Worker, silent_s: float) -> None:
        """A worker whose event loop has not turned for `silent_s` seconds: it writes its threads'
        stacks to the log (where it hangs), then is killed, as it cannot stop gracefully."""
        pid = worker.process.pid
        logger.error(
            "Worker [%s] has not answered for %.0f s (its event loop is blocked); "
            "its threads' stacks follow, then it is killed and replaced.",
            pid,
            silent_s,
        )
        worker.hung = True
        worker.ready = False  # no more connections for it
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, DUMP_STACKS)
            time.sleep(0.5)  # the dump is written from its signal handler, at once
        worker.process.kill()
        worker.process.join(5)


def restart_delay(quick_deaths: int) -> float:
    """Seconds before a dead worker's replacement starts, after `quick_deaths` workers of its slot
    died at once in a row (none: at once)."""
    if quick_deaths <= 0:
        return 0.0
    return float(min(MAX_RESTART_DELAY_S, RESTART_DELAY_S * 2 ** (quick_deaths - 1)))
