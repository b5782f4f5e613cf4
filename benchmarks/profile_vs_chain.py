"""Engine time for the full Jacobian profile at T = 1000, n = 256 against the bare chain.

The bare chain is T products of n x n matrices (P = P @ Q with Q orthogonal, so
it stays finite without renormalising), the least any exact method must do. The
profile also scales by diag(phi'), renormalises, and proves the spectral norm of
every product to 1e-9 (the Lanczos gap bound, else a Cholesky check of the Gram matrix,
else an exact eigenvalue). Target ratio: at most 1.3. Run: make bench

Then, for the default configuration, what the proof costs and what it leaves: the running
product with its Frobenius norm and no spectral norm at all (the engine's own product and
norm code), and a what-if that stops each Lanczos run at the usual convergence estimate
(residual^2 / Ritz gap below rtol) with no proof and no Cholesky check -- what an unproved
iterative method would cost. The what-if is measured here only; the engine always proves.
"""

import math
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import bare_chain, describe  # noqa: E402

from bpttlab.engine import GradientFlowConfig, gradient_flow, products  # noqa: E402
from bpttlab.engine.cells.rnn import (  # noqa: E402
    rnn_forward,
    rnn_jacobian_profile,
    scaled_step_jacobians,
)
from bpttlab.engine.init import haar_orthogonal  # noqa: E402
from bpttlab.engine.nonlinearity import get_nonlinearity  # noqa: E402
from bpttlab.engine.problem import draw_problem  # noqa: E402

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


def timed_chain_and_frobenius(weight_hh, log_dphi) -> float:
    """Seconds for the profile's running product (columns scaled by phi', renormalised) with
    its Frobenius norm at every step, and no spectral norm: the floor under any proof."""
    factors = list(scaled_step_jacobians(weight_hh, log_dphi))
    buffers, p, inv_norm = products._Buffers(), np.eye(weight_hh.shape[0]), 1.0
    start = time.perf_counter()
    for (d, w), _ in factors:
        p = buffers.product(p, d * inv_norm, w)
        inv_norm = 1.0 / products._frobenius(p)
    return time.perf_counter() - start


@contextmanager
def unproved():
    """The what-if: a Lanczos run stops at the usual estimate and its value is taken as is."""
    saved = products._converged, products._gram_check

    def usual_estimate(top, residual, second):
        return residual <= products._RTOL * top or (
            second is not None and residual * residual <= products._RTOL * top * (top - second)
        )

    products._converged = usual_estimate
    products._gram_check = lambda p, sigma, fro2: (sigma, True)
    try:
        yield
    finally:
        products._converged, products._gram_check = saved


def floor(w: np.ndarray, weight_hh, log_dphi) -> None:
    proved = rnn_jacobian_profile(weight_hh, log_dphi)
    ratios = {"chain": [], "unproved": []}
    for _ in range(REPEATS):
        ratios["chain"].append(timed_chain_and_frobenius(weight_hh, log_dphi) / bare_chain(w, T))
        chain = bare_chain(w, T)
        with unproved():
            t, prof = timed_profile(weight_hh, log_dphi)
        ratios["unproved"].append(t / chain)
    error = np.max(np.abs(prof.spectral - proved.spectral))
    print(
        f"  product and Frobenius norm only: ratio {statistics.median(ratios['chain']):.2f} "
        f"({min(ratios['chain']):.2f}..{max(ratios['chain']):.2f})"
    )
    print(
        f"  what-if, unproved (usual stopping rule, no Cholesky): ratio "
        f"{statistics.median(ratios['unproved']):.2f} "
        f"({min(ratios['unproved']):.2f}..{max(ratios['unproved']):.2f}), "
        f"{prof.lanczos_steps / T:.2f} Lanczos steps per distance, "
        f"largest |log10| difference from the proved profile {error:.1e} "
        f"(relative {math.expm1(error * math.log(10)):.1e})"
    )


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
            f"Gram checks {prof.gram_checks}/{T}, exact fallbacks {prof.svd_fallbacks}, "
            f"{prof.lanczos_steps / T:.2f} Lanczos steps per distance"
        )
    print(f"floor, {'/'.join(map(str, CONFIGS[0]))} (each timed against its own bare chain):")
    floor(w, *inputs[CONFIGS[0]])
    start = time.perf_counter()
    gradient_flow(GradientFlowConfig(hidden_size=N, seq_len=T))
    print(
        f"whole experiment (default config at n={N}, T={T}): "
        f"{(time.perf_counter() - start) * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
