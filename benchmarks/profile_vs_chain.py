"""Engine time for the full Jacobian profile at T = 1000, n = 256 against the bare chain.

The bare chain is T products of n x n matrices (P = P @ Q with Q orthogonal, so
it stays finite without renormalising), the least any exact method must do. The
profile also scales by diag(phi'), renormalises, and certifies the spectral norm
of every product. Target ratio: at most 1.3. Run: make bench
"""

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import bare_chain, describe  # noqa: E402

from engine import GradientFlowConfig, gradient_flow  # noqa: E402
from engine.init import haar_orthogonal  # noqa: E402
from engine.nonlinearity import get_nonlinearity  # noqa: E402
from engine.problem import draw_problem  # noqa: E402
from engine.rnn import rnn_forward, rnn_jacobian_profile  # noqa: E402

T, N, REPEATS = 1000, 256, 3


def profile(init: str, nl: str, scale: float) -> tuple[float, int]:
    cfg = dict(hidden_size=N, input_size=4, seq_len=T, init=init, scale=scale)
    problem = draw_problem(seed=0, input="random", input_scale=1.0, h0="zeros", **cfg)
    trace = rnn_forward(problem.params, get_nonlinearity(nl), problem.inputs, problem.h0)
    start = time.perf_counter()
    prof = rnn_jacobian_profile(problem.params.weight_hh, trace.log_dphi)
    return time.perf_counter() - start, prof.svd_fallbacks


def main() -> None:
    print(f"machine: {describe()}")
    w = haar_orthogonal(N, np.random.default_rng(0))
    chain = statistics.median(bare_chain(w, T) for _ in range(REPEATS))
    print(f"bare chain of {T} products, n={N}: {chain * 1e3:.0f} ms (median of {REPEATS})")
    for init, nl, scale in (
        ("gaussian", "tanh", 1.0),
        ("gaussian", "relu", 1.0),
        ("pytorch", "tanh", 1.0),
        ("orthogonal", "tanh", 1.0),
    ):
        runs = [profile(init, nl, scale) for _ in range(REPEATS)]
        t = statistics.median(r[0] for r in runs)
        print(
            f"profile {init:10s} {nl:5s} scale {scale}: {t * 1e3:6.0f} ms, "
            f"ratio {t / chain:.2f}, exact-SVD fallbacks {runs[0][1]}/{T}"
        )
    start = time.perf_counter()
    gradient_flow(GradientFlowConfig(hidden_size=N, seq_len=T))
    print(
        f"whole experiment (default config at n={N}, T={T}): "
        f"{(time.perf_counter() - start) * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
