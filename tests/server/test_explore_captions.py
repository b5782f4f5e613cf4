"""Every caption on /explore holds against its numbers, over many configurations.

Each sentence that makes a claim is matched, and the claim checked against the engine's
numbers of that configuration: the regime word against the rate and its thresholds, the
printed rate, the gradient horizon against the profile, a gate called open or shut against
its mean, a bound cut at the top against the plot's range, and so on.
"""

import math
import re

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpttlab.engine.gradient_flow import REGIME_RATE, GradientFlowConfig, gradient_flow
from bpttlab.server.figures import gradient_flow_figures
from bpttlab.server.figures.gates import KEEPS

NUMBER = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def close(text: str, value: float, digits: int = 3) -> bool:
    """A number printed with ``digits`` significant digits reads back as ``value``."""
    printed = float(text)
    return math.isclose(printed, value, rel_tol=10.0 ** (1 - digits), abs_tol=1e-12)


def check_regime(caption: str, rate: float | None, regime: str) -> None:
    if rate is None:
        assert "exactly 0 from l = 1 on: vanishing" in caption
        return
    m = re.search(rf"({NUMBER}) decades per step on average, (below|above|within) ", caption)
    assert m, caption
    assert close(m.group(1), rate)
    if "below -0.01: vanishing" in caption:
        assert regime == "vanishing" and rate < -REGIME_RATE
    elif "above +0.01: exploding" in caption:
        assert regime == "exploding" and rate > REGIME_RATE
    else:
        assert "within +-0.01: neither vanishing nor exploding" in caption
        assert regime == "neither" and abs(rate) <= REGIME_RATE


def check_profile(f: dict, r) -> None:
    caption, s, spectral = f["summary"], r.summary, r.profile.spectral
    check_regime(caption, s.log10_rate_per_step, s.regime)
    m = re.search(rf"to ({NUMBER}) at l = {r.config.seq_len}:", caption)
    assert m, caption
    end = spectral[-1]
    assert (float(m.group(1)) == 0) if end == -np.inf else close(m.group(1), 10.0**end)
    m = re.search(r"gradient horizon, the first l at which it is below 1e-3, is l = (\d+)", caption)
    if m:
        h = int(m.group(1))
        assert h == s.horizon and spectral[h] < -3 and np.all(spectral[:h] >= -3)
    else:
        assert "never falls below 1e-3" in caption and np.all(spectral >= -3)
    y_range = f["figure"]["layout"]["yaxis"]["range"]
    measured = [t["y"] for t in f["figure"]["data"] if "bound" not in t["name"]]
    finite = [v for ys in measured for v in ys if v is not None]
    assert y_range[0] <= min(finite) and max(finite) <= y_range[1]
    if r.log10_bound is not None:
        cut = "cut at the top of the plot" in caption
        assert cut == (np.isfinite(r.log10_bound[-1]) and r.log10_bound[-1] > y_range[1])
        notes = [a["text"] for a in f["figure"]["layout"].get("annotations", [])]
        assert cut == any("off the top" in n for n in notes)


def check_bound_factors(f: dict, r) -> None:
    caption, b = f["summary"], r.bound_factors
    t_len = r.config.seq_len
    m = re.search(
        rf"weight factor is ({NUMBER}|-infinity) decades.*? and the slope factor "
        rf"({NUMBER}|-infinity) "
        rf"decades.*?bound is ({NUMBER}|-infinity) decades",
        caption,
    )
    assert m, caption
    for text, value in zip(m.groups(), (b.weight[-1], b.slope[-1], b.bound[-1]), strict=True):
        assert value == -np.inf if text == "-infinity" else close(text, value)
    m = re.search(rf"({NUMBER}) decades above the measured norm", caption)
    if m:
        assert close(m.group(1), b.bound[-1] - r.profile.spectral[-1])
        assert b.bound[-1] >= r.profile.spectral[-1] - 1e-9
    if "most units are saturated" in caption:
        assert b.median_slope < 0.1 and r.config.nonlinearity in ("tanh", "sigmoid")
    if "most units are off" in caption:
        assert b.median_slope == 0
    m = re.search(rf"median slope over all steps and units is ({NUMBER})", caption)
    if m:
        assert close(m.group(1), b.median_slope)
    finite = np.isfinite(b.bound)
    slack = 1e-9 * np.maximum(1, np.abs(b.bound[finite]))
    assert np.all(r.profile.spectral[finite] <= b.bound[finite] + slack)
    assert np.all(r.profile.spectral[~finite] == -np.inf)
    assert len(b.weight) == t_len + 1


def check_gate_means(f: dict, r) -> None:
    caption = f["summary"]
    for gate, (state, direct) in KEEPS.items():
        if gate not in r.gates:
            assert f"{gate} averages" not in caption
            continue
        mean = float(np.mean(r.gates[gate]))
        kept = mean if direct else 1 - mean
        m = re.search(rf"{gate} averages ({NUMBER})( \([<>]= 0\.[19]: (open|shut)\))?", caption)
        assert m, caption
        assert close(m.group(1), mean)
        assert (m.group(3) == "open") == (mean >= 0.9)
        assert (m.group(3) == "shut") == (mean <= 0.1)
        assert (f"{state} is carried over almost unchanged" in caption) == (kept >= 0.9)
        assert (f"{state} is mostly replaced" in caption) == (kept <= 0.1)
        if f"keeps about half of {state}" in caption:
            assert 0.4 <= kept <= 0.6
        assert "near 1" not in caption and "near 0" not in caption


