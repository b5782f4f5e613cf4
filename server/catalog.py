"""The app's views, listed: registering a view is adding it to ``VIEWS`` below (and nothing
is registered by importing a module). Each view brings its query (server/schemas), its run
of the engine (server/compute.py), its figures (server/figures) and its page's controls."""

from __future__ import annotations

from ..engine import cliff
from . import figures, serialize
from .cells import CELL_NAMES, EQUATIONS, cells_of
from .compute import (
    run_cliff,
    run_compare,
    run_depth,
    run_eigen,
    run_gradient_flow,
    run_network,
)
from .schemas import (
    CliffQuery,
    CompareQuery,
    DepthQuery,
    EigenQuery,
    GradientFlowQuery,
    NetworkQuery,
)
from .views import ApiDocs, Group, Registry, View


def _n(x: float) -> str:
    """A number as a label writes it: 1, 0.95, 1e-06."""
    return f"{x:g}"


def _extras(q) -> list[str]:
    """The rarely changed settings of the gradient-flow queries, named when not the default."""
    fields = type(q).model_fields
    parts = []
    if q.input_size != fields["input_size"].default:
        parts.append(f"input size {q.input_size}")
    if q.input != fields["input"].default:
        parts.append(f"{q.input} inputs")
    elif q.input_scale != fields["input_scale"].default:
        parts.append(f"input scale {_n(q.input_scale)}")
    if q.h0 != fields["h0"].default:
        parts.append(f"{q.h0} h0")
    return parts


def _cell(q, cell: str) -> list[str]:
    """How a label names the cell and its own settings."""
    if cell == "lstm":
        name = "LSTM with peepholes" if getattr(q, "peephole", False) else "LSTM"
        return [name, f"forget bias {_n(q.forget_bias)}"]
    if cell == "gru":
        name = "GRU" if q.gru_form == "pytorch" else f"GRU ({q.gru_form} form)"
        return [name, f"update bias {_n(q.update_bias)}"]
    return [f"{q.nonlinearity} {CELL_NAMES.get(cell, cell)}"]


# -- the gradient-flow explorer ---------------------------------------------------------------


