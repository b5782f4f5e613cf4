"""Gradients through depth: a deep feed-forward net (plain, residual, dense or highway), its
exact per-layer gradients in the log domain, its activations and its input-output Jacobian.

Layers l = 1..L (L = ``depth``), width n, a batch of B inputs x : (B, n); h_0 = x and, with
phi the activation (engine/nonlinearity.py) and a_l = h_{l-1} W_l^T + b_l:

    plain     h_l = phi(a_l)
    residual  h_l = h_{l-1} + alpha phi(a_l)
    highway   h_l = T_l phi(a_l) + (1 - T_l) h_{l-1},  T_l = sigmoid(h_{l-1} G_l^T + c_l)
    dense     h_l = phi(z_{l-1} W_l^T + b_l),  z_{l-1} = [h_0, h_1, ..., h_{l-1}] (concatenated)
              h_l has ``growth`` units for l < L and n for l = L (the output)

The output is y = h_L : (B, n) and the loss L = (1/B) sum_b 1/2 ||y_b - target_b||^2.
``tied``: one W (and one G) in every layer, an RNN unrolled in depth with no inputs (dense
layers have different shapes and cannot be tied).

Weights W_l : (out, in) are drawn from N(0, 1) and scaled by the ``init``: ``xavier``
std sqrt(2 / (in + out)); ``he`` std sqrt(2 / in); ``small`` 0.01 x xavier; ``large``
10 x xavier; ``orthogonal`` the (semi-)orthogonal factor of the same Gaussian draw. Every
init is multiplied by ``gain``. Biases b_l are zero; the gate's bias c_l is ``gate_bias`` in
every unit, its weights G_l drawn as W_l. Every tensor has its own child stream of
``default_rng(seed)`` (one per layer, so a deeper net keeps the layers below), and the
plain, residual and highway nets of one seed share their W_l: /depth's comparison is on the
same draw.

Reported, all exact:

- ``log10_grad`` (L + 1,): log10 ||dL/dh_l||_F over the batch, l = 0..L (l = 0 the input);
  the backward pass carries every gradient as a unit-norm mantissa and a log10 scale, so a
  gradient of 1e-900 is a number, not a zero. ``log10_ratio`` = log10_grad[0] - log10_grad[L].
- ``log10_grad_weight`` (L,): log10 ||dL/dW_l||_F (for tied weights: layer l's term; the
  shared matrix's gradient is their sum); the gates' ``log10_grad_gate`` for highway.
- per layer l = 0..L: mean and std of h_l, the fraction of phi's inputs saturated (tanh:
  |phi| > 0.99; sigmoid: phi < 0.01 or > 0.99) or dead (relu: a <= 0), and a histogram of
  h_l's values on bins shared by every layer.
- the input-output Jacobian dy/dx at the batch's first input, formed as the product of the
  per-layer Jacobians (n x n each; forward mode over the concatenation for dense), rescaled
  at every layer, and all n of its singular values (log10, null where exactly 0). Values
  below about n eps sigma_max are rounding, not signal: ``spread_resolved`` says whether
  sigma_min is above that floor.

The forward pass is plain float64 (as PyTorch's): an activation beyond float64 raises
DepthOverflowError, a ValueError naming the layer.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from .logdomain import log10_norm
from .nonlinearity import NONLINEARITIES, get_nonlinearity

ARCHITECTURES = ("plain", "residual", "dense", "highway")
DEPTH_INITS = ("small", "xavier", "he", "orthogonal", "large")
ACTIVATIONS = tuple(NONLINEARITIES)
MAX_DEPTH = 200
MAX_WIDTH = 512
MAX_BATCH = 256
MAX_GROWTH = 32
BINS = 40
# saturation thresholds on phi's input a: |tanh(a)| > 0.99, sigmoid(a) outside [0.01, 0.99]
SATURATED_AT = {"tanh": float(np.arctanh(0.99)), "sigmoid": float(np.log(99.0))}
_LN10 = float(np.log(10.0))
# child streams of default_rng(seed), in this order; append only
_STREAMS = ("inputs", "target", "weights", "gates", "dense")


class DepthOverflowError(ValueError):
    """An activation left float64's range in the forward pass."""


