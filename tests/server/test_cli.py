"""`bpttlab serve --workers N` runs N worker processes, on a socket that keeps TCP_NODELAY."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import uvicorn

from server.cli import tcp_socket

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


def test_serve_with_two_workers_runs_two_processes():
    port = _free_port()
    cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while len(_workers(server.pid)) < 2 or not _answers(port):
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        assert len(_workers(server.pid)) == 2
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/gradient-flow", params={"seq_len": 5})
        assert r.status_code == 200 and r.headers["etag"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200
    except httpx.TransportError:
        return False


def test_the_workers_socket_is_declared_tcp():
    """asyncio sets TCP_NODELAY only on connections whose socket says IPPROTO_TCP; uvicorn's
    own bind_socket() says 0 (Kludex/uvicorn#3149)."""
    sock = tcp_socket(uvicorn.Config("server.app:app", host="127.0.0.1", port=0, workers=2))
    with sock:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.type == socket.SOCK_STREAM and sock.get_inheritable()
        sock.listen()
        client = socket.create_connection(sock.getsockname())
        accepted, _ = sock.accept()
        with client, accepted:
            assert accepted.proto == socket.IPPROTO_TCP
