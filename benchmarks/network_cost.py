"""The cost model of /network (server/limits.py) against measured time: the passes, the
influence map and the terms map (engine.network_maps.network_maps) at a grid of sizes, BLAS on
one thread as the server's workers run it, best of REPEATS runs each. Prints, per size, the
seconds, the cost estimate and their ratio (seconds per cost unit), the median ratio (the RATE
of server/estimates.py) and the spread. Run: .venv/bin/python benchmarks/network_cost.py
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy: as the server's workers

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from bpttlab.engine.network_maps import network_maps  # noqa: E402
from bpttlab.server.limits import estimate  # noqa: E402
from bpttlab.server.schemas import NetworkQuery  # noqa: E402

REPEATS = 2
SIZES = [
    dict(cell="rnn", hidden_size=4, seq_len=50, num_layers=1, input_size=2),
    dict(cell="rnn", hidden_size=4, seq_len=150, num_layers=1, input_size=2),
    dict(cell="lstm", hidden_size=16, seq_len=20, num_layers=2),
    dict(cell="lstm", hidden_size=16, seq_len=50, num_layers=2, bidirectional=True),
    dict(cell="gru", hidden_size=32, seq_len=40, num_layers=2),
    dict(cell="lstm", hidden_size=32, seq_len=60, num_layers=2, input_size=8),
    dict(cell="rnn", hidden_size=64, seq_len=60, num_layers=2, input_size=8),
    dict(cell="lstm", hidden_size=64, seq_len=40, num_layers=1, bidirectional=True, input_size=8),
    dict(cell="lstm", hidden_size=8, seq_len=150, num_layers=1),
    dict(cell="lstm", hidden_size=16, seq_len=100, num_layers=4, bidirectional=True),
    dict(cell="lstm", hidden_size=8, seq_len=20, num_layers=8, bidirectional=True),
    dict(cell="lstm", hidden_size=64, seq_len=100, num_layers=4, bidirectional=True),
    dict(cell="gru", hidden_size=64, seq_len=200, num_layers=2, input_size=8),
    dict(cell="lstm", hidden_size=64, seq_len=200, num_layers=4, bidirectional=True),
]


def main() -> None:
    print(describe())
    print(f"load average {os.getloadavg()[0]:.2f}")
    ratios = []
    for size in SIZES:
        q = NetworkQuery(**size)
        best = float("inf")
        for _ in range(REPEATS):
            start = time.perf_counter()
            network_maps(q.to_config())
            best = min(best, time.perf_counter() - start)
        cost = estimate(q).value
        ratios.append(best / cost)
        shown = ", ".join(f"{k}={v}" for k, v in size.items())
        print(f"{shown:75s} {best:8.3f} s  cost {cost:9.3g}  {best / cost * 1e9:6.3f} ns/unit")
    print(
        f"seconds per cost unit: median {statistics.median(ratios) * 1e9:.3f} ns, "
        f"range {min(ratios) * 1e9:.3f} to {max(ratios) * 1e9:.3f} ns"
    )


if __name__ == "__main__":
    main()
