"""Stacked and bidirectional recurrent networks with a sequence loss, as torch.nn.RNN / LSTM /
GRU compute them, and their exact backward pass through (layer x direction x time).

With D = 2 directions when ``bidirectional`` (else 1), n the hidden size, L = num_layers:

    y^(-1)_t = x_t                                   (the inputs, (T, d))
    h^(k, fwd)_t = cell(h^(k, fwd)_{t-1}, y^(k-1)_t)  t = 1..T, from zero states
    h^(k, bwd)_t = cell(h^(k, bwd)_{t+1}, y^(k-1)_t)  t = T..1, from zero states (its own
                                                      weights, the ``_reverse`` ones)
    y^(k)_t = [h^(k, fwd)_t ; h^(k, bwd)_t]          (D n,), PyTorch's output
    y^(k)_t += y^(k-1)_t  for k >= 1 when skip = "residual"

The residual (GNMT's) adds layer k's whole input to its whole output: for a bidirectional
network the concatenated 2n input to the concatenated 2n output, so the forward half of the
output receives the forward half of the input and the backward half the backward half. Layer
0 has none (its input is x, of another size). ``skip = "none"`` is PyTorch's network.

The loss reads the top layer's output through ``output.weight`` (V, D n) and ``output.bias``
(V,): logits_t = W y^(L-1)_t + b and L_t = -log softmax(logits_t)[target_t], summed over
every step (``loss = "every"``, L = sum_t L_t) or at the last step only (``loss = "last"``).

Parameters are named as in PyTorch's state_dict: ``weight_ih_l{k}``, ``weight_hh_l{k}``,
``bias_ih_l{k}``, ``bias_hh_l{k}`` and the same with ``_reverse``, with the cells' layouts
(gate rows i|f|g|o for the LSTM, r|z|n for the GRU), and ``output.weight``, ``output.bias``.

The forward pass is in plain float64, as PyTorch's: a layer output or logit beyond float64
raises NetworkOverflowError (a ValueError naming the step) instead of carrying inf. The
backward pass runs the cells' own one-step VJPs (``cell.backward``, as engine.bptt does)
in the log domain: every dL/dh_t, every gradient handed from a layer to the one below it and
every parameter gradient is a mantissa with a log10 scale, so a vanishing gradient of 1e-900
is still reported exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .cells import Cell, StepRecorder, cell_options, get_cell
from .choices import check_choices
from .logdomain import ScaledTensors, add_scaled, log10_row_norms

SKIPS = ("none", "residual")
LOSSES = ("every", "last")
MAX_LAYERS = 8
PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
# child streams of default_rng(seed), in this order; append only. Then one stream per
# (layer, direction) for every possible layer, so growing num_layers keeps the layers below.
_STREAMS = ("inputs", "targets", "output")
_CELL_STREAMS = ("weight_hh", "weight_ih", "bias_ih", "bias_hh", "peep")


@dataclass(frozen=True)
class NetworkConfig:
    """A network and its problem: the explorer's cell controls plus the network's own.

    num_layers : 1..8; bidirectional : a second stack on the reversed sequence;
    skip : none | residual (see the module); loss : every | last; vocab_size : V, 2..64.
    ``peephole`` must stay False (torch.nn.LSTM has no peepholes).
    """

    cell: str = "lstm"
    nonlinearity: str = "tanh"
    hidden_size: int = 8
    input_size: int = 4
    seq_len: int = 20
    num_layers: int = 2
    bidirectional: bool = False
    skip: str = "none"
    loss: str = "every"
    vocab_size: int = 8
    init: str = "gaussian"
    scale: float = 1.0
    input: str = "random"
    input_scale: float = 1.0
    seed: int = 0
    gru_form: str = "pytorch"
    forget_bias: float = 0.0
    update_bias: float = 0.0
    peephole: bool = False

    def __post_init__(self) -> None:
        check_choices(
            {
                "cell": self.cell,
                "nonlinearity": self.nonlinearity,
                "init": self.init,
                "input": self.input,
                "gru_form": self.gru_form,
            }
        )
        if self.skip not in SKIPS:
            raise ValueError(f"skip must be one of {list(SKIPS)}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}")
        if not 1 <= self.num_layers <= MAX_LAYERS:
            raise ValueError(f"num_layers must be in 1..{MAX_LAYERS}")
        if not 2 <= self.vocab_size <= 64:
            raise ValueError("vocab_size must be in 2..64")
        for name in ("hidden_size", "input_size", "seq_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.peephole:
            raise ValueError("peephole: torch.nn.LSTM has no peepholes; a network has none")

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """n_out = D n, the size of every layer's output."""
        return self.directions * self.hidden_size

    def layer_input_size(self, layer: int) -> int:
        return self.input_size if layer == 0 else self.output_size


