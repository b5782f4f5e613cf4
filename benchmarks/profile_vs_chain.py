"""Engine time for the full Jacobian profile at T = 1000, n = 256 against the bare chain.

The bare chain is T products of n x n matrices (P = P @ Q with Q orthogonal, so
it stays finite without renormalising), the least any exact method must do. The
profile also scales by diag(phi'), renormalises, and proves the spectral norm of
every product to 1e-9 (the Lanczos gap bound, else a Cholesky check of the Gram matrix,
else an exact eigenvalue). Target ratio: at most 1.3. Run: make bench
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

T, N, REPEATS = 1000, 256, 7
CONFIGS = (
    ("gaussian", "tanh", 1.0),
    ("gaussian", "relu", 1.0),
    ("pytorch", "tanh", 1.0),
    ("orthogonal", "tanh", 1.0),
)


def profile_inputs(init: str, nl: str, scale: float):
    cfg = dict(hidden_size=N, input_size=4, seq_len=T, init=init, scale=scale)
    problem = draw_problem(seed=0, input="random", input_scale=1.0, h0="zeros", **cfg)
    trace = rnn_forward(problem.params, get_nonlinearity(nl), problem.inputs, problem.h0)
    return problem.params.weight_hh, trace.log_dphi


def timed_profile(weight_hh, log_dphi):
    start = time.perf_counter()
    prof = rnn_jacobian_profile(weight_hh, log_dphi)
    return time.perf_counter() - start, prof


def main() -> None:
    """Each repeat times the bare chain right before each profile (interleaved, so a busy
    spell of the shared machine hits both alike) and keeps the ratio of the pair."""
    print(f"machine: {describe()}")
    w = haar_orthogonal(N, np.random.default_rng(0))
    inputs = {cfg: profile_inputs(*cfg) for cfg in CONFIGS}
    chains, ratios, last = [], {cfg: [] for cfg in CONFIGS}, {}
    for _ in range(REPEATS):
        for cfg in CONFIGS:
            chain = bare_chain(w, T)
            t, last[cfg] = timed_profile(*inputs[cfg])
            chains.append(chain)
            ratios[cfg].append(t / chain)
    print(
        f"bare chain of {T} products, n={N}: {statistics.median(chains) * 1e3:.0f} ms "
        f"(median of {len(chains)}, {min(chains) * 1e3:.0f}..{max(chains) * 1e3:.0f})"
    )
    for (init, nl, scale), r in ratios.items():
        prof = last[(init, nl, scale)]
        print(
            f"profile {init:10s} {nl:5s} scale {scale}: ratio {statistics.median(r):.2f} "
            f"(median of {REPEATS} interleaved pairs, {min(r):.2f}..{max(r):.2f}), "
            f"Gram checks {prof.gram_checks}/{T}, exact fallbacks {prof.svd_fallbacks}"
        )
    start = time.perf_counter()
    gradient_flow(GradientFlowConfig(hidden_size=N, seq_len=T))
    print(
        f"whole experiment (default config at n={N}, T={T}): "
        f"{(time.perf_counter() - start) * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
