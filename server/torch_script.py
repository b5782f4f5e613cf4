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
    tr = r.trace
    if r.config.cell == "lstm":
        return np.hstack([tr.h, tr.c])
    if r.config.cell == "gru":
        return tr.h
    with np.errstate(over="ignore"):
        return np.array([tr.state(t) for t in range(r.config.seq_len + 1)])


def _cell(q: GradientFlowQuery) -> tuple[str, str]:
    """(a one-line description, the code defining ``step(x, z) -> z'`` on the state vector)."""
    if q.cell == "rnn" and q.nonlinearity in _TORCH_RNN:
        return f"torch.nn.RNNCell(nonlinearity={q.nonlinearity!r})", (
            f'cell = torch.nn.RNNCell(D, N, nonlinearity="{q.nonlinearity}")\n'
            "cell.load_state_dict(W)\n\n\n"
            "def step(x, z):\n"
            "    return cell(x, z)\n"
        )
    if q.cell == "rnn":
        phi = "torch.sigmoid" if q.nonlinearity == "sigmoid" else "(lambda a: a)"
        return f"the RNN step by hand ({q.nonlinearity})", (
            f"# torch.nn.RNNCell offers only tanh and relu: the {q.nonlinearity} step is written\n"
            "# out by hand, h' = phi(W_ih x + b_ih + W_hh h + b_hh), with the same weights.\n"
            f"phi = {phi}\n\n\n"
            "def step(x, z):\n"
            '    a = W["weight_ih"] @ x + W["bias_ih"] + W["weight_hh"] @ z + W["bias_hh"]\n'
            "    return phi(a)\n"
        )
    if q.cell == "lstm" and not q.peephole:
        return "torch.nn.LSTMCell; state z = (h, c)", (
            "cell = torch.nn.LSTMCell(D, N)\n"
            "cell.load_state_dict(W)\n\n\n"
            "def step(x, z):  # z = (h, c) stacked: the Jacobian is the joint (2N, 2N) one\n"
            "    h, c = cell(x, (z[:N], z[N:]))\n"
            "    return torch.cat([h, c])\n"
        )
    if q.cell == "lstm":
        return "a peephole LSTM by hand; state z = (h, c)", (
            "# PyTorch has no peephole LSTM: the cell is written out by hand, nn.LSTMCell's\n"
            "# equations (rows i | f | g | o) plus diagonal peepholes: p_i and p_f read\n"
            "# c_(t-1), p_o reads c_t.\n"
            "p_i, p_f, p_o = PEEP\n\n\n"
            "def step(x, z):  # z = (h, c) stacked: the Jacobian is the joint (2N, 2N) one\n"
            "    h, c = z[:N], z[N:]\n"
            '    a = W["weight_ih"] @ x + W["bias_ih"] + W["weight_hh"] @ h + W["bias_hh"]\n'
            "    i = torch.sigmoid(a[:N] + p_i * c)\n"
            "    f = torch.sigmoid(a[N : 2 * N] + p_f * c)\n"
            "    c = f * c + i * torch.tanh(a[2 * N : 3 * N])\n"
            "    o = torch.sigmoid(a[3 * N :] + p_o * c)\n"
            "    return torch.cat([o * torch.tanh(c), c])\n"
        )
    if q.gru_form == "pytorch":
        return "torch.nn.GRUCell", (
            "cell = torch.nn.GRUCell(D, N)\n"
            "cell.load_state_dict(W)\n\n\n"
            "def step(x, z):\n"
            "    return cell(x, z)\n"
        )
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
    title = f"cell={q.cell}" + (f", nonlinearity={q.nonlinearity}" if q.cell == "rnn" else "")
    title += f", n={q.hidden_size}, d={q.input_size}, T={q.seq_len}"
    state = "z = (h, c), 2N numbers" if q.cell == "lstm" else "z = h"
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