def _controls(*names: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Explorer controls, each shown for the cells it applies to."""
    return tuple((name, cells_of(name)) for name in names)


EXPLORE_GROUPS = (
    Group(
        "Cell and sizes",
        _controls(
            "cell",
            "forget_bias",
            "peephole",
            "update_bias",
            "gru_form",
            "nonlinearity",
            "seq_len",
            "hidden_size",
        ),
    ),
    Group("Weights", _controls("init", "scale", "seed")),
    Group(
        "Clipping and truncation", _controls("clip", "clip_threshold", "truncation", "keep_prob")
    ),
    Group(
        "More controls: inputs, initial state, draws",
        _controls("draws", "input_size", "input", "input_scale", "h0"),
        more=True,
    ),
)


def explore_label(q) -> str:
    """'tanh RNN, n = 32, T = 100, gaussian init, scale 1, seed 0', and what else is set."""
    parts = [
        *_cell(q, q.cell),
        f"n = {q.hidden_size}",
        f"T = {q.seq_len}",
        f"{q.init} init",
        f"scale {_n(q.scale)}",
        f"seed {q.seed}",
    ]
    if q.clip != "none":
        parts.append(f"clipped by {q.clip} at {_n(q.clip_threshold)}")
    if q.truncation:
        full = " (full BPTT)" if q.truncation >= q.seq_len else ""
        parts.append(f"truncated to τ = {q.truncation}{full}")
    if q.keep_prob < 1:
        parts.append(f"randomized truncation p = {_n(q.keep_prob)}, {q.draws} draws")
    return ", ".join(parts + _extras(q))


EXPLORE = View(
    name="explore",
    title="Gradient-flow explorer",
    template="explore.html",
    query=GradientFlowQuery,
    api="/api/v1/gradient-flow",
    compute=run_gradient_flow,
    draw=lambda r: {"figures": figures.gradient_flow_figures(r)},
    payload=lambda r, q: serialize.gradient_flow_payload(r, q.includes),
    docs=ApiDocs(
        tag="gradient flow",
        summary="Jacobian norms, spectra, the BPTT gradient and clipping for one configuration",
        description=(
            "Draws the cell's weights, inputs, h0 and target from `seed`, runs the cell for "
            "`seq_len` steps and returns, for every distance l = 0..T, log10 ||dh_T/dh_(T-l)|| "
            "(spectral and Frobenius), Pascanu's bound, the spectrum of W_hh, the BPTT gradient "
            "of L = 1/2 ||h_T - y||^2 with its per-step terms, the clipping result and a "
            "summary. For cell=rnn, `bound_factors` splits the bound as the lecture writes it, "
            "||W_hh||^l prod ||diag(phi'(a_t))||: `weight` is l log10 ||W_hh||_2 and `slope` "
            "the sum over the last l steps of log10 max_i |phi'(a_t,i)| (null where a slope is "
            "exactly 0), for l = 0..T; `weight + slope` is never below the spectral profile, and "
            "`median_slope` is the median |phi'(a_t,i)| over every step and unit; null for the "
            "gated cells. `summary.log10_rate_per_step` is the least-squares slope through the "
            "origin of the spectral profile over l = 1..T (decades per step) and "
            "`summary.regime` its word: `vanishing` below -0.01, `exploding` above +0.01, "
            "else `neither`. `summary.horizon` is the gradient horizon (the first l with "
            "||dh_T/dh_(T-l)|| < 1e-3) and `summary.input_horizon` the memory horizon (the "
            "first l at which ||dh_T/dx_(T-l)|| is 1e3 below its value at l = 0). Magnitudes "
            "are log10 values; `null` in a log10 list means the value is exactly 0."
        ),
        figures_summary="The Plotly figures of the explorer for one configuration",
        figures_description=(
            "The figures /explore draws (Plotly data + layout), each with a one-sentence "
            "summary, the canonical query string of the configuration and its `label`, one "
            "line in words."
        ),
    ),
    groups=EXPLORE_GROUPS,
    label=explore_label,
    # a compact embed shows the length, the scale and the one knob of its cell
    compact=("nonlinearity", "forget_bias", "update_bias", "seq_len", "scale"),
    grid=(("seq_len", (25, 50, 100, 200, 400)), ("scale", (0.5, 0.9, 1.0, 1.1, 1.5))),
    values=(
        ("hidden_size", (8, 16, 32, 64, 128)),
        ("forget_bias", (0.0, 1.0, 3.0, 5.0)),
        ("update_bias", (-4.0, 0.0, 4.0, 8.0)),
        ("seed", (0, 1, 2)),
        ("clip_threshold", (0.1, 1.0, 10.0)),
        ("truncation", (0, 5, 10, 25, 50)),
        ("keep_prob", (0.25, 0.5, 1.0)),
        ("input_scale", (0.5, 1.0, 2.0)),
    ),
    context={"equations": EQUATIONS},
)

# -- three cells side by side -----------------------------------------------------------------

COMPARE_GROUPS = (
    Group("Sequence and sizes", (("seq_len", ()), ("nonlinearity", ()), ("hidden_size", ()))),
    Group(
        "Gates",
        (("forget_bias", ()), ("update_bias", ()), ("gru_form", ()), ("peephole", ())),
    ),
    Group("Weights", (("init", ()), ("scale", ()), ("seed", ()))),
    Group(
        "More controls: inputs, initial state",
        tuple((n, ()) for n in ("input_size", "input", "input_scale", "h0")),
        more=True,
    ),
)


def compare_label(q) -> str:
    """'T = 400, n = 32, tanh RNN, forget bias 3, update bias 0, gaussian init, scale 1, ...'"""
    gru = "" if q.gru_form == "pytorch" else f" ({q.gru_form} GRU form)"
    parts = [
        f"T = {q.seq_len}",
        f"n = {q.hidden_size}",
        f"{q.nonlinearity} RNN",
        f"forget bias {_n(q.forget_bias)}" + (" with peepholes" if q.peephole else ""),
        f"update bias {_n(q.update_bias)}{gru}",
        f"{q.init} init",
        f"scale {_n(q.scale)}",
        f"seed {q.seed}",
    ]
    return ", ".join(parts + _extras(q))


# the URLs of the lecture's claims 7 and 8 (the home page links them; tests/server/test_claims.py)
LSTM_CLAIM = "/compare?seq_len=400&forget_bias=3"
GRU_CLAIM = "/compare?seq_len=400&update_bias=4"
COMPARE_PRESETS = (
    ("Untrained, no gate bias: gates near 1/2, all three forget", "/compare"),
    ("The lecture's LSTM: forget gate held open", LSTM_CLAIM),
    ("The lecture's GRU: update gate held open", GRU_CLAIM),
    ("Both gates open, $T = 1000$", "/compare?seq_len=1000&forget_bias=5&update_bias=5"),
    (
        r"Sigmoid RNN: $\gamma = 1/4$",
        "/compare?seq_len=300&nonlinearity=sigmoid&forget_bias=5&update_bias=5",
    ),
)

COMPARE = View(
    name="compare",
    title="RNN, LSTM and GRU side by side",
    template="compare.html",
    query=CompareQuery,
    api="/api/v1/compare",
    compute=run_compare,
    draw=lambda r: {"figures": figures.compare_figures(r), "numbers": figures.compare_numbers(r)},
    payload=lambda r, q: serialize.compare_payload(r),
    docs=ApiDocs(
        tag="compare",
        summary="RNN, LSTM and GRU on the same inputs: input sensitivity and memory horizons",
        description=(
            "Runs the three cells with one configuration (same seed, scale, inputs x_t, h0 and "
            "target; one weight block per gate) and returns, for each, log10 ||dh_T/dx_(T-l)|| "
            "for l = 0..T-1, the same relative to l = 0, and the memory horizon: the first l "
            "at which the sensitivity falls below 1e-3 of its value at l = 0 (null if never), "
            "and the gated cells' `gate_means` (each gate averaged over steps and units), "
            "`keep_gate` (the gate carrying the state over: f, z or u) and `kept_per_step` "
            "(the mean fraction of the state it carries over per step: f, z or 1 - u)."
        ),
        figures_summary="The Plotly figures of /compare",
    ),
    groups=COMPARE_GROUPS,
    label=compare_label,
    compact=("seq_len", "forget_bias", "update_bias"),
    grid=(("seq_len", (50, 100, 200, 400)), ("forget_bias", (0.0, 1.0, 3.0, 5.0))),
    values=(
        ("update_bias", (-4.0, 0.0, 4.0, 8.0)),
        ("hidden_size", (8, 16, 32, 64, 128)),
        ("scale", (0.5, 0.9, 1.0, 1.1, 1.5)),
        ("seed", (0, 1, 2)),
        ("input_scale", (0.5, 1.0, 2.0)),
    ),
    context={"presets": COMPARE_PRESETS},
)

# -- Pascanu's cliff ----------------------------------------------------------------------------

CLIFF_GROUPS = (
    Group("Gradient descent", (("learning_rate", ()), ("steps", ()), ("clip_threshold", ()))),
    Group("Start and length", (("start_w", ()), ("start_b", ()), ("seq_len", ()))),
    Group(
        "The model and the grid",
        tuple((n, ()) for n in ("nonlinearity", "w_min", "w_max", "b_min", "b_max", "resolution")),
        more=True,
    ),
)


def cliff_label(q) -> str:
    """'sigmoid unit, T = 30, start (w, b) = (5, -3), learning rate 0.5, 200 steps, clip at 1'"""
    return (
        f"{q.nonlinearity} unit, T = {q.seq_len}, start (w, b) = ({_n(q.start_w)}, "
        f"{_n(q.start_b)}), learning rate {_n(q.learning_rate)}, {q.steps} steps, "
        f"clip at {_n(q.clip_threshold)}"
    )


CLIFF = View(
    name="cliff",
    title="The exploding-gradient cliff",
    template="cliff.html",
    query=CliffQuery,
    api="/api/v1/cliff",
    compute=run_cliff,
    draw=lambda r: {"figures": figures.cliff_figures(*r), "numbers": figures.cliff_numbers(*r[1:])},
    payload=lambda r, q: serialize.cliff_payload(*r, q.model_dump()),
    docs=ApiDocs(
        tag="cliff",
        summary="Pascanu's cliff: loss surface, gradient magnitude, descent three ways",
        description=(
            "The single-unit RNN x_t = w phi(x_(t-1)) + b, x_0 = 0.5, loss E = (phi(x_T) - "
            "0.7)^2 (Pascanu et al. 2013, Fig. 6). Returns the axes `w` and `b`, `loss` and "
            "`log10_grad_norm` (log10 ||(dE/dw, dE/db)||) as resolution x resolution arrays, "
            "rows over b and columns over w; gradient descent from (start_w, start_b) "
            "unclipped, clipped by norm and by value (PyTorch's semantics), each path with its "
            "loss and step length per iteration, `diverged_at` (null, or the step at which "
            "the run left |w|, |b| <= 1e6) and an `outcome`: `median_loss_last` and "
            "`best_loss_last` over its `last` 20 iterations, `thrown_at` (the first step "
            "longer than `throw_factor` times the median of the `throw_window` steps before it "
            "and longer than `clipped_step_max` = sqrt(2) learning_rate clip_threshold; null "
            "if none), `throw_length`, `throw_ratio`, `landing`, `moved_last` (path length "
            "over the last iterations), `stalled` and `plateau` (stalled above `plateau_loss`)"
            "; the constants in `outcome_definitions`; and the clipping of the gradient where "
            "the unclipped run was thrown (at the start point if it was not)."
        ),
        figures_summary="The Plotly figures of /cliff",
    ),
    groups=CLIFF_GROUPS,
    label=cliff_label,
    compact=("clip_threshold", "learning_rate", "seq_len"),
    grid=(("clip_threshold", (0.1, 0.5, 1.0, 2.0, 5.0)),),
    values=(
        ("learning_rate", (0.1, 0.5, 1.0, 2.0)),
        ("steps", (50, 100, 200)),
        ("seq_len", (10, 20, 30, 50)),
    ),
    context={
        "extra_script": "js/cliff.js",
        "cliff_terms": {
            "seq_len": CliffQuery.model_fields["seq_len"].default,
            "tail": cliff.TAIL,
            "throw_factor": f"{cliff.THROW_FACTOR:g}",
            "throw_window": cliff.THROW_WINDOW,
            "stall_distance": f"{cliff.STALL_DISTANCE:g}",
            "plateau_loss": f"{cliff.PLATEAU_LOSS:g}",
        },
    },
)

# -- the linear case ----------------------------------------------------------------------------

_BLOCKS, _INITS = ("eigenvalues",), ("gaussian", "orthogonal", "identity", "pytorch")
EIGEN_GROUPS = (
    Group(
        "The matrix",
        (
            ("matrix", ()),
            ("non_normal", _BLOCKS),
            ("coupling", _BLOCKS),
            ("hidden_size", _INITS),
            ("scale", _INITS),
        ),
    ),
    Group(
        "Eigenvalues (radius, angle)",
        tuple((f"{part}{k}", _BLOCKS) for k in (1, 2, 3) for part in ("radius", "angle")),
    ),
    Group("Run", (("seq_len", ()), ("seed", ()))),
)


def eigen_label(q) -> str:
    """'|λ| = 1.05, 0.9, 0.6 at angles 0, 0.5, 2, T = 50, seed 0', or the init's W."""
    if q.matrix == "eigenvalues":
        radii = ", ".join(_n(getattr(q, f"radius{k}")) for k in (1, 2, 3))
        angles = ", ".join(_n(getattr(q, f"angle{k}")) for k in (1, 2, 3))
        parts = [f"|λ| = {radii} at angles {angles}"]
        if q.non_normal:
            parts.append(f"non-normal (coupling {_n(q.coupling)})")
    else:
        parts = [f"{q.matrix} W", f"n = {q.hidden_size}", f"scale {_n(q.scale)}"]
    return ", ".join([*parts, f"T = {q.seq_len}", f"seed {q.seed}"])


EIGEN_PRESETS = (
    ("One eigenvalue outside the unit circle", "/eigen"),
    (
        r"Non-normal: all $|\lambda| = 0.5$, yet $\|W^l\|$ grows first",
        "/eigen?radius1=0.5&radius2=0.5&angle2=0&radius3=0.5&angle3=0&non_normal=true",
    ),
    (
        "A Gaussian $W$ with spectral radius 0.95",
        "/eigen?matrix=gaussian&scale=0.95&hidden_size=32",
    ),
)

EIGEN = View(
    name="eigen",
    title="Vanishing and exploding, proved by eigenvectors",
    template="eigen.html",
    query=EigenQuery,
    api="/api/v1/eigen",
    compute=run_eigen,
    draw=lambda r: {"figures": figures.eigen_figures(r), "numbers": figures.eigen_numbers(r)},
    payload=lambda r, q: serialize.eigen_payload(r, q.model_dump()),
    docs=ApiDocs(
        tag="eigen",
        summary="The linear case: g_l = (W^T)^l g_0 against its eigen-expansion",
        description=(
            "Identity nonlinearity: the backpropagated gradient g_l = (W^T)^l g_0 (g_0 a unit "
            "vector from the seed) next to its expansion sum_i c_i lambda_i^l q_i. Returns each "
            "component's log10 |c_i lambda_i^l| ||q_i|| (l x n), the direct and expanded log10 "
            "||g_l||, their relative difference (largest in `max_relative_difference`), "
            "log10 ||W^l||, and whether a W with spectral radius < 1 shows transient growth."
        ),
        figures_summary="The Plotly figures of /eigen",
    ),
    groups=EIGEN_GROUPS,
    label=eigen_label,
    compact=("radius1", "non_normal", "seq_len"),
    grid=(("radius1", (0.5, 0.9, 1.0, 1.05, 1.1)), ("seq_len", (25, 50, 100))),
    values=(
        *((f"radius{k}", (0.5, 0.9, 1.0, 1.05, 1.1)) for k in (2, 3)),
        *((f"angle{k}", (0.0, 0.5, 1.0, 2.0, 3.1416)) for k in (1, 2, 3)),
        ("coupling", (0.0, 1.0, 10.0, 20.0)),
        ("hidden_size", (4, 8, 16, 32)),
        ("scale", (0.5, 0.9, 1.0, 1.1)),
        ("seed", (0, 1, 2)),
    ),
    context={"presets": EIGEN_PRESETS},
)

# -- through depth ------------------------------------------------------------------------------

DEPTH_GROUPS = (
    Group(
        "Net",
        (("architecture", ()), ("compare", ()), ("depth", ()), ("width", ()), ("activation", ())),
    ),
    Group("Weights", (("init", ()), ("gain", ()), ("tied", ()), ("seed", ()))),
    Group(
        "Skip connections",
        (("alpha", ()), ("alpha_rule", ()), ("growth", ()), ("gate_bias", ())),
    ),
    Group("More controls: the batch", (("batch", ()),), more=True),
)


def depth_label(q) -> str:
    """'plain net, 50 layers of width 128, tanh, xavier init, gain 1, batch 16, seed 0', and
    the architecture's own setting."""
    head = "plain, residual, dense and highway nets" if q.compare else f"{q.architecture} net"
    parts = [head, f"{q.depth} layers of width {q.width}", q.activation]
    if q.compare or q.architecture == "residual":
        alpha = f"α = {_n(q.alpha)}/√{q.depth}" if q.alpha_rule == "inv_sqrt_depth" else _n(q.alpha)
        parts.append(alpha if alpha.startswith("α") else f"α = {alpha}")
    if q.compare or q.architecture == "dense":
        parts.append(f"growth {q.growth}")
    if q.compare or q.architecture == "highway":
        parts.append(f"gate bias {_n(q.gate_bias)}")
    parts += [f"{q.init} init", f"gain {_n(q.gain)}"]
    if q.tied:
        parts.append("tied weights")
    return ", ".join([*parts, f"batch {q.batch}", f"seed {q.seed}"])


# the lecture's claims, each checked against its exact configuration's numbers
# (tests/server/test_depth.py)
DEPTH_PRESETS = (
    ("Plain, 50 sigmoid layers: the input's gradient is below 10⁻⁶ of the output's",
     "/depth?activation=sigmoid"),
    ("The same, residual with α = 1/√L: within 10x",
     "/depth?activation=sigmoid&architecture=residual&alpha_rule=inv_sqrt_depth"),
    ("The same, highway with gate bias −3: within 20x",
     "/depth?activation=sigmoid&architecture=highway&gate_bias=-3"),
    ("All four on one draw", "/depth?activation=sigmoid&compare=true&alpha_rule=inv_sqrt_depth"
     "&gate_bias=-3"),
    ("Linear, 100 layers, untied weights", "/depth?activation=identity&depth=100&gain=1.05"),
    ("The same weights tied: explodes faster",
     "/depth?activation=identity&depth=100&gain=1.05&tied=true"),
)  # fmt: skip

DEPTH = View(
    name="depth",
    title="Through depth: plain, residual, dense and highway nets",
    template="depth.html",
    query=DepthQuery,
    api="/api/v1/depth",
    compute=run_depth,
    draw=lambda r: {"figures": figures.depth_figures(r), "numbers": figures.depth_numbers(r)},
    payload=lambda r, q: serialize.depth_payload(r, q),
    docs=ApiDocs(
        tag="depth",
        summary="Gradients through a deep feed-forward net: plain, residual, dense, highway",
        description=(
            "Draws a net of `depth` layers of `width` units (biases 0, weights by `init` x "
            "`gain`, one child stream of the seed per layer), a batch of `batch` inputs and "
            "targets from N(0, 1), and the loss L = (1/batch) sum 1/2 ||y - target||^2. "
            "Returns per architecture (all four on the same draw with `compare=true`): "
            "`log10_grad`, log10 ||dL/dh_l||_F for l = 0..depth (0 = the input), exact in the "
            "log domain; `log10_ratio` = log10_grad[0] - log10_grad[depth]; "
            "`log10_grad_weight` (and `log10_grad_gate` for highway), log10 ||dL/dW_l||_F for "
            "l = 1..depth; per layer the mean and std of h_l, the fraction of the activation's "
            "inputs `saturated` (tanh |phi| > 0.99, sigmoid outside [0.01, 0.99], relu dead: "
            "input <= 0) and a `histogram` of h_l on bins shared by every layer; and all "
            "`width` singular values of the input-output Jacobian at the first input "
            "(`log10_singular_values`, largest first), `log10_spread` = log10 sigma_max / "
            "sigma_min (null when sigma_min is exactly 0) and `spread_resolved` (sigma_min "
            "above width x eps x sigma_max, the rounding floor). With `include=weights`: every "
            "tensor under torch.nn.Sequential's names (`0.weight`, `2.weight`, ... for plain; "
            "`{l}.linear.weight`, `{l}.gate.weight` for the blocks) and the inputs and target. "
            "Activations beyond float64 are a 422 naming `gain`. `null` in a log10 list means "
            "exactly 0."
        ),
        figures_summary="The Plotly figures of /depth",
    ),
    groups=DEPTH_GROUPS,
    label=depth_label,
    compact=("architecture", "depth", "activation"),
    grid=(("depth", (10, 50, 100)), ("gain", (0.5, 1.0, 1.5))),
    values=(
        ("width", (32, 64, 128, 256)),
        ("batch", (1, 16, 64)),
        ("alpha", (0.1, 0.5, 1.0)),
        ("growth", (4, 16, 32)),
        ("gate_bias", (-3.0, -1.0, 0.0, 1.0)),
        ("seed", (0, 1, 2)),
    ),
    context={"presets": DEPTH_PRESETS},
)


# -- networks through time ----------------------------------------------------------------------

NETWORK_GROUPS = (
    Group(
        "Network",
        (
            ("cell", ()),
            ("num_layers", ()),
            ("bidirectional", ()),
            ("skip", ()),
            ("hidden_size", ()),
            ("seq_len", ()),
        ),
    ),
    Group(
        "Cell",
        _controls("nonlinearity", "forget_bias", "update_bias", "gru_form"),
    ),
    Group(
        "Loss and weights", (("loss", ()), ("vocab_size", ()), *_controls("init", "scale", "seed"))
    ),
    Group(
        "More controls: inputs, time-axis labels",
        _controls("input_size", "input", "input_scale", "labels"),
        more=True,
    ),
)


def network_label(q) -> str:
    """'2-layer LSTM, n = 16, T = 20, loss at every step, forget bias 0, gaussian init, ...'"""
    parts = [
        f"{q.num_layers}-layer "
        + ("bidirectional " if q.bidirectional else "")
        + ", ".join(_cell(q, q.cell)),
        f"n = {q.hidden_size}",
        f"T = {q.seq_len}",
    ]
    if q.skip == "residual":
        parts.append("residual skips")
    parts += [
        "loss at every step" if q.loss == "every" else "loss at the last step",
        f"V = {q.vocab_size}",
        f"{q.init} init",
        f"scale {_n(q.scale)}",
        f"seed {q.seed}",
    ]
    fields = type(q).model_fields
    if q.input_size != fields["input_size"].default:
        parts.append(f"input size {q.input_size}")
    if q.input != fields["input"].default:
        parts.append(f"{q.input} inputs")
    elif q.input_scale != fields["input_scale"].default:
        parts.append(f"input scale {_n(q.input_scale)}")
    return ", ".join(parts)


# the lecture's "2 to 4 layers is best; skip connections are needed to train deeper RNNs"
# (one layer has no skip: residuals join layer k >= 2 to its input)
LAYER_PRESETS = (
    ("1 layer", "/network?num_layers=1"),
    ("2 layers", "/network"),
    ("4 layers", "/network?num_layers=4"),
    ("8 layers", "/network?num_layers=8"),
    ("2 layers, residual", "/network?skip=residual"),
    ("4 layers, residual", "/network?num_layers=4&skip=residual"),
    ("8 layers, residual", "/network?num_layers=8&skip=residual"),
)
# "the movie was terribly exciting": at "terribly" the forward half has not read "exciting"
MOVIE_PRESET = "/network?num_layers=1&bidirectional=true&seq_len=5&labels=movie"
MOVIE_STACKED = "/network?bidirectional=true&seq_len=5&labels=movie"

NETWORK = View(
    name="network",
    title="Networks through time: layers, directions, influence",
    template="network.html",
    query=NetworkQuery,
    api="/api/v1/network",
    compute=run_network,
    draw=lambda r: {"figures": figures.network_figures(r)},
    payload=lambda r, q: serialize.network_payload(r.maps, q.includes),
    docs=ApiDocs(
        tag="network",
        summary="Stacked and bidirectional RNNs: gradient norms by layer and step, influence maps",
        description=(
            "Draws a torch.nn.RNN/LSTM/GRU-equivalent network (num_layers, bidirectional, "
            "optional residual skips from layer 2 on), an output layer (V = vocab_size) and "
            "targets from `seed`, runs it from zero states with softmax cross-entropy at every "
            "step (`loss=every`, L = sum_t L_t) or at the last one, and returns: `layer_time` "
            "{direction: num_layers x T} log10 ||dL/dh_t|| of every layer and step (row 0 is "
            "layer 1); `influence` {direction: T x T} log10 ||dy_t/dx_k||_2 (spectral norm; "
            "rows t, columns k; y_t the top layer's output half of that direction); "
            "`influence_union` (bidirectional only) log10 sqrt(||J_fwd||_2^2 + ||J_bwd||_2^2), "
            "which is at least the spectral norm of the stacked Jacobian and at most "
            "log10 sqrt(2) = 0.15 decades above it; `terms` {direction: T x T} log10 of the "
            "Frobenius norm of the (t, k) term of the first layer's dL/dW_hh (null until the "
            "engine provides it); `loss` (natural log units); `gradient` (log10 norm of "
            "dL/d every parameter under PyTorch's names, and of all of them together); and "
            "`summary` per direction: the geometric means over t of ||dL/dh_t|| at the top and "
            "bottom layers and their difference in decades (`layer_drop`), how many entries the "
            "direction has not read yet are nonzero (`ahead_nonzero` of `ahead_total`), and "
            "`reach` (log10 ||dy_T/dx_1|| - log10 ||dy_T/dx_T|| forward, mirrored backward); "
            "`torch_module`, the torch.nn constructor of the network (null for the sigmoid and "
            "identity RNNs and the lecture-form GRU, which torch.nn does not have). "
            "`include=weights` adds `weights`: `rnn` (the torch module's exact state_dict), "
            "`output` {weight, bias}, `inputs` (T x d), `targets`, `h0` (and `c0`) zeros; "
            "POST it back to /api/v1/network to reproduce the numbers. Magnitudes are log10 "
            "values; `null` means exactly 0."
        ),
        figures_summary="The Plotly figures of /network",
    ),
    groups=NETWORK_GROUPS,
    label=network_label,
    compact=("num_layers", "skip", "bidirectional"),
    grid=(("num_layers", (1, 2, 4, 8)), ("skip", ("none", "residual"))),
    values=(
        ("seq_len", (5, 10, 20, 40)),
        ("hidden_size", (8, 16, 32)),
        ("scale", (0.5, 1.0, 1.5)),
        ("forget_bias", (0.0, 1.0, 3.0)),
        ("update_bias", (-4.0, 0.0, 4.0)),
        ("vocab_size", (2, 8, 32)),
        ("seed", (0, 1, 2)),
    ),
    context={
        "depth_presets": LAYER_PRESETS,
        "movie_preset": MOVIE_PRESET,
        "movie_stacked": MOVIE_STACKED,
        "equations": EQUATIONS,
    },
)

VIEWS = Registry([EXPLORE, COMPARE, CLIFF, EIGEN, NETWORK, DEPTH])
