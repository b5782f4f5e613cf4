"""What the benchmarks share: the machine they ran on, and the bare chain they compare with."""

import os
import platform
import time

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