def param_name(kind: str, layer: int, direction: int) -> str:
    """PyTorch's state_dict name, e.g. ``weight_hh_l1_reverse`` for direction 1."""
    return f"{kind}_l{layer}" + ("_reverse" if direction else "")


def parameter_shapes(config: NetworkConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor of the network by PyTorch's name, in PyTorch's order, and its shape
    (G n rows: G = 1 rnn, 4 lstm, 3 gru), then ``output.weight``, ``output.bias``."""
    g, n = get_cell(config.cell).gate_rows, config.hidden_size
    shapes: dict[str, tuple[int, ...]] = {}
    for k in range(config.num_layers):
        for d in range(config.directions):
            shapes[param_name("weight_ih", k, d)] = (g * n, config.layer_input_size(k))
            shapes[param_name("weight_hh", k, d)] = (g * n, n)
            shapes[param_name("bias_ih", k, d)] = (g * n,)
            shapes[param_name("bias_hh", k, d)] = (g * n,)
    shapes["output.weight"] = (config.vocab_size, config.output_size)
    shapes["output.bias"] = (config.vocab_size,)
    return shapes


@dataclass(frozen=True)
class NetworkProblem:
    """weights : {PyTorch name: array} (see parameter_shapes); inputs : (T, d);
    targets : (T,) integers in 0..V-1 for loss=every, (1,) for loss=last."""

    weights: dict[str, np.ndarray]
    inputs: np.ndarray
    targets: np.ndarray


def draw_network_problem(config: NetworkConfig) -> NetworkProblem:
    """Each cell's weights by the cell's own ``draw_params`` (W_hh's blocks from ``init`` and
    ``scale``, the rest from U(-1/sqrt(n), 1/sqrt(n))), each (layer, direction) from its own
    child stream; output.weight and output.bias from nn.Linear's U(-1/sqrt(n_out),
    1/sqrt(n_out)); inputs from N(0, input_scale^2) (or zeros); targets uniform in 0..V-1."""
    cell = get_cell(config.cell)
    options = cell_options(cell, config)
    n = config.hidden_size
    root = _root_streams(config)
    weights: dict[str, np.ndarray] = {}
    for k in range(config.num_layers):
        for d in range(config.directions):
            child = root[len(_STREAMS) + 2 * k + d].spawn(len(_CELL_STREAMS))
            cs = dict(zip(_CELL_STREAMS, child, strict=True))
            p = cell.draw_params(
                cs, n=n, d=config.layer_input_size(k), init=config.init, scale=config.scale,
                options=options,
            )  # fmt: skip
            for kind in PARAM_NAMES:
                weights[param_name(kind, k, d)] = getattr(p, kind)
    output, inputs, targets = draw_output_and_data(config)
    return NetworkProblem(weights | output, inputs, targets)


def _root_streams(config: NetworkConfig) -> list[np.random.Generator]:
    return np.random.default_rng(config.seed).spawn(len(_STREAMS) + 2 * MAX_LAYERS)


def draw_output_and_data(
    config: NetworkConfig,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """({"output.weight", "output.bias"}, inputs, targets) exactly as draw_network_problem
    draws them (their own child streams), without drawing the recurrent layers: what a
    model read from a file lacks (engine.model_io)."""
    v = config.vocab_size
    streams = dict(zip(_STREAMS, _root_streams(config)[: len(_STREAMS)], strict=True))
    bound = 1.0 / np.sqrt(config.output_size)
    output = {
        "output.weight": streams["output"].uniform(-bound, bound, (v, config.output_size)),
        "output.bias": streams["output"].uniform(-bound, bound, v),
    }
    t_len = config.seq_len
    if config.input == "random":
        inputs = config.input_scale * streams["inputs"].standard_normal((t_len, config.input_size))
    else:
        inputs = np.zeros((t_len, config.input_size))
    count = t_len if config.loss == "every" else 1
    targets = streams["targets"].integers(0, v, size=count)
    return output, inputs, targets


def check_weights(config: NetworkConfig, weights: dict[str, np.ndarray]) -> None:
    """ValueError listing the expected names and shapes if ``weights`` differ from them."""
    shapes = parameter_shapes(config)
    got = {name: tuple(np.shape(w)) for name, w in weights.items()}
    if got != shapes:
        expected = ", ".join(f"{k} {list(s)}" for k, s in shapes.items())
        raise ValueError(f"the weights must be exactly: {expected}")


def cell_params(config: NetworkConfig, weights: dict[str, np.ndarray], layer: int, direction: int):
    """The cell's parameter dataclass of one (layer, direction) from the state_dict."""
    cell = get_cell(config.cell)
    kwargs: dict[str, Any] = {
        kind: np.asarray(weights[param_name(kind, layer, direction)], dtype=float)
        for kind in PARAM_NAMES
    }
    if "form" in {f.name for f in fields(cell.params_type)}:
        kwargs["form"] = config.gru_form
    return cell.params_type(**kwargs)


