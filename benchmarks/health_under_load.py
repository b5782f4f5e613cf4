"""Is the server still responsive while it computes the largest queries?

Starts `bpttlab serve --workers 2` (or uses --url), sends four maximum-size requests at
once (cell=lstm, hidden_size=256, seq_len=1000, input_size=64, each with its own seed so none
is shared or cached; the full JSON, ~25 MB each), and while they run polls GET
/api/v1/health every 20 ms, each poll on a new connection (as a load balancer's health check
does, so the polls reach both workers). Reports the health latency p50, p99 and max, and how
long the four took. Target: health p99 < 50 ms. Run: make bench
"""

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402
from serve import Connection, served  # noqa: E402

LARGEST = "/api/v1/gradient-flow?cell=lstm&hidden_size=256&seq_len=1000&input_size=64&seed={}"
HEAVY, POLL_EVERY = 4, 0.02


async def heavy(base: str, seed: int, done: list) -> None:
    conn = await Connection.open(base)
    start = time.perf_counter()
    status, _, body = await conn.get(LARGEST.format(seed))
    done.append((status, len(body), time.perf_counter() - start))
    conn.close()


async def poll(base: str, running, latencies: list, failures: list) -> None:
    while running():
        start = time.perf_counter()
        try:
            conn = await Connection.open(base)
            status, _, _ = await conn.get("/api/v1/health")
            conn.close()
        except OSError as e:
            failures.append(type(e).__name__)
            continue
        latencies.append(time.perf_counter() - start)
        if status != 200:
            failures.append(str(status))
        await asyncio.sleep(max(0.0, POLL_EVERY - (time.perf_counter() - start)))


async def run(base: str) -> None:
    done, latencies, failures = [], [], []
    start = time.perf_counter()
    seeds = range(int(time.time()), int(time.time()) + HEAVY)
    tasks = [asyncio.create_task(heavy(base, seed, done)) for seed in seeds]
    await poll(base, lambda: len(done) < HEAVY, latencies, failures)
    await asyncio.gather(*tasks)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    for status, size, seconds in done:
        print(f"largest query: status {status}, {size} bytes, {seconds:.1f} s")
    print(
        f"GET /api/v1/health while {HEAVY} largest queries ran ({time.perf_counter() - start:.0f}"
        f" s): p50 {statistics.median(latencies) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms, max "
        f"{latencies[-1] * 1e3:.1f} ms over {len(latencies)} polls, errors: {failures or 0}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="measure this server instead of starting one")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    with served(args.url, args.workers) as (base, _):
        asyncio.run(run(base))


if __name__ == "__main__":
    main()