def check_singular_values(f: dict, r) -> None:
    caption, s = f["summary"], r.summary
    assert "exploding is possible" not in caption
    if "guaranteed to vanish" in caption:
        assert s.gamma_sigma_max < 1
        m = re.search(rf"by at least ({NUMBER}) decades per step", caption)
        assert close(m.group(1), -math.log10(s.gamma_sigma_max))
        if s.log10_rate_per_step is not None:  # the bound caps the rate too
            assert s.log10_rate_per_step <= math.log10(s.gamma_sigma_max) + 1e-9
        check_regime(caption, s.log10_rate_per_step, s.regime)
    elif "is at least 1, so the bound does not decide" in caption:
        assert s.gamma_sigma_max >= 1
        check_regime(caption, s.log10_rate_per_step, s.regime)
    elif "gamma x sigma_max = 0" in caption:
        assert s.gamma_sigma_max == 0 and np.all(r.profile.spectral[1:] == -np.inf)
    else:
        assert r.config.cell != "rnn"


def check_eigenvalues(f: dict, r) -> None:
    m = re.search(r"; (\d+) of (\d+) eigenvalues lie outside", f["summary"])
    lam = r.spectrum.eigenvalues
    # an eigenvalue on the unit circle (to rounding: gaussian W_hh is scaled to radius 1)
    # counts as neither side; one clearly outside always counts
    outside = int(m.group(1))
    assert np.count_nonzero(np.abs(lam) > 1 + 1e-8) <= outside
    assert outside <= np.count_nonzero(np.abs(lam) > 1 - 1e-8)
    assert int(m.group(2)) == lam.size
    m = re.search(rf"the 1/gamma circle has radius ({NUMBER})", f["summary"])
    if m:
        assert r.summary.gamma != 1 and close(m.group(1), 1 / r.summary.gamma)
    if "the 1/gamma circle is the unit circle" in f["summary"]:
        assert r.summary.gamma == 1


def check_contributions(f: dict, r) -> None:
    caption, c = f["summary"], r.clipping
    if "within the threshold" in caption:
        assert c.mode == "norm" and c.log10_coefficient == 0
        assert c.log10_norm_before <= math.log10(c.threshold) + 1e-12
    if "multiplies every term by" in caption:
        assert c.log10_coefficient < 0
    if "leaves it unchanged (norm" in caption:
        assert c.log10_norm_after == c.log10_norm_before


def check_truncation(f: dict, r) -> None:
    t = r.truncation
    m = re.search(r"first falls below 1e-3 at tau = (\d+)", f["summary"])
    if m:
        tau = int(m.group(1))
        err = dict(zip(t.taus.tolist(), t.relative_error.tolist(), strict=True))
        assert err[tau] < 1e-3 and all(e >= 1e-3 for k, e in err.items() if k < tau)
    else:
        assert "every step matters" in f["summary"]
        assert np.all(t.relative_error[t.taus < r.config.seq_len] >= 1e-3)


def check_randomized(f: dict, r) -> None:
    rand = r.randomized
    m = re.search(
        rf"of {rand.draws} draws is off by ({NUMBER}), where shrinking like", f["summary"]
    )
    assert close(m.group(1), float(rand.mean_error[-1]))
    m = re.search(rf"1/sqrt\(m\) would give ({NUMBER})", f["summary"])
    assert close(m.group(1), float(rand.rms_over_sqrt_draws[-1]))


CHECKS = {
    "profile": check_profile,
    "bound_factors": check_bound_factors,
    "gate_means": check_gate_means,
    "singular_values": check_singular_values,
    "eigenvalues": check_eigenvalues,
    "contributions": check_contributions,
    "truncation": check_truncation,
    "randomized": check_randomized,
}


@st.composite
def configs(draw):
    cell = draw(st.sampled_from(["rnn", "lstm", "gru"]))
    seq_len = draw(st.integers(2, 40))
    return GradientFlowConfig(
        cell=cell,
        nonlinearity=draw(st.sampled_from(["tanh", "sigmoid", "relu", "identity"])),
        init=draw(st.sampled_from(["gaussian", "orthogonal", "identity"])),
        scale=draw(st.sampled_from([0.0, 0.5, 0.9, 1.0, 1.02, 1.1, 1.5, 2.0, 3.0])),
        hidden_size=draw(st.integers(1, 8)),
        seq_len=seq_len,
        seed=draw(st.integers(0, 1000)),
        forget_bias=draw(st.sampled_from([-6.0, -2.2, 0.0, 2.2, 6.0])),
        update_bias=draw(st.sampled_from([-6.0, -2.2, 0.0, 2.2, 6.0])),
        gru_form=draw(st.sampled_from(["pytorch", "lecture"])),
        clip=draw(st.sampled_from(["none", "norm", "value"])),
        clip_threshold=draw(st.sampled_from([0.01, 1.0, 1e3])),
        truncation=draw(st.integers(0, seq_len)),
        keep_prob=draw(st.sampled_from([1.0, 0.5])),
        draws=5,
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_every_explore_caption_holds_against_its_numbers(config):
    r = gradient_flow(config)
    figs = {f["name"]: f for f in gradient_flow_figures(r)}
    assert ("bound_factors" in figs) == (config.cell == "rnn")
    for name, f in figs.items():
        assert f["summary"].endswith("."), (name, f["summary"])
        if name in CHECKS:
            CHECKS[name](f, r)
