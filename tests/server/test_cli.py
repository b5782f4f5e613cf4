"""`bpttlab serve --workers N` runs N worker processes, on sockets that keep TCP_NODELAY and
(on Linux) one socket per worker, so that connections are spread over the workers."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from bpttlab.server import workers
from bpttlab.server.cli import tcp_socket

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workers(pid: int) -> set[int]:
    """Processes spawned by uvicorn's supervisor pid (its multiprocessing workers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if parent == pid and b"spawn_main" in cmdline:
            found.add(int(entry.name))
    return found


def test_serve_with_two_workers_runs_two_processes_and_spreads_connections():
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "bpttlab.server.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while len(_workers(server.pid)) < 2 or not _answers(port):
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        pids = _workers(server.pid)
        assert len(pids) == 2
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/gradient-flow", params={"seq_len": 5})
        assert r.status_code == 200 and r.headers["etag"]
        if workers.reuse_port_supported():  # 32 connections at once: both workers take some
            before = _settled(pids)  # once the connection httpx closed is gone
            clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
            try:
                until = time.monotonic() + 20
                while sum(_sockets(pid) - before[pid] for pid in pids) < 32:
                    if time.monotonic() > until:
                        break
                    time.sleep(0.05)
                # a hash spreads them; all 32 on one worker has probability 2 ** -31
                assert all(_sockets(pid) > before[pid] for pid in pids)
            finally:
                for client in clients:
                    client.close()
        assert server.poll() is None
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


def _settled(pids: set[int]) -> dict[int, int]:
    """The socket counts of pids once they have not changed for 0.3 s (at most 10 s)."""
    counts, until = {}, time.monotonic() + 10
    while time.monotonic() < until:
        now = {pid: _sockets(pid) for pid in pids}
        if now == counts:
            break
        counts = now
        time.sleep(0.3)
    return counts


def _sockets(pid: int) -> int:
    """How many sockets process pid holds open (an fd may close while they are counted)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except FileNotFoundError:
            pass
    return count


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200
    except httpx.TransportError:
        return False


def test_the_workers_socket_is_declared_tcp():
    """asyncio sets TCP_NODELAY only on connections whose socket says IPPROTO_TCP; uvicorn's
    own bind_socket() says 0 (Kludex/uvicorn#3149)."""
    sock = tcp_socket(uvicorn.Config("bpttlab.server.app:app", host="127.0.0.1", port=0, workers=2))
    with sock:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.type == socket.SOCK_STREAM and sock.get_inheritable()
        sock.listen()
        client = socket.create_connection(sock.getsockname())
        accepted, _ = sock.accept()
        with client, accepted:
            assert accepted.proto == socket.IPPROTO_TCP


@pytest.mark.skipif(not workers.reuse_port_supported(), reason="SO_REUSEPORT balances on Linux")
def test_each_worker_socket_is_tcp_on_one_port():
    sockets = workers.listening_sockets("127.0.0.1", 0, 3, 16)
    try:
        ports = {sock.getsockname()[1] for sock in sockets}
        assert len(ports) == 1 and ports != {0}
        for sock in sockets:
            assert sock.proto == socket.IPPROTO_TCP and sock.get_inheritable()
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        # the kernel hands each connection to one of the sockets; each accepts its own
        clients = [socket.create_connection(("127.0.0.1", *ports)) for _ in range(30)]
        accepted = 0
        for sock in sockets:
            sock.setblocking(False)
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                accepted += 1
                conn.close()
        for client in clients:
            client.close()
        assert accepted == 30
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.skipif(not workers.reuse_port_supported(), reason="SO_REUSEPORT balances on Linux")
def test_a_port_in_use_is_refused_not_shared():
    """With SO_REUSEPORT a second server of the same user could join the first's group and
    take half of its connections; it must fail as a plain bind does."""
    first = workers.listening_sockets("127.0.0.1", 0, 2, 16)
    port = first[0].getsockname()[1]
    try:
        with pytest.raises(OSError):
            workers.listening_sockets("127.0.0.1", port, 2, 16)
    finally:
        for sock in first:
            sock.close()
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        with pytest.raises(OSError):
            workers.listening_sockets("127.0.0.1", plain.getsockname()[1], 2, 16)