@dataclass(frozen=True)
class DepthConfig:
    """A deep net and its problem. Bounds: depth 1..200, width 1..512, batch 1..256,
    growth 1..32 (dense), gain > 0, gate_bias and alpha finite."""

    architecture: str = "plain"
    depth: int = 50
    width: int = 128
    batch: int = 16
    activation: str = "tanh"
    init: str = "xavier"
    gain: float = 1.0
    alpha: float = 1.0
    growth: int = 16
    gate_bias: float = -1.0
    tied: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name, values in (
            ("architecture", ARCHITECTURES),
            ("activation", ACTIVATIONS),
            ("init", DEPTH_INITS),
        ):
            if getattr(self, name) not in values:
                raise ValueError(f"{name} must be one of {list(values)}")
        for name, top in (
            ("depth", MAX_DEPTH),
            ("width", MAX_WIDTH),
            ("batch", MAX_BATCH),
            ("growth", MAX_GROWTH),
        ):
            if not 1 <= getattr(self, name) <= top:
                raise ValueError(f"{name} must be in 1..{top}")
        if not (np.isfinite(self.gain) and self.gain > 0):
            raise ValueError("gain must be > 0")
        if not (np.isfinite(self.alpha) and np.isfinite(self.gate_bias)):
            raise ValueError("alpha and gate_bias must be finite")
        if self.tied and self.architecture == "dense":
            raise ValueError("tied: dense layers have different shapes and cannot share weights")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def in_width(self, layer: int) -> int:
        """The input width of layer 1..L (the concatenation's for dense)."""
        if self.architecture != "dense":
            return self.width
        return self.width + (layer - 1) * self.growth

    def out_width(self, layer: int) -> int:
        if self.architecture != "dense" or layer == self.depth:
            return self.width
        return self.growth


# -- the draw -------------------------------------------------------------------------------


def init_weight(init: str, gain: float, z: np.ndarray) -> np.ndarray:
    """W : (out, in) from a standard normal draw z of that shape (see the module)."""
    fan_out, fan_in = z.shape
    xavier = np.sqrt(2.0 / (fan_in + fan_out))
    if init == "orthogonal":
        tall = z if fan_out >= fan_in else z.T
        q, r = np.linalg.qr(tall)
        q = q * np.sign(np.diag(r))  # Haar: sign(diag R) is never 0 for a Gaussian draw
        return gain * (q if fan_out >= fan_in else q.T)
    std = {
        "xavier": xavier,
        "he": np.sqrt(2.0 / fan_in),
        "small": 0.01 * xavier,
        "large": 10.0 * xavier,
    }[init]
    return gain * std * z


@dataclass(frozen=True)
class DepthProblem:
    """weights[l], biases[l] : (out_l, in_l), (out_l,) for l = 0..L-1 (layer l + 1); gates,
    gate_biases the highway's (else None); inputs, target : (B, n). Tied nets hold the same
    array in every entry."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    gates: list[np.ndarray] | None
    gate_biases: list[np.ndarray] | None
    inputs: np.ndarray
    target: np.ndarray


def draw_problem(config: DepthConfig) -> DepthProblem:
    """Inputs and target from N(0, 1); every layer's W (and G) from its own stream."""
    root = np.random.default_rng(config.seed).spawn(len(_STREAMS))
    streams = dict(zip(_STREAMS, root, strict=True))
    b, n, depth = config.batch, config.width, config.depth
    inputs = streams["inputs"].standard_normal((b, n))
    target = streams["target"].standard_normal((b, n))
    kind = "dense" if config.architecture == "dense" else "weights"
    layer_streams = streams[kind].spawn(MAX_DEPTH)
    count = 1 if config.tied else depth

    def drawn(rngs) -> list[np.ndarray]:
        made = [
            init_weight(
                config.init,
                config.gain,
                rngs[k].standard_normal((config.out_width(k + 1), config.in_width(k + 1))),
            )
            for k in range(count)
        ]
        return made * depth if config.tied else made

    weights = drawn(layer_streams)
    biases = [np.zeros(w.shape[0]) for w in weights[:count]]
    biases = biases * depth if config.tied else biases
    gates = gate_biases = None
    if config.architecture == "highway":
        gates = drawn(streams["gates"].spawn(MAX_DEPTH))
        gate_biases = [np.full(n, float(config.gate_bias)) for _ in range(count)]
        gate_biases = gate_biases * depth if config.tied else gate_biases
    return DepthProblem(weights, biases, gates, gate_biases, inputs, target)


def state_dict(config: DepthConfig, problem: DepthProblem) -> dict[str, np.ndarray]:
    """The tensors under the names a torch.nn.Sequential of the same layers gives them:
    plain Sequential(Linear, Act, Linear, Act, ...) -> ``0.weight``, ``0.bias``, ``2.weight``;
    the other architectures a Sequential of blocks -> ``{l}.linear.weight``, and
    ``{l}.gate.weight`` / ``{l}.gate.bias`` for highway (l = 0..L-1)."""
    out: dict[str, np.ndarray] = {}
    for k in range(config.depth):
        if config.architecture == "plain":
            out[f"{2 * k}.weight"] = problem.weights[k]
            out[f"{2 * k}.bias"] = problem.biases[k]
            continue
        out[f"{k}.linear.weight"] = problem.weights[k]
        out[f"{k}.linear.bias"] = problem.biases[k]
        if problem.gates is not None and problem.gate_biases is not None:
            out[f"{k}.gate.weight"] = problem.gates[k]
            out[f"{k}.gate.bias"] = problem.gate_biases[k]
    return out


