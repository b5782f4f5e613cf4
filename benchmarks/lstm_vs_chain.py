"""Engine time for the LSTM joint-state profile at T = 1000, n = 128 against the bare chain.

The bare chain is T products of 2n x 2n matrices (P = P @ Q with Q orthogonal, so
it stays finite without renormalising), the least any method that forms the
running (h, c) product must do. ``profiles(LSTM, ...)`` is what ``engine.gradient_flow``
computes for cell=lstm: the joint d(h_T, c_T)/d(h_{T-l}, c_{T-l}) profile, its hh
and cc blocks and the input sensitivity, all exact to 1e-9 (certified). The joint
profile alone (no blocks, no input sensitivity) is timed too. Target ratio of the
full call: at most 1.5. Timings are the median of REPEATS runs; the spread
(min..max) is printed as the noise. Run: .venv/bin/python benchmarks/lstm_vs_chain.py
"""

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import bare_chain, describe  # noqa: E402

from bpttlab.engine.cells import GRU, LSTM, profiles  # noqa: E402
from bpttlab.engine.cells.gru import gru_forward  # noqa: E402
from bpttlab.engine.cells.lstm import lstm_forward, lstm_step_factors  # noqa: E402
from bpttlab.engine.init import haar_orthogonal  # noqa: E402
from bpttlab.engine.problem import draw_problem  # noqa: E402
from bpttlab.engine.products import product_norm_profile  # noqa: E402

T, N, REPEATS = 1000, 128, 5


def joint_profile(p, tr):
    return product_norm_profile(lstm_step_factors(p, tr), 2 * N)  # as profiles(LSTM) feeds it


def lstm_profiles(p, tr):
    """Every LSTM profile by name, as engine.gradient_flow computes them."""
    prof = profiles(LSTM, p, tr)
    return {"joint": prof.state, **prof.blocks, "input": prof.input}


def gru_profiles(p, tr):
    prof = profiles(GRU, p, tr)
    return {"state": prof.state, "input": prof.input}


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def summary(times: list[float]) -> str:
    med, lo, hi = statistics.median(times) * 1e3, min(times) * 1e3, max(times) * 1e3
    return f"{med:6.0f} ms (median of {len(times)}, {lo:.0f}..{hi:.0f})"


def problem(cell: str, **extra):
    return draw_problem(
        seed=0,
        hidden_size=N,
        input_size=4,
        seq_len=T,
        init="gaussian",
        scale=1.0,
        input="random",
        input_scale=1.0,
        h0="zeros",
        cell=cell,
        **extra,
    )


def main() -> None:
    print(f"machine: {describe()}")
    q = haar_orthogonal(2 * N, np.random.default_rng(0))
    for peephole in (False, True):
        prob = problem("lstm", peephole=peephole)
        tr = lstm_forward(prob.params, prob.inputs, prob.h0, prob.c0)
        chains, full, joint = [], [], []
        for _ in range(REPEATS):  # interleaved, so that a busy spell hits all three alike
            chains.append(bare_chain(q, T))
            full.append(timed(lstm_profiles, prob.params, tr))
            joint.append(timed(joint_profile, prob.params, tr))
        chain = statistics.median(chains)
        fb = {k: v.svd_fallbacks for k, v in full[0][1].items()}
        tag = "peephole " if peephole else ""
        t_full = [r[0] for r in full]
        t_joint = [r[0] for r in joint]
        print(f"bare chain of {T} products, {2 * N}x{2 * N}: {summary(chains)}")
        print(
            f"lstm {tag}joint profile alone: {summary(t_joint)}, "
            f"ratio {statistics.median(t_joint) / chain:.2f}"
        )
        print(
            f"lstm {tag}profiles (joint, hh, cc, input): {summary(t_full)}, "
            f"ratio {statistics.median(t_full) / chain:.2f} "
            f"(per-run ratios {min(f / c for f, c in zip(t_full, chains, strict=True)):.2f}.."
            f"{max(f / c for f, c in zip(t_full, chains, strict=True)):.2f}), "
            f"exact-SVD fallbacks {fb}"
        )

    q1 = haar_orthogonal(N, np.random.default_rng(0))
    for form in ("pytorch", "lecture"):
        prob = problem("gru", gru_form=form)
        tr = gru_forward(prob.params, prob.inputs, prob.h0)
        chain1 = statistics.median(bare_chain(q1, T) for _ in range(REPEATS))
        runs = [timed(gru_profiles, prob.params, tr) for _ in range(REPEATS)]
        t_gru = [r[0] for r in runs]
        print(
            f"gru {form} profiles (state, input): {summary(t_gru)}, "
            f"ratio {statistics.median(t_gru) / chain1:.2f} to the {N}x{N} chain "
            f"({chain1 * 1e3:.0f} ms)"
        )


if __name__ == "__main__":
    main()