@dataclass(frozen=True)
class NetworkTrace:
    """A forward run. traces[k][d] : the cell's trace of (layer k, direction d), in the
    direction's own time order (the reverse direction's step 1 reads x_T);
    layer_inputs[k] : (T, d_k) what layer k reads; outputs[k] : (T, D n) y^(k);
    logits : (T, V) of the top layer's output; loss : float."""

    traces: list[list[Any]]
    layer_inputs: list[np.ndarray]
    outputs: list[np.ndarray]
    logits: np.ndarray
    loss: float


class NetworkOverflowError(ValueError):
    """A forward value beyond float64 (the forward pass is in float64, as PyTorch's)."""


def _check_finite(values: np.ndarray, what: str) -> None:
    bad = ~np.all(np.isfinite(values), axis=1)
    if np.any(bad):
        t = int(np.argmax(bad)) + 1
        raise NetworkOverflowError(
            f"{what} exceeds float64 at step t={t}: the network's forward pass is in float64 "
            "(as PyTorch's); lower scale, input_scale or seq_len"
        )


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - np.max(z, axis=-1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


def loss_steps(config: NetworkConfig) -> np.ndarray:
    """The 0-based steps whose loss counts."""
    t_len = config.seq_len
    return np.arange(t_len) if config.loss == "every" else np.array([t_len - 1])


def network_forward(
    config: NetworkConfig, weights: dict[str, np.ndarray], inputs: np.ndarray,
    targets: np.ndarray,
) -> NetworkTrace:  # fmt: skip
    """Run every layer and direction from zero states, then the output layer and the loss."""
    cell = get_cell(config.cell)
    options = cell_options(cell, config)
    n = config.hidden_size
    zero = np.zeros(n)
    c0 = np.zeros(n) if cell.state_factor == 2 else None
    x = np.asarray(inputs, dtype=float)
    traces, layer_inputs, outputs = [], [], []
    for k in range(config.num_layers):
        layer_inputs.append(x)
        row, halves = [], []
        for d in range(config.directions):
            seq = x if d == 0 else x[::-1]
            trace = cell.forward(cell_params(config, weights, k, d), seq, zero, c0, options)
            h = cell.state_vectors(trace)[1:, :n]
            row.append(trace)
            halves.append(h if d == 0 else h[::-1])
        y = np.hstack(halves)
        if config.skip == "residual" and k >= 1:
            with np.errstate(over="ignore", invalid="ignore"):
                y = y + x
        _check_finite(y, f"layer {k}'s output")
        traces.append(row)
        outputs.append(y)
        x = y
    with np.errstate(over="ignore", invalid="ignore"):
        logits = x @ np.asarray(weights["output.weight"]).T + weights["output.bias"]
    _check_finite(logits, "the logits")
    steps = loss_steps(config)
    logp = _log_softmax(logits[steps])
    loss = -float(np.sum(logp[np.arange(len(steps)), np.asarray(targets)]))
    return NetworkTrace(traces, layer_inputs, outputs, logits, loss)


@dataclass(frozen=True)
class ScaledRows:
    """Row vectors each at its own scale: row t = mantissa[t] * 10**scale[t] (-inf: zero)."""

    mantissa: np.ndarray
    scale: np.ndarray

    def log10_norms(self) -> np.ndarray:
        return log10_row_norms(self.mantissa) + self.scale

    def values(self) -> np.ndarray:
        """As plain floats (0 for a -inf scale; inf or 0 beyond float64's range)."""
        safe = np.where(self.scale > -np.inf, self.scale, 0.0)
        with np.errstate(over="ignore", under="ignore"):
            return self.mantissa * (10.0**safe)[:, None] * (self.scale > -np.inf)[:, None]


def add_rows(a: ScaledRows, b: ScaledRows) -> ScaledRows:
    """a + b row by row in the log domain, as engine.logdomain.add_scaled does for one
    vector: each side divided by its largest |entry|, the sum carried at the larger of the
    two row scales (-inf for a zero row). Rows are along the last axis; any leading axes
    (steps, or a batch of covectors and steps) are rows too."""
    la, ma = _row_tops(a)
    lb, mb = _row_tops(b)
    top = np.maximum(la, lb)
    safe = np.where(top > -np.inf, top, 0.0)
    with np.errstate(under="ignore"):
        out = ma * (10.0 ** (la - safe))[..., None] + mb * (10.0 ** (lb - safe))[..., None]
    return ScaledRows(out, top)


def _row_tops(x: ScaledRows) -> tuple[np.ndarray, np.ndarray]:
    """(log10 of every row's largest |entry| (-inf for a zero row), the rows divided by it)."""
    if x.mantissa.size:
        size = np.max(np.abs(x.mantissa), axis=-1)
    else:
        size = np.zeros(np.shape(x.scale))
    live = (size > 0.0) & (x.scale > -np.inf)
    safe = np.where(live, size, 1.0)
    with np.errstate(divide="ignore"):
        logs = np.where(live, x.scale + np.log10(safe), -np.inf)
    return logs, np.where(live[..., None], x.mantissa / safe[..., None], 0.0)


@dataclass(frozen=True)
class DirectionGradient:
    """The backward pass of one (layer, direction), rows by the sequence's position t = 1..T
    (for the reverse direction too).

    dh : dL/dh_t, the total derivative by the cell's hidden state (n,) per row
    dx : dL/d(layer input)_t through this direction's cell, (d_k,) per row
    grads : ScaledTensors of dL/dweight_ih, weight_hh, bias_ih, bias_hh (None when not asked)
    """

    dh: ScaledRows
    dx: ScaledRows
    grads: ScaledTensors | None


def direction_backward(
    cell: Cell, params: Any, trace: Any, inputs: np.ndarray, injected: ScaledRows, *,
    parameters: bool = True,
) -> tuple[ScaledRows, ScaledRows, ScaledTensors | None]:  # fmt: skip
    """BPTT through one direction's run in its own time order, with dL/dh_t's direct part
    ``injected`` (rows t = 1..T, own order) added at every step, by the cell's one-step VJPs
    (as engine.bptt, with injections carried at their own scales).

    Returns (dL/dh_t total, dL/dx_t, the parameter gradients or None when not
    ``parameters``), rows in the own order."""
    t_len, n = inputs.shape[0], params.hidden_size
    g, scale = np.zeros(cell.state_factor * n), -np.inf
    dh, dh_scale = np.zeros((t_len, n)), np.full(t_len, -np.inf)
    record = StepRecorder(t_len, cell.gate_rows * n, n)
    step = cell.backward(params, trace)
    hid = slice(0, n)
    for t in range(t_len, 0, -1):
        v_scale = float(injected.scale[t - 1])
        if v_scale > -np.inf:
            g, rel = add_scaled(g, scale - v_scale, injected.mantissa[t - 1], hid)
            scale = rel + v_scale
        dh[t - 1], dh_scale[t - 1] = g[:n], scale
        vjp = step(t, g, scale) if scale > -np.inf else None
        if vjp is None:
            g, scale = np.zeros_like(g), -np.inf
            continue
        record.record(t, vjp)
        g, scale = vjp.g_prev, vjp.log10_scale
    grads = None
    if parameters:
        grads = cell.parameter_gradients(params, trace, inputs, record.steps())[0]
    dx = record.delta_in @ params.weight_ih  # dL/dx_t = W_ih^T delta_in_t, at scale s_t
    return ScaledRows(dh, dh_scale), ScaledRows(dx, record.scale), grads


@dataclass(frozen=True)
class NetworkGradient:
    """The backward pass of a network.

    directions[k][d] : DirectionGradient of layer k, direction d
    dinputs : dL/dx_t (T, d) as ScaledRows
    grads : ScaledTensors of every parameter under PyTorch's names (see parameter_shapes)
    layer_time : {"forward": (L, T), "backward": (L, T) when bidirectional} log10
        ||dL/dh_t^(layer, direction)||_2, t = 1..T by sequence position, -inf where 0
    """

    directions: list[list[DirectionGradient]]
    dinputs: ScaledRows
    grads: ScaledTensors
    layer_time: dict[str, np.ndarray]

    def gradients(self) -> dict[str, np.ndarray]:
        """Every parameter gradient as plain floats (inf or 0 beyond float64's range)."""
        with np.errstate(over="ignore", under="ignore"):
            factor = 10.0**self.grads.log10_scale
            return {k: v * factor for k, v in self.grads.mantissa.items()}


DIRECTION_NAMES = ("forward", "backward")


def logit_errors(config: NetworkConfig, trace: NetworkTrace, targets: np.ndarray) -> np.ndarray:
    """dL/dlogits_t = softmax(logits_t) - onehot(target_t) at the loss's steps, zero rows at
    the others : (T, V)."""
    steps = loss_steps(config)
    err = np.zeros((config.seq_len, config.vocab_size))
    prob = np.exp(_log_softmax(trace.logits[steps]))
    prob[np.arange(len(steps)), np.asarray(targets)] -= 1.0
    err[steps] = prob
    return err


def network_backward(
    config: NetworkConfig, weights: dict[str, np.ndarray], trace: NetworkTrace,
    targets: np.ndarray,
) -> NetworkGradient:  # fmt: skip
    """dL/dh_t for every (layer, direction, step) and dL/d(every parameter), top down:
    the loss's dL/dy^(L-1)_t = W^T (softmax(logits_t) - onehot(target_t)) at its steps; each
    layer splits dL/dy^(k) into its directions' halves, runs BPTT on each, and hands the
    layer below dL/dy^(k-1) = sum of the directions' dL/dx (+ dL/dy^(k) for a residual)."""
    err = logit_errors(config, trace, targets)
    w_out = np.asarray(weights["output.weight"], dtype=float)
    top_out = trace.outputs[-1]
    named: dict[str, tuple[np.ndarray, float]] = {
        "output.weight": (err.T @ top_out, 0.0),
        "output.bias": (err.sum(axis=0), 0.0),
    }
    dy = ScaledRows(err @ w_out, np.where(np.any(err != 0.0, axis=1), 0.0, -np.inf))
    per_layer, dinputs = backward_layers(config, weights, trace, dy)
    for k, row in enumerate(per_layer):
        for d, part in enumerate(row):
            for kind, m in part.grads.mantissa.items():
                named[param_name(kind, k, d)] = (m, part.grads.log10_scale)
    shapes = parameter_shapes(config)
    grads = _merge({name: named[name] for name in shapes})
    layer_time = {
        DIRECTION_NAMES[d]: np.array(
            [per_layer[k][d].dh.log10_norms() for k in range(len(per_layer))]
        )
        for d in range(config.directions)
    }
    return NetworkGradient(per_layer, dinputs, grads, layer_time)


def backward_layers(
    config: NetworkConfig, weights: dict[str, np.ndarray], trace: NetworkTrace,
    dy: ScaledRows, *, parameters: bool = True,
) -> tuple[list[list[DirectionGradient]], ScaledRows]:  # fmt: skip
    """Backpropagate dy = dL/dy^(L-1) (rows t = 1..T, (D n,) each) through every layer, top
    down: each layer splits dL/dy^(k) into its directions' halves, runs BPTT on each (in the
    direction's own time order) and hands the layer below dL/dy^(k-1) = the sum of the
    directions' dL/dx (+ dL/dy^(k) itself through a residual). Returns the per-(layer,
    direction) results and dL/dx_t of the inputs; ``parameters=False`` skips the parameter
    gradients (their ``grads`` are then None)."""
    cell = get_cell(config.cell)
    n, t_len = config.hidden_size, config.seq_len
    per_layer: list[list[DirectionGradient]] = [[] for _ in range(config.num_layers)]
    for k in range(config.num_layers - 1, -1, -1):
        x = trace.layer_inputs[k]
        below = ScaledRows(np.zeros(x.shape), np.full(t_len, -np.inf))
        for d in range(config.directions):
            half = slice(d * n, (d + 1) * n)
            order = slice(None) if d == 0 else slice(None, None, -1)
            injected = ScaledRows(dy.mantissa[order, half], dy.scale[order])
            params = cell_params(config, weights, k, d)
            dh, dx, grads = direction_backward(
                cell, params, trace.traces[k][d], x[order], injected, parameters=parameters
            )
            dh = ScaledRows(dh.mantissa[order], dh.scale[order])
            dx = ScaledRows(dx.mantissa[order], dx.scale[order])
            per_layer[k].append(DirectionGradient(dh, dx, grads))
            below = add_rows(below, dx)
        if config.skip == "residual" and k >= 1:
            below = add_rows(below, dy)
        dy = below
    return per_layer, dy


def _merge(named: dict[str, tuple[np.ndarray, float]]) -> ScaledTensors:
    """Tensors at their own scales as one ScaledTensors at the largest scale."""
    finite = [s for m, s in named.values() if s > -np.inf and np.any(m != 0.0)]
    top = max(finite) if finite else 0.0
    with np.errstate(under="ignore"):
        mantissa = {
            k: (m * 10.0 ** (s - top) if s > -np.inf else np.zeros_like(m))
            for k, (m, s) in named.items()
        }
    return ScaledTensors(mantissa, top)


@dataclass(frozen=True)
class NetworkResult:
    """config; problem (weights, inputs, targets); loss : float (L, natural log units);
    gradient : NetworkGradient (layer_time, every parameter's gradient).
    The influence map is engine.influence.influence_map(config, problem.weights, trace)."""

    config: NetworkConfig
    problem: NetworkProblem
    trace: NetworkTrace
    loss: float
    gradient: NetworkGradient


def network(config: NetworkConfig, problem: NetworkProblem | None = None) -> NetworkResult:
    """Forward and backward passes of the configured network on ``problem`` (drawn from the
    config's seed when not given; given weights are checked against parameter_shapes)."""
    problem = draw_network_problem(config) if problem is None else problem
    check_weights(config, problem.weights)
    trace = network_forward(config, problem.weights, problem.inputs, problem.targets)
    grad = network_backward(config, problem.weights, trace, problem.targets)
    return NetworkResult(config, problem, trace, trace.loss, grad)
