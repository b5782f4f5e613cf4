"""What the benchmarks share: the machine they ran on, and the bare chain they compare with."""

import os
import platform
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np


def describe() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}"
    )


def bare_chain(w: np.ndarray, steps: int) -> float:
    """Seconds for ``steps`` products P = P @ w: the least any exact profile must do."""
    p = np.eye(w.shape[0])
    start = time.perf_counter()
    for _ in range(steps):
        p = p @ w
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(root: Path | None = None):
    """``bpttlab serve`` on a free loopback port, from ``root`` (a checkout; default this one),
    until it answers /api/v1/health. Yields the base URL; stops the server on exit."""
    port = free_port()
    cmd = [sys.executable, "-m", "bpttlab.server.cli", "serve", "--port", str(port)]
    server = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/api/v1/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)
