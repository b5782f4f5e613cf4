"""A runnable PyTorch script that rebuilds one gradient-flow configuration and checks its numbers.

The script embeds the exact tensors of the run (floats written with repr(), which round-trips
float64 exactly) and BPTT Lab's log10 ||dh_T/dh_(T-l)||, rebuilds the cell with torch.nn
where PyTorch has it (RNNCell tanh/relu, LSTMCell, GRUCell) and by hand where it does not
(sigmoid and identity RNNs, the peephole LSTM, the lecture-form GRU), runs the sequence in
float64 and takes every step Jacobian with torch.autograd. Data sits between two marker
lines, so tests can read it back with ast.literal_eval without torch.
"""

from __future__ import annotations

import hashlib
import textwrap

import numpy as np

from ..engine import GradientFlowResult
from ..engine.cells import get_cell
from .schemas import GradientFlowQuery
from .serialize import finite_list

DATA_BEGIN = "# --- BPTT Lab data: begin ---"
DATA_END = "# --- BPTT Lab data: end ---"
_TORCH_RNN = ("tanh", "relu")


def script_name(q: GradientFlowQuery) -> str:
    """bpttlab_<first 12 hex digits of sha256 of the canonical query, without include>.py"""
    query = q.model_copy(update={"include": ""}).query_string()
    return f"bpttlab_{hashlib.sha256(query.encode()).hexdigest()[:12]}.py"