# -- the log domain ---------------------------------------------------------------------------


def _merge(terms: list[tuple[np.ndarray, float]]) -> tuple[np.ndarray, float]:
    """sum_i m_i 10**s_i as (a unit-norm mantissa, its log10 norm); (0, -inf) when the sum
    is exactly zero. Each term's own norm is taken first, so no term overflows
    and a term far below the largest underflows only where it is negligible."""
    scales = [s + log10_norm(m) for m, s in terms]
    top = max(scales)
    if top == -np.inf:
        return np.zeros_like(terms[0][0]), -np.inf
    total = np.zeros_like(terms[0][0])
    for (m, s), size in zip(terms, scales, strict=True):
        if size > -np.inf and size - top > -400:
            total += m * 10.0 ** (s - top)
    size = log10_norm(total)
    if size == -np.inf:
        return total, -np.inf
    return total / 10.0**size, top + size


def _slopes(name: str, a: np.ndarray) -> tuple[np.ndarray, float]:
    """phi'(a) = weights * 10**top with the largest slope factored out (weights in [0, 1]);
    top = -inf when every slope is exactly 0."""
    logd = get_nonlinearity(name).log_derivative(a)
    top = float(np.max(logd)) if logd.size else -np.inf
    if top == -np.inf:
        return np.zeros_like(a), -np.inf
    return np.exp(logd - top), top / _LN10


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return NONLINEARITIES["sigmoid"].forward(z)


# -- activations --------------------------------------------------------------------------


def _saturated(name: str, a: np.ndarray) -> float:
    if name == "relu":
        return float(np.mean(a <= 0))
    if name in SATURATED_AT:
        return float(np.mean(np.abs(a) > SATURATED_AT[name]))
    return 0.0


