"""p50 latency of a default GET /api/v1/gradient-flow over HTTP on loopback.

Starts `bpttlab serve` on a free port, warms up, then times sequential requests
with one keep-alive client, twice: the default query repeated (the server keeps a small
in-process cache of results, so this is the cached path) and the default configuration
with a new seed on every request (the same work, never cached: engine + JSON + HTTP).
Target: p50 at most 10 ms. Run: make bench
"""

import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, serving  # noqa: E402

REQUESTS, WARMUP = 300, 20
QUERY = "/api/v1/gradient-flow"


def main() -> None:
    with serving() as base, httpx.Client(base_url=base, timeout=10) as client:
        for i in range(WARMUP):
            client.get(QUERY).raise_for_status()
            client.get(f"{QUERY}?seed={10**6 + i}").raise_for_status()
        runs = {
            "defaults, cached": [QUERY] * REQUESTS,
            "defaults with a fresh seed each time, uncached": [
                f"{QUERY}?seed={i + 1}" for i in range(REQUESTS)
            ],
        }
        timings = {}
        for label, urls in runs.items():
            times = []
            for url in urls:
                start = time.perf_counter()
                client.get(url).raise_for_status()
                times.append(time.perf_counter() - start)
            timings[label] = sorted(times)
        size = len(client.get(QUERY).content)
    print(f"machine: {describe()}")
    for label, times in timings.items():
        print(
            f"GET {QUERY} ({label}, {size} bytes): p50 {statistics.median(times) * 1e3:.2f} ms, "
            f"p90 {times[int(0.9 * len(times))] * 1e3:.2f} ms over {REQUESTS} sequential requests"
        )


if __name__ == "__main__":
    main()
