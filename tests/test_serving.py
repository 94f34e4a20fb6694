"""`govshare serve --workers N`: the parent accepts and deals each connection to the worker with the
fewest open, so connections that arrive together are spread evenly; a dead worker is replaced; a
worker that cannot start stops the server; workers outlive neither a SIGTERM nor their parent."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govshare import serving
from tests.security.test_tls import _cli, _env, _free_port, make_self_signed, stop

pytestmark = pytest.mark.skipif(not serving.supported(), reason="passing descriptors needs Unix sockets")

# A worker logs this once it has told the parent it is ready, after its heap is frozen.
STARTED = "Ready for connections ("


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


def _sockets(port: int, state: str) -> dict[str, int]:
    """The TCP sockets on local `port` in `state` (01 established, 0A listening): inode → the
    remote port (the client's own port, for a connection)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                found[fields[9]] = int(fields[2].rsplit(":", 1)[1], 16)
    return found


def _held(pid: int, inodes: dict[str, int]) -> set[str]:
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


def _healthy(port: int, context: ssl.SSLContext | None = None) -> bool:
    try:
        if context is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        else:
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=2, context=context)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


class Served:
    """A `govshare serve --workers 2` process, its port and everything it has printed."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_started(self, workers: int = 2) -> None:
        """Until `workers` workers have started the app (until then, one may get no connections)."""
        deadline = time.monotonic() + 60
        while sum(STARTED in line for line in self.lines) < workers:
            assert self.process.poll() is None, "".join(self.lines)
            assert time.monotonic() < deadline, "server did not come up:\n" + "".join(self.lines)
            time.sleep(0.2)

    def connections_per_worker(self) -> dict[int, set[int]]:
        """Each worker's connections, as the clients' own ports."""
        established = _sockets(self.port, "01")
        return {
            worker: {established[inode] for inode in _held(worker, established)}
            for worker in _children(self.process.pid)
        }


def _serve(data_dir: Path, *args: str) -> Served:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "govshare", "serve", "--port", str(port), "--workers", "2", *args],
        env=_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return Served(process, port)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = _serve(tmp_path)
    try:
        server.wait_started()
        yield server
    finally:
        stop(server.process)


def _opened(port: int, count: int) -> list[http.client.HTTPConnection]:
    """`count` keep-alive connections opened in a burst, as a client's pool opens them, each having
    made one request."""
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(count)]
    for conn in connections:
        conn.connect()
    for conn in connections:
        conn.request("GET", "/healthz")
        assert conn.getresponse().read() == b'{"status":"ok"}'
    return connections


def _client_port(conn: http.client.HTTPConnection) -> int:
    assert conn.sock is not None
    return int(conn.sock.getsockname()[1])


def test_connections_are_dealt_evenly_to_the_workers(served: Served) -> None:
    workers = _children(served.process.pid)
    assert len(workers) == 2
    # Only the parent listens; the workers serve what it deals them.
    listening = _sockets(served.port, "0A")
    assert len(_held(served.process.pid, listening)) == 1
    assert all(not _held(worker, listening) for worker in workers)
    connections = _opened(served.port, 16)
    try:
        per_worker = served.connections_per_worker()
        # 8 and 8, whatever the clients' addresses (a hash of them split 16 as 11:5 or worse often).
        assert sorted(len(ports) for ports in per_worker.values()) == [8, 8], per_worker
        # The app sees the client's own address and port, as if it had accepted the connection itself.
        ports = {_client_port(conn) for conn in connections}
        assert set().union(*per_worker.values()) == ports
        assert any(f'127.0.0.1:{port} - "GET /healthz' in "".join(served.lines) for port in ports)
        # Each worker froze what its startup built, out of the garbage collector's way.
        assert sum("objects from startup frozen" in line for line in served.lines) == 2

        # The workers report connections that close: close 4 of one worker's, and the next 4 go to it.
        first, second = workers
        closing = [conn for conn in connections if _client_port(conn) in per_worker[first]][:4]
        for conn in closing:
            conn.close()
            connections.remove(conn)
        deadline = time.monotonic() + 10
        while len(served.connections_per_worker()[first]) > 4:
            assert time.monotonic() < deadline, "the worker kept the closed connections"
            time.sleep(0.1)
        time.sleep(0.5)  # the parent hears of the closes on its next turn
        fresh = _opened(served.port, 4)
        connections += fresh
        per_worker = served.connections_per_worker()
        assert {_client_port(conn) for conn in fresh} <= per_worker[first], per_worker
        assert len(per_worker[first]) == len(per_worker[second]) == 8
    finally:
        for conn in connections:
            conn.close()


def test_tls_connections_are_dealt_and_served(tmp_path: Path) -> None:
    """The handshake happens in the worker, with the server's certificate."""
    cert, key = make_self_signed(tmp_path)
    server = _serve(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        server.wait_started()
        context = ssl.create_default_context(cafile=str(cert))
        # A client that does not trust the certificate fails its handshake, and nothing else does.
        assert not _healthy(server.port, ssl.create_default_context())
        connections = []
        for _ in range(4):
            conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10, context=context)
            conn.request("GET", "/healthz")
            assert conn.getresponse().read() == b'{"status":"ok"}'
            connections.append(conn)
        assert sorted(len(ports) for ports in server.connections_per_worker().values()) == [2, 2]
        for conn in connections:
            conn.close()
    finally:
        stop(server.process)


