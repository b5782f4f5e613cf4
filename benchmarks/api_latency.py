"""p50 latency of a default GET /api/v1/gradient-flow over HTTP on loopback.

Starts `bpttlab serve` on a free port, warms up, then times sequential requests
with one keep-alive client. Target: p50 at most 10 ms. Run: make bench
"""

import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

REQUESTS, WARMUP = 300, 20
QUERY = "/api/v1/gradient-flow"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(port)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(100):
                try:
                    client.get("/api/v1/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            for _ in range(WARMUP):
                client.get(QUERY).raise_for_status()
            times = []
            for _ in range(REQUESTS):
                start = time.perf_counter()
                client.get(QUERY).raise_for_status()
                times.append(time.perf_counter() - start)
            size = len(client.get(QUERY).content)
    finally:
        server.terminate()
        server.wait(timeout=10)
    times.sort()
    print(f"machine: {describe()}")
    print(
        f"GET {QUERY} (defaults, {size} bytes): p50 {statistics.median(times) * 1e3:.2f} ms, "
        f"p90 {times[int(0.9 * len(times))] * 1e3:.2f} ms over {REQUESTS} sequential requests"
    )


if __name__ == "__main__":
    main()
