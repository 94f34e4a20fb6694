"""`govshare serve --workers N`: a listening socket per worker, so connections that arrive together
are spread over the workers; a dead worker is replaced; a worker that cannot start stops the server."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govshare import serving
from tests.security.test_tls import _cli, _env, _free_port, stop

pytestmark = pytest.mark.skipif(not serving.supported(), reason="SO_REUSEPORT is Linux's")


def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: state, parent, …"""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    """The worker processes of `pid` (multiprocessing may add a resource tracker: not a worker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat(entry.name)[1])
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == pid and b"resource_tracker" not in command:
            found.append(int(entry.name))
    return sorted(found)


def _sockets(port: int, state: str) -> set[str]:
    """The inodes of the TCP sockets on local `port` in `state` (01 established, 0A listening)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                found.add(fields[9])
    return found


def _held(pid: int, inodes: set[str]) -> set[str]:
    """Which of the sockets `inodes` process `pid` holds."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            held.add(target[8:-1])
    return held


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "govshare", "serve", "--port", str(port), "--workers", "2"],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        # Ready when both workers listen (the first answers while the second may still start).
        while not (len(_sockets(port, "0A")) == 2 and _healthy(port)):
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.3)
        yield process, port
    finally:
        stop(process)


def test_connections_that_arrive_together_are_spread_over_the_workers(served) -> None:  # type: ignore[no-untyped-def]
    process, port = served
    workers = _children(process.pid)
    # Each worker listens on a socket of its own (uvicorn's workers would share one).
    listening = [_held(worker, _sockets(port, "0A")) for worker in workers]
    assert [len(mine) for mine in listening] == [1, 1] and listening[0] != listening[1]
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(32)]
    try:
        for conn in connections:  # 32 keep-alive connections in a burst, as a client's pool opens them
            conn.connect()
        for conn in connections:
            conn.request("GET", "/healthz")
            assert conn.getresponse().read() == b'{"status":"ok"}'
        established = _sockets(port, "01")
        held = [len(_held(worker, established)) for worker in workers]
        # The kernel hashes each connection to one of the sockets: all 32 on one worker would be a
        # chance of 1 in 2**31. (With a shared socket a busy worker took most of them.)
        assert sum(held) == 32 and min(held) >= 1, held
    finally:
        for conn in connections:
            conn.close()


def test_a_dead_worker_is_replaced_and_sigterm_stops_them_all(served) -> None:  # type: ignore[no-untyped-def]
    process, port = served
    first, second = _children(process.pid)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        workers = _children(process.pid)
        if len(workers) == 2 and first not in workers:
            break
        assert time.monotonic() < deadline, f"the worker was not replaced: {workers}"
        time.sleep(0.2)
    assert second in workers and _healthy(port)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=40) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert not _healthy(port)


def test_workers_stop_when_their_parent_is_killed(served) -> None:  # type: ignore[no-untyped-def]
    """Killed without a chance to stop them, the parent leaves no orphan serving on the port."""
    process, port = served
    workers = _children(process.pid)
    process.kill()
    process.wait()
    deadline = time.monotonic() + 40
    while any(Path(f"/proc/{pid}").exists() and _zombie_free(pid) for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived its parent"
        time.sleep(0.3)
    assert not _healthy(port)


def _zombie_free(pid: int) -> bool:
    """Whether `pid` is still running (not merely a zombie waiting to be reaped)."""
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def test_a_port_in_use_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _cli(tmp_path, "serve", "--port", str(port), "--workers", "2")
    assert result.returncode != 0 and "无法监听" in result.stdout + result.stderr


def test_a_worker_that_cannot_start_stops_the_server(tmp_path: Path) -> None:
    """Restarting a worker that cannot load the app would only fail again: the server stops."""
    port = _free_port()
    options = {"app": "govshare.no_such_module:app", "host": "127.0.0.1", "port": port}

    def too_long(*_: object) -> None:
        raise TimeoutError("the failing worker was started again and again")

    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(60)
    try:
        assert serving.Workers(options, 2, serving.bound_socket("127.0.0.1", port)).run() is False
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
