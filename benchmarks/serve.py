"""What the load benchmarks share: a server to measure, and a lean HTTP/1.1 client.

``served()`` starts ``bpttlab serve --workers N`` on a free loopback port (or uses the URL
given), waits for /api/v1/health and stops it afterwards. ``Connection`` is a keep-alive
HTTP/1.1 client on asyncio streams, a few dozen lines, so that the client spends as little
of the shared cores as possible (no parsing beyond the status line and Content-Length).
"""

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workers_of(pid: int) -> list[int]:
    """The worker processes uvicorn's supervisor pid has spawned (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if parent == pid and b"spawn_main" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


@contextlib.contextmanager
def served(
    url: str | None, workers: int, env: dict[str, str] | None = None
) -> Iterator[tuple[str, list[int]]]:
    """The base URL of a running server and its worker processes: url itself (no processes
    known), or a `bpttlab serve --workers N` started here."""
    if url:
        yield url.rstrip("/"), []
        return
    port = free_port()
    cmd = [sys.executable, "-m", "bpttlab.server.cli", "serve", "--port", str(port)]
    cmd += ["--workers", str(workers)]
    server = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                asyncio.run(_health(base))
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        while workers > 1 and len(workers_of(server.pid)) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start")
            time.sleep(0.2)
        running = workers_of(server.pid) if workers > 1 else [server.pid]
        print(f"server: bpttlab serve --workers {workers}: worker processes {running}")
        yield base, running
    finally:
        server.terminate()
        server.wait(timeout=30)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def _health(base: str) -> None:
    conn = await Connection.open(base)
    try:
        status, _, _ = await conn.get("/api/v1/health")
        if status != 200:
            raise OSError(f"health answered {status}")
    finally:
        conn.close()


class Connection:
    """One keep-alive HTTP/1.1 connection: GET a path, read status, headers, body."""

    def __init__(self, host: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.host, self.reader, self.writer = host, reader, writer

    @classmethod
    async def open(cls, base: str) -> "Connection":
        parts = urlsplit(base)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        return cls(parts.netloc, reader, writer)

    async def get(self, path: str, headers: dict[str, str] | None = None):
        """(status, headers as a lower-case dict, body bytes)."""
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{extra}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
        length = int(fields.get("content-length", "0"))
        body = await self.reader.readexactly(length) if length else b""
        return status, fields, body

    def close(self) -> None:
        self.writer.close()
