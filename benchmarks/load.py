"""Throughput and latency under concurrent load, on loopback.

Starts `bpttlab serve --workers 2` (or uses --url), then for each scenario runs CLIENTS
concurrent keep-alive clients for SECONDS seconds and reports requests/s, p50 and p99
latency, and every answer that was not the expected status:

  uncached  the default /api/v1/gradient-flow query with a new seed on every request: the
            same work as the default (the seed only changes the drawn numbers), never in the
            server's cache of results or bodies, so every request runs the engine, encodes
            the JSON and hashes it. No HTTP cache stands in front.
  cached    the default query repeated: answered from the server's cache of response bodies
            (no engine, no encoding), with and without `Accept-Encoding: gzip`.
  304       the default query with If-None-Match: its ETag: no body at all.
  mix       random valid queries over the four views' JSON and figures, within the ranges a
            class would use (seq_len <= 300, hidden_size <= 64, cliff resolution <= 61),
            each new: the engine runs for every request.

Targets (2 cores, --workers 2): cached default >= 1500 requests/s, uncached default >= 300
requests/s, no errors. The client runs on the same cores as the server. Run: make bench
"""

import argparse
import asyncio
import itertools
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402
from serve import Connection, cpu_seconds, served  # noqa: E402

DEFAULT = "/api/v1/gradient-flow"


def mixed(rng: random.Random) -> str:
    """A random valid query of one of the views, as a class might ask for it."""
    seed = rng.randrange(2**32)
    view = rng.choice(
        [
            "gradient-flow",
            "gradient-flow/figures",
            "compare/figures",
            "eigen/figures",
            "cliff/figures",
        ]
    )
    if view.startswith("gradient-flow"):
        cell = rng.choice(["rnn", "lstm", "gru"])
        query = (
            f"cell={cell}&seq_len={rng.randint(10, 300)}&hidden_size={rng.randint(4, 64)}"
            f"&scale={rng.uniform(0.5, 1.5):.2f}&seed={seed}"
        )
    elif view == "compare/figures":
        query = f"seq_len={rng.randint(10, 300)}&hidden_size={rng.randint(4, 32)}&seed={seed}"
    elif view == "eigen/figures":
        query = f"seq_len={rng.randint(10, 300)}&radius1={rng.uniform(0.5, 1.2):.3f}&seed={seed}"
    else:
        query = (
            f"resolution={rng.randint(11, 61)}&seq_len={rng.randint(10, 50)}"
            f"&start_b={rng.uniform(-4, 0):.3f}"
        )
    return f"/api/v1/{view}?{query}"


async def client(base, paths, headers, expect, until, latencies, failures):
    conn = await Connection.open(base)
    try:
        while time.perf_counter() < until:
            path = next(paths)
            start = time.perf_counter()
            try:
                status, _, _ = await conn.get(path, headers)
            except (OSError, asyncio.IncompleteReadError) as e:
                failures.append(type(e).__name__)
                conn.close()
                conn = await Connection.open(base)
                continue
            latencies.append(time.perf_counter() - start)
            if status != expect:
                failures.append(str(status))
    finally:
        conn.close()


async def scenario(base, pids, label, paths, clients, seconds, headers=None, expect=200):
    latencies, failures = [], []
    cpu = cpu_seconds(pids)
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(
        *(client(base, paths, headers, expect, until, latencies, failures) for _ in range(clients))
    )
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(pids) - cpu
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    counts = {f: failures.count(f) for f in sorted(set(failures))}
    p50 = statistics.median(latencies)
    print(
        f"{label:<42} {len(latencies) / elapsed:8.0f} req/s  p50 {p50 * 1e3:7.1f} ms"
        f"  p99 {p99 * 1e3:7.1f} ms  {len(latencies)} requests, errors: {counts or 0}"
        + (f", server CPU {cpu / len(latencies) * 1e3:.2f} ms/request" if pids else ""),
        flush=True,
    )


async def run(base: str, pids: list[int], clients: int, seconds: float) -> None:
    conn = await Connection.open(base)
    _, fields, body = await conn.get(DEFAULT)
    conn.close()
    etag = fields["etag"]
    print(f"default body: {len(body)} bytes, ETag {etag}")
    warm = (f"{DEFAULT}?seed={10**9 + i}" for i in itertools.count())  # every worker's imports
    await scenario(base, [], "(warm-up)", warm, clients, 1.0)
    seeds = itertools.count(int(time.time()) % 10**6 * 1000)  # never asked before
    rng = random.Random(0)
    gzip = {"Accept-Encoding": "gzip"}
    for label, paths, headers, expect in [
        (
            "uncached default (a new seed each time)",
            (f"{DEFAULT}?seed={s}" for s in seeds),
            None,
            200,
        ),
        ("cached default", itertools.repeat(DEFAULT), None, 200),
        ("cached default, Accept-Encoding: gzip", itertools.repeat(DEFAULT), gzip, 200),
        (
            "304 revalidation of the default",
            itertools.repeat(DEFAULT),
            {"If-None-Match": etag},
            304,
        ),
        ("mix of random valid queries (uncached)", iter(lambda: mixed(rng), None), None, 200),
    ]:
        await scenario(base, pids, label, paths, clients, seconds, headers, expect)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="measure this server instead of starting one")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    print(f"{args.clients} concurrent keep-alive clients, {args.seconds:g} s per scenario")
    with served(args.url, args.workers) as (base, pids):
        asyncio.run(run(base, pids, args.clients, args.seconds))


if __name__ == "__main__":
    main()