def _loss(y: np.ndarray, target: np.ndarray) -> float:
    """(1/B) sum_b 1/2 ||y_b - target_b||^2, or DepthOverflowError beyond float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        loss = float(0.5 * np.sum((y - target) ** 2) / y.shape[0])
    if not np.isfinite(loss):
        raise DepthOverflowError("the loss exceeds float64's range (lower gain or init)")
    return loss


def _checked(h: np.ndarray, layer: int) -> np.ndarray:
    if not np.all(np.isfinite(h)):
        raise DepthOverflowError(
            f"layer {layer}: an activation exceeds float64's range (lower gain or init)"
        )
    return h


# -- one architecture ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DepthRun:
    """One architecture's numbers (see the module). Arrays over layers l = 0..L (L + 1) or
    over l = 1..L (L); log10 values, -inf where exactly 0."""

    architecture: str
    loss: float
    log10_grad: np.ndarray  # (L + 1,)
    log10_grad_weight: np.ndarray  # (L,)
    log10_grad_gate: np.ndarray | None  # (L,) highway only
    mean: np.ndarray  # (L + 1,)
    std: np.ndarray  # (L + 1,)
    saturated: np.ndarray  # (L,) fraction of phi's inputs saturated (or dead for relu)
    gate_mean: np.ndarray | None  # (L,) highway: mean T_l
    histogram: np.ndarray  # (L + 1, BINS) fraction of h_l's values per bin
    edges: np.ndarray  # (BINS + 1,)
    log10_singular: np.ndarray  # (n,) descending
    spread_resolved: bool

    @property
    def log10_ratio(self) -> float:
        """log10 ||dL/dh_0|| / ||dL/dh_L|| (-inf when the input's gradient is exactly 0)."""
        if self.log10_grad[0] == -np.inf:
            return -np.inf
        return float(self.log10_grad[0] - self.log10_grad[-1])

    @property
    def log10_spread(self) -> float:
        """log10 sigma_max / sigma_min (inf when sigma_min is exactly 0)."""
        if self.log10_singular[-1] == -np.inf:
            return np.inf
        return float(self.log10_singular[0] - self.log10_singular[-1])


def _histograms(layers: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lo = min(float(np.min(h)) for h in layers)
    hi = max(float(np.max(h)) for h in layers)
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, BINS + 1)
    counts = np.stack([np.histogram(h, bins=edges)[0] / h.size for h in layers])
    return counts, edges


def _chain_layer(config: DepthConfig, p: DepthProblem, k: int, h: np.ndarray):
    """Layer k + 1 from h = h_k: (a, f = phi(a), T or None, the new h)."""
    phi = get_nonlinearity(config.activation)
    a = h @ p.weights[k].T + p.biases[k]
    f = phi.forward(a)
    if config.architecture == "plain":
        return a, f, None, f
    if config.architecture == "residual":
        return a, f, None, h + config.alpha * f
    assert p.gates is not None and p.gate_biases is not None
    t = _sigmoid(h @ p.gates[k].T + p.gate_biases[k])
    return a, f, t, t * f + (1.0 - t) * h


def _chain(config: DepthConfig, p: DepthProblem) -> DepthRun:
    depth, arch, act = config.depth, config.architecture, config.activation
    hs = [p.inputs]
    saturated, gate_mean = np.zeros(depth), np.zeros(depth)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(depth):
            a, _, t, h = _chain_layer(config, p, k, hs[-1])
            hs.append(_checked(h, k + 1))
            saturated[k] = _saturated(act, a)
            if t is not None:
                gate_mean[k] = float(np.mean(t))
    b = config.batch
    y = hs[-1]
    loss = _loss(y, p.target)
    g, s = _merge([((y - p.target) / b, 0.0)])
    log10_grad = np.full(depth + 1, -np.inf)
    log10_grad_weight = np.full(depth, -np.inf)
    log10_grad_gate = np.full(depth, -np.inf) if arch == "highway" else None
    log10_grad[depth] = s
    # the Jacobian at the first input, built from the top down: P = J_L ... J_{l+1}
    jac, jac_s = np.eye(config.width), 0.0
    for k in range(depth - 1, -1, -1):
        h = hs[k]
        a, f, t, _ = _chain_layer(config, p, k, h)
        w = p.weights[k]
        d, top = _slopes(act, a)
        if arch == "plain":
            u, su = g * d, s + top
            terms = [(u @ w, su)]
            jterms = [((jac * d[0]) @ w, jac_s + top)]
        elif arch == "residual":
            u, su = config.alpha * g * d, s + top
            terms = [(g, s), (u @ w, su)]
            jterms = [(jac, jac_s), ((jac * (config.alpha * d[0])) @ w, jac_s + top)]
        else:
            assert t is not None and p.gates is not None
            u, su = g * t * d, s + top
            gz = g * (f - h) * t * (1.0 - t)
            terms = [(g * (1.0 - t), s), (u @ w, su), (gz @ p.gates[k], s)]
            dz = (f[0] - h[0]) * t[0] * (1.0 - t[0])
            jterms = [
                (jac * (1.0 - t[0]), jac_s),
                ((jac * (t[0] * d[0])) @ w, jac_s + top),
                ((jac * dz) @ p.gates[k], jac_s),
            ]
            assert log10_grad_gate is not None
            log10_grad_gate[k] = s + log10_norm(gz.T @ h)
        log10_grad_weight[k] = su + log10_norm(u.T @ h) if su > -np.inf else -np.inf
        g, s = _merge(terms)
        jac, jac_s = _merge(jterms)
        log10_grad[k] = s
    hist, edges = _histograms(hs)
    gates = gate_mean if arch == "highway" else None
    grads = (log10_grad, log10_grad_weight, log10_grad_gate)
    return _finish(config, loss, grads, hs, saturated, gates, (hist, edges), (jac, jac_s))


def _dense(config: DepthConfig, p: DepthProblem) -> DepthRun:
    depth, n, act, b = config.depth, config.width, config.activation, config.batch
    phi = get_nonlinearity(act)
    total = config.in_width(depth)
    z = np.zeros((b, total))
    z[:, :n] = p.inputs
    hs = [p.inputs]
    saturated = np.zeros(depth)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(depth):
            width_in = config.in_width(k + 1)
            a = z[:, :width_in] @ p.weights[k].T + p.biases[k]
            h = _checked(phi.forward(a), k + 1)
            saturated[k] = _saturated(act, a)
            hs.append(h)
            if k + 1 < depth:
                z[:, width_in : width_in + config.growth] = h
    y = hs[-1]
    loss = _loss(y, p.target)
    # backward over the concatenation: G holds dL/dz with one shared scale
    g_out, s_out = _merge([((y - p.target) / b, 0.0)])
    acc, s = np.zeros((b, total)), -np.inf
    log10_grad = np.full(depth + 1, -np.inf)
    log10_grad_weight = np.full(depth, -np.inf)
    # forward-mode Jacobian rows of z and of y at the first input: dz/dx, one shared scale
    jz, js = np.zeros((total, n)), 0.0
    jz[:n] = np.eye(n)
    jy, jy_s = np.zeros((n, n)), -np.inf
    for k in range(depth):
        width_in = config.in_width(k + 1)
        a = z[:1, :width_in] @ p.weights[k].T + p.biases[k]
        d, top = _slopes(act, a[0])
        rows, rs = _merge([(d[:, None] * (p.weights[k] @ jz[:width_in]), js + top)])
        if k + 1 == depth:
            jy, jy_s = rows, rs
        elif rs > js:  # the new rows are the largest: the others move to their scale
            jz[:width_in] *= 10.0 ** max(js - rs, -400.0)
            jz[width_in : width_in + config.growth] = rows
            js = rs
        elif rs > -np.inf:
            jz[width_in : width_in + config.growth] = rows * 10.0 ** max(rs - js, -400.0)
    for k in range(depth - 1, -1, -1):
        width_in = config.in_width(k + 1)
        if k + 1 == depth:
            g, sg = g_out, s_out
        else:
            g, sg = _merge([(acc[:, width_in : width_in + config.growth], s)])
        log10_grad[k + 1] = sg
        if sg == -np.inf:
            continue
        inputs = z[:, :width_in]
        a = inputs @ p.weights[k].T + p.biases[k]
        d, top = _slopes(act, a)
        u, su = g * d, sg + top
        if su > -np.inf:
            log10_grad_weight[k] = su + log10_norm(u.T @ inputs)
            merged, s_new = _merge([(acc[:, :width_in], s), (u @ p.weights[k], su)])
            if s_new > -np.inf:  # the columns from width_in on are read already
                acc[:, :width_in], s = merged, s_new
    g, sg = _merge([(acc[:, :n], s)])
    log10_grad[0] = sg
    hist, edges = _histograms(hs)
    grads = (log10_grad, log10_grad_weight, None)
    return _finish(config, loss, grads, hs, saturated, None, (hist, edges), (jy, jy_s))


def _std(h: np.ndarray) -> float:
    """std of h without squaring values near float64's top."""
    top = float(np.max(np.abs(h)))
    return top * float(np.std(h / top)) if top > 0 else 0.0


def _finish(config, loss, grads, hs, saturated, gate_mean, histogram, jacobian) -> DepthRun:
    log10_grad, log10_grad_weight, log10_grad_gate = grads
    hist, edges = histogram
    jac, jac_s = jacobian
    sv = np.linalg.svd(jac, compute_uv=False) if jac_s > -np.inf else np.zeros(config.width)
    with np.errstate(divide="ignore"):
        log10_sv = np.log10(sv) + jac_s
    floor = config.width * np.finfo(float).eps * (sv[0] if sv.size else 0.0)
    return DepthRun(
        architecture=config.architecture,
        loss=loss,
        log10_grad=log10_grad,
        log10_grad_weight=log10_grad_weight,
        log10_grad_gate=log10_grad_gate,
        mean=np.array([float(np.mean(h)) for h in hs]),
        std=np.array([_std(h) for h in hs]),
        saturated=saturated,
        gate_mean=gate_mean,
        histogram=hist,
        edges=edges,
        log10_singular=log10_sv,
        spread_resolved=bool(sv.size and sv[-1] > floor),
    )


def run_architecture(config: DepthConfig, problem: DepthProblem | None = None) -> DepthRun:
    """Forward, backward and Jacobian of ``config.architecture`` on ``problem`` (drawn from
    the config when None)."""
    p = draw_problem(config) if problem is None else problem
    return _dense(config, p) if config.architecture == "dense" else _chain(config, p)


# -- the experiment ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DepthResult:
    """``runs``: the chosen architecture's run, or the four's on the same draw when
    ``compare`` (in ARCHITECTURES order); ``problem``: the chosen architecture's tensors."""

    config: DepthConfig
    compare: bool
    runs: dict[str, DepthRun]
    problem: DepthProblem

    @property
    def run(self) -> DepthRun:
        return self.runs[self.config.architecture]


def depth_experiment(config: DepthConfig, compare: bool = False) -> DepthResult:
    """One architecture, or (``compare``) all four with the same seed, inputs and target (and
    the same W_l for plain, residual and highway)."""
    if compare and config.tied:
        raise ValueError("compare: dense layers cannot be tied; compare untied nets")
    names = ARCHITECTURES if compare else (config.architecture,)
    runs = {a: run_architecture(replace(config, architecture=a)) for a in names}
    return DepthResult(config, compare, runs, draw_problem(config))