def test_the_access_log_names_query_parameters_without_their_values(served: Served) -> None:
    """Data API filters carry ID numbers and names: they are in the delivery's audit event, never in
    the server's log."""
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    conn.request("GET", "/healthz?id_number=130102198503177713&name=%E5%BC%A0%E4%BC%9F&limit=5")
    assert conn.getresponse().read() == b'{"status":"ok"}'
    conn.close()
    deadline = time.monotonic() + 10
    while not any("/healthz?" in line for line in served.lines):
        assert time.monotonic() < deadline, "no access log line:\n" + "".join(served.lines)
        time.sleep(0.1)
    logged = "".join(served.lines)
    assert '"GET /healthz?id_number&name&limit HTTP/1.1" 200' in logged
    assert "130102198503177713" not in logged and "%E5%BC%A0" not in logged


def test_a_dead_worker_is_replaced_and_sigterm_stops_them_all(served: Served) -> None:
    process, port = served.process, served.port
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
    # Once the replacement has started the app, it takes its share of connections.
    served.wait_started(3)
    connections = _opened(port, 2)
    assert sorted(len(ports) for ports in served.connections_per_worker().values()) == [1, 1]
    for conn in connections:
        conn.close()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=40) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert not _healthy(port)


def test_workers_stop_when_their_parent_is_killed(served: Served) -> None:
    """Killed without a chance to stop them, the parent leaves no orphan serving on the port."""
    process, port = served.process, served.port
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


def test_restart_delays_double_for_workers_that_die_at_once() -> None:
    assert serving.restart_delay(0) == 0.0  # a worker that served a while: replaced at once
    assert [serving.restart_delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert serving.restart_delay(20) == serving.MAX_RESTART_DELAY_S


def test_a_worker_that_keeps_dying_at_once_is_restarted_ever_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that crashes as soon as it has started is started again after 0.5, 1, 2 … s, not
    many times a second; the server keeps running (a crash after startup is not a startup failure)."""
    port = _free_port()
    options = {"app": "tests.serving_crash_app:app", "host": "127.0.0.1", "port": port, "lifespan": "on"}
    workers = serving.Workers(options, 1, serving.bound_socket("127.0.0.1", port))
    said: list[str] = []
    # What the supervisor warns of (uvicorn's logging setup replaces the logger's handlers).
    monkeypatch.setattr(serving.logger, "warning", lambda message, *args: said.append(message % args))
    threading.Timer(9, lambda: setattr(workers, "stopping", True)).start()
    assert workers.run() is True
    delays = [float(m.rsplit(" in ", 1)[1].split(" s")[0]) for m in said if "died (exit code 1)" in m]
    # Each worker lives about a second and a half (spawn, import, half a second): without the
    # delays there would be five or six deaths in 9 s, all replaced at once.
    assert 1 <= len(delays) <= 4, said
    assert delays == [0.5, 1.0, 2.0, 4.0][: len(delays)]


def _pid_answer(port: int, path: str = "/", timeout: float = 1.0) -> int | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        return int(conn.getresponse().read())
    except (OSError, ValueError):
        return None


def test_a_hung_worker_dumps_its_stacks_and_is_replaced(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A worker whose event loop is blocked is still alive, and would be dealt connections for good:
    its missing heartbeat gives it away; its stacks show where it hangs; a new worker serves."""
    port = _free_port()
    options = {"app": "tests.serving_hang_app:app", "host": "127.0.0.1", "port": port, "lifespan": "on"}
    workers = serving.Workers(options, 1, serving.bound_socket("127.0.0.1", port), hung_after=2.0)
    said: list[str] = []
    monkeypatch.setattr(serving.logger, "error", lambda message, *args: said.append(message % args))
    pids: list[int | None] = []

    def client() -> None:
        try:
            deadline = time.monotonic() + 30
            while (first := _pid_answer(port)) is None and time.monotonic() < deadline:
                time.sleep(0.2)
            pids.append(first)
            threading.Thread(target=_pid_answer, args=(port, "/hang", 30), daemon=True).start()
            time.sleep(0.5)
            pids.append(_pid_answer(port))  # the worker is hung: no answer
            while time.monotonic() < deadline:
                answer = _pid_answer(port)
                if answer is not None and answer != first:
                    pids.append(answer)
                    break
                time.sleep(0.2)
        finally:
            workers.stopping = True

    threading.Thread(target=client, daemon=True).start()
    assert workers.run() is True
    first, while_hung, *after = pids
    assert first is not None and while_hung is None
    assert after and after[0] not in (None, first), pids  # a new worker answers
    assert any(f"Worker [{first}] has not answered" in m for m in said), said
    # Where it hangs, from its own stack dump: the blocking line of the app.
    assert "serving_hang_app.py" in capfd.readouterr().err