def _literal(value, indent: str = "") -> str:
    """A Python literal of a nested list of floats; rows of a matrix one per line."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        inner = indent + "    "
        rows = ",\n".join(inner + _literal(row, inner) for row in value)
        return "[\n" + rows + ",\n" + indent + "]"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return "None" if value is None else repr(float(value))


def _data(r: GradientFlowResult) -> str:
    p, problem = r.problem.params, r.problem
    params = {k: getattr(p, k) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    if getattr(p, "peephole", None) is not None:
        params["peephole"] = p.peephole
    lines = [DATA_BEGIN, "PARAMS = {"]
    for name, value in params.items():
        lines.append(f"    {name!r}: {_literal(np.asarray(value).tolist(), '    ')},")
    lines.append("}")
    lines.append(f"INPUTS = {_literal(problem.inputs.tolist())}")
    lines.append(f"H0 = {_literal(problem.h0.tolist())}")
    c0 = None if problem.c0 is None else problem.c0.tolist()
    lines.append(f"C0 = {_literal(c0) if c0 is not None else 'None'}")
    lines.append("# BPTT Lab's states z_0..z_T (None: beyond float64, where BPTT Lab rescales)")
    lines.append(f"BPTTLAB_STATES = {_literal(finite_list(_states(r)))}")
    lines.append("# BPTT Lab's log10 ||dh_T/dh_(T-l)|| for l = 0..T (None: exactly zero)")
    for key in ("spectral", "frobenius"):
        values = finite_list(getattr(r.profile, key))
        lines.append(f"BPTTLAB_{key.upper()} = {_literal(values)}")
    lines.append(DATA_END)
    return "\n".join(lines)


def _states(r: GradientFlowResult) -> np.ndarray:
    """(T + 1, m) the states the Jacobians are taken at: h (rnn, gru) or (h, c) (lstm)."""
    return get_cell(r.config.cell).state_vectors(r.trace)


def _cell(q: GradientFlowQuery) -> tuple[str, str]:
    """(a one-line description, the code defining ``step(x, z) -> z'`` on the state vector):
    the cell written out by hand where PyTorch has no such variant, else its torch class."""
    cell = get_cell(q.cell)
    by_hand = _BY_HAND.get(cell.name, _none)(q)
    if by_hand is not None:
        return by_hand
    phi = "nonlinearity" in cell.options  # the vanilla RNN's argument
    desc = f"torch.{cell.torch_class}" + (f"(nonlinearity={q.nonlinearity!r})" if phi else "")
    code = f"cell = torch.{cell.torch_class}(D, N"
    code += (
        f', nonlinearity="{q.nonlinearity}")\n' if phi else ")\n"
    ) + "cell.load_state_dict(W)\n\n\n"
    if cell.state_factor == 1:
        return desc, code + "def step(x, z):\n    return cell(x, z)\n"
    return f"{desc}; state z = {cell.state_label}", code + (
        f"def step(x, z):  {_JOINT}\n"
        "    h, c = cell(x, (z[:N], z[N:]))\n"
        "    return torch.cat([h, c])\n"
    )


_JOINT = "# z = (h, c) stacked: the Jacobian is the joint (2N, 2N) one"


def _rnn_by_hand(q: GradientFlowQuery) -> tuple[str, str] | None:
    if q.nonlinearity in _TORCH_RNN:
        return None
    phi = "torch.sigmoid" if q.nonlinearity == "sigmoid" else "(lambda a: a)"
    return f"the RNN step by hand ({q.nonlinearity})", (
        f"# torch.nn.RNNCell offers only tanh and relu: the {q.nonlinearity} step is written\n"
        "# out by hand, h' = phi(W_ih x + b_ih + W_hh h + b_hh), with the same weights.\n"
        f"phi = {phi}\n\n\n"
        "def step(x, z):\n"
        '    a = W["weight_ih"] @ x + W["bias_ih"] + W["weight_hh"] @ z + W["bias_hh"]\n'
        "    return phi(a)\n"
    )


def _lstm_by_hand(q: GradientFlowQuery) -> tuple[str, str] | None:
    if not q.peephole:
        return None
    return "a peephole LSTM by hand; state z = (h, c)", (
        "# PyTorch has no peephole LSTM: the cell is written out by hand, nn.LSTMCell's\n"
        "# equations (rows i | f | g | o) plus diagonal peepholes: p_i and p_f read\n"
        "# c_(t-1), p_o reads c_t.\n"
        "p_i, p_f, p_o = PEEP\n\n\n"
        f"def step(x, z):  {_JOINT}\n"
        "    h, c = z[:N], z[N:]\n"
        '    a = W["weight_ih"] @ x + W["bias_ih"] + W["weight_hh"] @ h + W["bias_hh"]\n'
        "    i = torch.sigmoid(a[:N] + p_i * c)\n"
        "    f = torch.sigmoid(a[N : 2 * N] + p_f * c)\n"
        "    c = f * c + i * torch.tanh(a[2 * N : 3 * N])\n"
        "    o = torch.sigmoid(a[3 * N :] + p_o * c)\n"
        "    return torch.cat([o * torch.tanh(c), c])\n"
    )


def _gru_by_hand(q: GradientFlowQuery) -> tuple[str, str] | None:
    if q.gru_form == "pytorch":
        return None
    return "the lecture-form GRU by hand", (
        "# The lecture-form GRU is not nn.GRUCell (the reset gate acts before the matmul and u\n"
        "# weighs the new content): it is written out by hand with the same weights,\n"
        "# rows r | u | n.\n"
        "def step(x, h):\n"
        '    gi = W["weight_ih"] @ x + W["bias_ih"]\n'
        '    w, b = W["weight_hh"], W["bias_hh"]\n'
        "    r = torch.sigmoid(gi[:N] + w[:N] @ h + b[:N])\n"
        "    u = torch.sigmoid(gi[N : 2 * N] + w[N : 2 * N] @ h + b[N : 2 * N])\n"
        "    n = torch.tanh(gi[2 * N :] + w[2 * N :] @ (r * h) + b[2 * N :])\n"
        "    return (1 - u) * h + u * n\n"
    )


def _none(q: GradientFlowQuery) -> None:
    return None


# The variants PyTorch has no class for, by cell (None: the cell's torch class does); a cell
# not listed has a torch class for every variant.
_BY_HAND = {"rnn": _rnn_by_hand, "lstm": _lstm_by_hand, "gru": _gru_by_hand}


_HEADER = '''#!/usr/bin/env python3
"""BPTT Lab, reproduced in PyTorch: {title}.

Rebuilds the cell, {cell_desc},
with BPTT Lab's exact weights, inputs and initial state, runs the T = {t_len} steps in
float64, takes every step Jacobian dz_t/dz_(t-1) with torch.func.jacrev (autograd) and
chains them, rescaled so that 1e-400 or 1e+400 stays finite, into dz_T/dz_(T-l) for
l = 0..T. Prints log10 of their spectral and Frobenius norms next to the numbers BPTT Lab
computed, and the largest difference; exit status 1 if it exceeds 1e-8.

Configuration:
{config}
Generated by GET /api/v1/gradient-flow/pytorch{query}
Requires torch (the CPU build is enough).
"""

import math
import sys

import torch
from torch.func import jacrev

torch.set_default_dtype(torch.float64)

'''

_RUN = """

W = {{k: torch.tensor(v) for k, v in PARAMS.items() if k != "peephole"}}
PEEP = torch.tensor(PARAMS["peephole"]) if "peephole" in PARAMS else None
X = torch.tensor(INPUTS)
N, D, T = len(H0), X.shape[1], X.shape[0]

{cell_code}

def log10(v):
    return math.log10(v) if v > 0 else (-math.inf if v == 0 else math.nan)


def gap(a, b):
    a = -math.inf if a is None else a
    return 0.0 if a == b else (abs(a - b) if a == a and b == b else math.inf)


print("{title}: {cell_desc}, torch", torch.__version__, "float64")

# The forward run: states z_0..z_T ({state})
z = [torch.cat([torch.tensor(H0), torch.tensor(C0)]) if C0 is not None else torch.tensor(H0)]
with torch.no_grad():
    for t in range(T):
        z.append(step(X[t], z[t]))
ref = torch.tensor([[math.nan if v is None else v for v in row] for row in BPTTLAB_STATES])
both = torch.isfinite(ref) & torch.isfinite(torch.stack(z))
drift = ((torch.stack(z) - ref).abs() / ref.abs().clamp(min=1))[both].max().item()
print(f"forward run: largest relative |z_t(torch) - z_t(BPTT Lab)| = {{drift:.1e}}")
if not both.all():
    print("note: the state leaves float64 (BPTT Lab carries it rescaled); torch has inf/nan")
if drift > 1e-6 and torch.isfinite(ref).all():
    # Chaotic dynamics amplify float64 rounding (1e-16) step after step: the two runs part
    # and so do their Jacobians. Taking them along BPTT Lab's states still checks the cell
    # and the products with torch's own autograd.
    print("note: the runs drift apart (chaos amplifies rounding); the Jacobians below are "
          "taken along BPTT Lab's states")
    z = list(ref)
print(f"{{'l':>5}} {{'log10 |J|_2 torch':>22}} {{'BPTT Lab':>22}} {{'diff':>8}}"
      f" {{'log10 |J|_F torch':>22}} {{'BPTT Lab':>22}} {{'diff':>8}}")
prod, scale, worst = torch.eye(z[0].numel()), 0.0, [0.0, 0.0]
for l in range(T + 1):
    if l:  # dz_T/dz_(T-l) = dz_T/dz_(T-l+1) @ dz_(T-l+1)/dz_(T-l)
        k = T - l
        prod = prod @ jacrev(step, argnums=1)(X[k], z[k])  # reverse-mode autograd
        top = prod.abs().max().item()
        if 0 < top < math.inf:
            prod, scale = prod / top, scale + math.log10(top)
    ours = (BPTTLAB_SPECTRAL[l], BPTTLAB_FROBENIUS[l])
    theirs = (
        log10(torch.linalg.matrix_norm(prod, ord=2).item()) + scale,
        log10(torch.linalg.matrix_norm(prod, ord="fro").item()) + scale,
    )
    gaps = [gap(o, t) for o, t in zip(ours, theirs)]
    worst = [max(w, g) for w, g in zip(worst, gaps)]
    cells = [f"{{v:22.15f}}" if v is not None else f"{{'zero':>22}}" for v in ours]
    print(f"{{l:5d}} {{theirs[0]:22.15f}} {{cells[0]}} {{gaps[0]:8.1e}}"
          f" {{theirs[1]:22.15f}} {{cells[1]}} {{gaps[1]:8.1e}}")
print(f"largest |difference| of log10 norms over l = 0..{{T}}: "
      f"spectral {{worst[0]:.2e}}, Frobenius {{worst[1]:.2e}}")
sys.exit(0 if max(worst) <= 1e-8 else 1)
"""


def script(q: GradientFlowQuery, r: GradientFlowResult) -> str:
    """The script for query ``q`` and its result ``r`` (the run of the same query)."""
    cell_desc, cell_code = _cell(q)
    config = q.engine_fields()
    cell = get_cell(q.cell)
    title = f"cell={q.cell}" + (
        f", nonlinearity={q.nonlinearity}" if "nonlinearity" in cell.options else ""
    )
    title += f", n={q.hidden_size}, d={q.input_size}, T={q.seq_len}"
    state = (
        f"z = {cell.state_label}, {cell.state_factor}N numbers"
        if cell.state_factor > 1
        else "z = h"
    )
    query = q.model_copy(update={"include": ""}).query_string()
    header = _HEADER.format(
        title=title,
        cell_desc=cell_desc,
        t_len=q.seq_len,
        config=textwrap.fill(
            ", ".join(f"{k}={v}" for k, v in config.items()),
            88,
            initial_indent="    ",
            subsequent_indent="    ",
        ),
        query=f"?{query}" if query else "",
    )
    return (
        header
        + _data(r)
        + _RUN.format(cell_code=cell_code, state=state, title=title, cell_desc=cell_desc)
    )


# --- networks (/network) -------------------------------------------------------------------

_TORCH_NETWORK = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def network_refusal(q) -> dict | None:
    """The error item for a network torch.nn cannot build (None if it can): nn.RNN has tanh
    and relu only, nn.GRU is the PyTorch form."""
    from .errors import error_item

    if q.cell not in _TORCH_NETWORK:
        allowed = list(_TORCH_NETWORK)
        return error_item(
            "cell", f"torch.nn has no {q.cell} network", "torch", {"allowed": allowed}
        )
    if q.cell == "rnn" and q.nonlinearity not in _TORCH_RNN:
        message = (
            f"torch.nn.RNN offers nonlinearity tanh or relu, not {q.nonlinearity}: the script "
            "builds the network from torch.nn"
        )
        return error_item("nonlinearity", message, "torch", {"allowed": list(_TORCH_RNN)})
    if q.cell == "gru" and q.gru_form != "pytorch":
        message = "torch.nn.GRU is the pytorch form; the lecture form has no torch module"
        return error_item("gru_form", message, "torch", {"allowed": ["pytorch"]})
    return None


def _network_data(m) -> str:
    p = m.result.problem
    names = [k for k in p.weights if not k.startswith("output.")]
    lines = [DATA_BEGIN, "STATE_DICT = {"]
    for name in names:
        lines.append(f"    {name!r}: {_literal(np.asarray(p.weights[name]).tolist(), '    ')},")
    lines.append("}")
    lines.append(f"OUTPUT_WEIGHT = {_literal(np.asarray(p.weights['output.weight']).tolist())}")
    lines.append(f"OUTPUT_BIAS = {_literal(np.asarray(p.weights['output.bias']).tolist())}")
    lines.append(f"INPUTS = {_literal(p.inputs.tolist())}")
    lines.append(f"TARGETS = {[int(t) for t in p.targets]!r}")
    lines.append(f"BPTTLAB_LOSS = {float(m.result.loss)!r}")
    lines.append("# BPTT Lab's log10 ||dL/dh_t|| per direction, [layer][t] (None: exactly zero)")
    lines.append("BPTTLAB_LAYER_TIME = {")
    for d, v in m.result.gradient.layer_time.items():
        lines.append(f"    {d!r}: {_literal(finite_list(v), '    ')},")
    lines.append("}")
    lines.append("# BPTT Lab's log10 ||dy_t/dx_k||_2 per direction, [t][k] (None: exactly zero)")
    lines.append("BPTTLAB_INFLUENCE = {")
    for d, v in m.influence.items():
        lines.append(f"    {d!r}: {_literal(finite_list(v), '    ')},")
    lines.append("}")
    lines.append("# BPTT Lab's log10 ||term(t, k)||_F of layer 1's dL/dW_hh, [t][k] (None: zero)")
    lines.append("BPTTLAB_TERMS = {")
    for d, v in m.terms.items():
        lines.append(f"    {d!r}: {_literal(finite_list(v), '    ')},")
    lines.append("}")
    lines.append(DATA_END)
    return "\n".join(lines)


_NETWORK_HEADER = '''#!/usr/bin/env python3
"""BPTT Lab, reproduced in PyTorch: {title}.

Builds {module}
and loads BPTT Lab's exact state_dict into it, then runs the network in float64 from zero
states with the output layer and softmax cross-entropy ({loss}), and takes with
torch.autograd:
  - log10 ||dL/dh_t|| for every layer, direction and step (the total derivative: a zero
    perturbation is added to each h_t where it is computed, feeding the next step and the
    layer above, and dL/d(perturbation) is read), and
  - log10 ||dy_t/dx_k||_2 for every output step t and input step k, y_t the top layer's
    output half of each direction (torch.autograd.functional.jacobian), and
  - the BPTT deck's double sum: log10 ||term(t, k)||_F, the gradient of the loss at step t
    alone by layer 1's weight_hh used at step k alone (a copy of weight_hh per step,
    torch.func.functional_call), for every loss step t and step k,
