"""The maps of /network against the floor: a bidirectional 4-layer LSTM, T = 200, n = 64.

The floor is the network's forward and backward passes alone (engine.network.network: the
loss, every dL/dh_t and every parameter gradient, one backward pass). The maps cost more by
their nature: the influence map is T x T Jacobian norms (T d tangents through every layer
and direction, then T^2 spectral norms), the terms map T backward passes at once (one
covector per loss step). Timings are the median of REPEATS runs with the spread, BLAS on
one thread as the server's workers run it, and the peak of traced NumPy memory of one run.
Run: .venv/bin/python benchmarks/network_maps.py
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy: as the server's workers

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from bpttlab.engine.influence import influence_map  # noqa: E402
from bpttlab.engine.network import NetworkConfig, network  # noqa: E402
from bpttlab.engine.terms import terms_map  # noqa: E402

REPEATS = 3
CONFIG = NetworkConfig(
    cell="lstm", hidden_size=64, input_size=4, seq_len=200, num_layers=4, bidirectional=True,
    loss="every", vocab_size=8, seed=0,
)  # fmt: skip


def timed(fn):
    times, out = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def peak_mib(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def line(name: str, times: list[float], floor: float, mib: float) -> str:
    med = statistics.median(times)
    return (
        f"{name:<22} {med:7.2f} s (median of {len(times)}, {min(times):.2f}..{max(times):.2f})"
        f"  {med / floor:6.1f} x the floor  peak {mib:6.0f} MiB"
    )


def main() -> None:
    print(describe(), f"load average {os.getloadavg()[0]:.2f}")
    c = CONFIG
    print(
        f"{c.num_layers}-layer bidirectional LSTM, n = {c.hidden_size}, d = {c.input_size}, "
        f"T = {c.seq_len}, loss at every step"
    )
    floor_times, result = timed(lambda: network(c))
    floor = statistics.median(floor_times)
    w, trace, targets = result.problem.weights, result.trace, result.problem.targets
    maps = {
        "forward + backward": lambda: network(c),
        "influence map": lambda: influence_map(c, w, trace),
        "terms map": lambda: terms_map(c, w, trace, targets),
    }
    for name, fn in maps.items():
        times = floor_times if fn is maps["forward + backward"] else timed(fn)[0]
        print(line(name, times, floor, peak_mib(fn)))


if __name__ == "__main__":
    main()