and prints them next to BPTT Lab's, with the largest difference; exit status 1 if it
exceeds 1e-8. The per-step run uses one-layer, one-direction torch.nn.{cls} modules loaded
with the same weights (PyTorch's own layers, step by step, so a perturbation can enter);
{check}

Configuration:
{config}
Generated by GET /api/v1/network/pytorch{query}
Requires torch (the CPU build is enough).
"""

import math
import sys

import torch

torch.set_default_dtype(torch.float64)

'''

_NETWORK_RUN = """

CELL, L, BI, SKIP, LOSS = {cell!r}, {layers}, {bidirectional}, {skip!r}, {loss!r}
X = torch.tensor(INPUTS)
T, D_IN = X.shape
N = len(STATE_DICT["weight_hh_l0"][0])
DIRS = 2 if BI else 1
NAMES = ["forward", "backward"][:DIRS]
W_OUT, B_OUT = torch.tensor(OUTPUT_WEIGHT), torch.tensor(OUTPUT_BIAS)
Y_TARGET = torch.tensor(TARGETS)
STEPS = list(range(T)) if LOSS == "every" else [T - 1]


def module(input_size, layers, bidirectional):
    return torch.nn.{cls}(input_size, N, num_layers=layers, bidirectional=bidirectional{extra})


# the exported state_dict, loaded as it is into the whole network
network = module(D_IN, L, BI)
network.load_state_dict({{k: torch.tensor(v) for k, v in STATE_DICT.items()}})

# the same weights, one (layer, direction) per one-layer module, run one step at a time
cells = []
for k in range(L):
    row = []
    for d in range(DIRS):
        one = module(D_IN if k == 0 else DIRS * N, 1, False)
        tail = "_reverse" if d else ""
        one.load_state_dict(
            {{f"{{kind}}_l0": torch.tensor(STATE_DICT[f"{{kind}}_l{{k}}{{tail}}"])
             for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}}
        )
        row.append(one)
    cells.append(row)


def run(x, bumps=None, step_hh=None):
    \"\"\"Top layer's output (T, DIRS N); bumps[k][d] (T, N) is added to h_t where computed;
    step_hh[d][t] is layer 1's weight_hh at position t (one copy per step).\"\"\"
    for k in range(L):
        halves = []
        for d in range(DIRS):
            order = range(T) if d == 0 else range(T - 1, -1, -1)
            h = torch.zeros(1, N)
            c = torch.zeros(1, N)
            out = [None] * T
            for t in order:
                state = (h, c) if CELL == "lstm" else h
                if k == 0 and step_hh is not None:
                    own = {{**dict(cells[0][d].named_parameters()), "weight_hh_l0": step_hh[d][t]}}
                    _, state = torch.func.functional_call(cells[0][d], own, (x[t : t + 1], state))
                else:
                    _, state = cells[k][d](x[t : t + 1], state)
                h, c = state if CELL == "lstm" else (state, c)
                if bumps is not None:
                    h = h + bumps[k][d][t]
                out[t] = h[0]
            halves.append(torch.stack(out))
        y = torch.cat(halves, dim=1)
        if SKIP == "residual" and k >= 1:
            y = y + x
        x = y
    return x


def loss_of(y):
    logits = y @ W_OUT.T + B_OUT
    logp = torch.log_softmax(logits[STEPS], dim=1)
    return -logp[torch.arange(len(STEPS)), Y_TARGET].sum()


def log10(v):
    return math.log10(v) if v > 0 else -math.inf


def gap(ours, theirs):
    ours = -math.inf if ours is None else ours
    if ours == theirs:
        return 0.0
    return abs(ours - theirs) if math.isfinite(ours) and math.isfinite(theirs) else math.inf


print("{title}, torch", torch.__version__, "float64")
with torch.no_grad():
    y_steps = run(X)
    {whole}
    loss = loss_of(y_steps).item()
print(f"loss: torch {{loss!r}}, BPTT Lab {{BPTTLAB_LOSS!r}}, "
      f"difference {{abs(loss - BPTTLAB_LOSS):.1e}}")
worst = {{"loss": abs(loss - BPTTLAB_LOSS) / max(1.0, abs(BPTTLAB_LOSS))}}

# log10 ||dL/dh_t|| per (layer, direction)
bumps = [[torch.zeros(T, N, requires_grad=True) for _ in range(DIRS)] for _ in range(L)]
loss_of(run(X, bumps)).backward()
print(f"{{'direction':>9}} {{'layer':>5}} {{'t':>4}} {{'log10 |dL/dh_t| torch':>22}}"
      f" {{'BPTT Lab':>22}} {{'diff':>8}}")
worst["layer_time"] = 0.0
for d, name in enumerate(NAMES):
    for k in range(L):
        for t in range(T):
            theirs = log10(torch.linalg.vector_norm(bumps[k][d].grad[t]).item())
            ours = BPTTLAB_LAYER_TIME[name][k][t]
            g = gap(ours, theirs)
            worst["layer_time"] = max(worst["layer_time"], g)
            shown = -math.inf if ours is None else ours
            print(f"{{name:>9}} {{k + 1:5d}} {{t + 1:4d}} {{theirs:22.15f}} {{shown:22.15f}}"
                  f" {{g:8.1e}}")

# log10 ||dy_t/dx_k||_2 of the top layer's halves
jac = torch.autograd.functional.jacobian(run, X)  # (T, DIRS N, T, D_IN)
print(f"{{'direction':>9}} {{'t':>4}} {{'k':>4}} {{'log10 |dy_t/dx_k| torch':>24}}"
      f" {{'BPTT Lab':>22}} {{'diff':>8}}")
worst["influence"] = 0.0
for d, name in enumerate(NAMES):
    for t in range(T):
        for k in range(T):
            block = jac[t, d * N : (d + 1) * N, k, :]
            theirs = log10(torch.linalg.matrix_norm(block, ord=2).item())
            ours = BPTTLAB_INFLUENCE[name][t][k]
            g = gap(ours, theirs)
            worst["influence"] = max(worst["influence"], g)
            shown = -math.inf if ours is None else ours
            print(f"{{name:>9}} {{t + 1:4d}} {{k + 1:4d}} {{theirs:24.15f}} {{shown:22.15f}}"
                  f" {{g:8.1e}}")
# the double sum's terms: dL_t/dW_hh with layer 1's W_hh used at step k alone
step_hh = [
    [torch.tensor(STATE_DICT["weight_hh_l0" + ("_reverse" if d else "")]).requires_grad_()
     for _ in range(T)]
    for d in range(DIRS)
]
logits = run(X, step_hh=step_hh) @ W_OUT.T + B_OUT
logp = torch.log_softmax(logits, dim=1)
print(f"{{'direction':>9}} {{'t':>4}} {{'k':>4}} {{'log10 |term(t, k)| torch':>24}}"
      f" {{'BPTT Lab':>22}} {{'diff':>8}}")
worst["terms"] = 0.0
for j, t in enumerate(STEPS):
    grads = torch.autograd.grad(-logp[t, TARGETS[j]], [w for ws in step_hh for w in ws],
                                retain_graph=True, allow_unused=True)
    for d, name in enumerate(NAMES):
        for k in range(T):
            g_k = grads[d * T + k]
            theirs = -math.inf if g_k is None else log10(torch.linalg.matrix_norm(g_k).item())
            ours = BPTTLAB_TERMS[name][t][k]
            g = gap(ours, theirs)
            worst["terms"] = max(worst["terms"], g)
            shown = -math.inf if ours is None else ours
            print(f"{{name:>9}} {{t + 1:4d}} {{k + 1:4d}} {{theirs:24.15f}} {{shown:22.15f}}"
                  f" {{g:8.1e}}")
print("largest differences:", ", ".join(f"{{k}} {{v:.2e}}" for k, v in worst.items()))
sys.exit(0 if max(worst.values()) <= 1e-8 else 1)
"""

_WHOLE = """y_whole = network(X)[0]  # the whole torch.nn module, from the exported state_dict
    drift = (y_whole - y_steps).abs().max().item()
    print(f"whole {CLS} module against the per-step layers: largest |difference| {drift:.1e}")
    assert drift < 1e-10, "the exported state_dict does not give the same network\""""

_NO_WHOLE = """# residual skips: torch.nn.{cls} has none, the whole module is not this network
    print("residual skips: the per-step layers add each layer's input to its output")"""


def network_script(q, m) -> str:
    """The PyTorch script of network query ``q`` and its maps ``m`` (engine.network_maps)."""
    c = m.config
    cls = _TORCH_NETWORK[c.cell]
    extra = f", nonlinearity={c.nonlinearity!r}" if c.cell == "rnn" else ""
    module = (
        f"torch.nn.{cls}({c.input_size}, {c.hidden_size}, num_layers={c.num_layers}{extra}, "
        f"bidirectional={c.bidirectional})"
    )
    title = (
        f"{c.num_layers}-layer {'bidirectional ' if c.bidirectional else ''}{cls}, "
        f"n={c.hidden_size}, d={c.input_size}, T={c.seq_len}, skip={c.skip}, loss={c.loss}"
    )
    check = (
        "the whole module's output is checked against them."
        if c.skip == "none"
        else "with residual skips (which torch.nn has not) they add each layer's input to\n"
        "its output, and the whole module is only loaded."
    )
    query = q.model_copy(update={"include": "", "labels": "steps"}).query_string()
    header = _NETWORK_HEADER.format(
        title=title,
        module=module,
        cls=cls,
        loss="at every step" if c.loss == "every" else "at the last step",
        check=check,
        config=textwrap.fill(
            ", ".join(f"{k}={v}" for k, v in q.engine_fields().items()),
            88,
            initial_indent="    ",
            subsequent_indent="    ",
        ),
        query=f"?{query}" if query else "",
    )
    whole = _WHOLE if c.skip == "none" else _NO_WHOLE.format(cls=cls)
    run = _NETWORK_RUN.format(
        cell=c.cell,
        layers=c.num_layers,
        bidirectional=c.bidirectional,
        skip=c.skip,
        loss=c.loss,
        cls=cls,
        extra=extra,
        title=title,
        whole=whole.replace("{CLS}", cls),
    )
    return header + _network_data(m) + run
