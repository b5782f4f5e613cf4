"""What the server knows of each recurrent cell, in one place: names, the recurrent matrix its
figures show, the gates it draws, its state, its equations and the controls that apply to it.

Every per-cell lookup of the server is here, read from the engine's cell registry (a cell's
``label``, ``recurrent_block``, ``state_label``, ``gate_order`` and ``options``), so a cell
registered in engine/cells appears on every page with no change here. Only the display
names of gates and the cells' equations (HTML with TeX) are the server's own: a new cell whose
gates are not named below shows their letters, and a cell without equations shows none.
"""

from __future__ import annotations

from ..engine.cells import CELLS

CELL_NAMES = {name: cell.label for name, cell in CELLS.items()}
# the recurrent matrix whose spectrum the figures show
RECURRENT_MATRIX = {name: cell.recurrent_block for name, cell in CELLS.items()}
# the state the Jacobian profile is taken over: the LSTM's is the pair (h, c)
STATE_LABEL = {name: cell.state_label for name, cell in CELLS.items()}
# the gates a cell's figures draw, in order (of those its result carries)
GATE_ORDER = {name: cell.gate_order for name, cell in CELLS.items()}
GATE_NAMES = {
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "o": "output gate o",
    "c": "cell state c",
    "r": "reset gate r",
    "z": "update gate z",
    "u": "update gate u",
}
# the controls that apply to some cells only (a page shows them for those); the others apply
# to every cell
_OPTIONS = dict.fromkeys(option for cell in CELLS.values() for option in cell.options)
CELL_OPTIONS = {
    option: tuple(name for name, cell in CELLS.items() if option in cell.options)
    for option in _OPTIONS
}


def cells_of(control: str) -> tuple[str, ...]:
    """The cells a control applies to; () means every cell."""
    return CELL_OPTIONS.get(control, ())


def gate_name(gate: str) -> str:
    """A gate's name in words ("forget gate f"), or its letter if it has none here."""
    return GATE_NAMES.get(gate, gate)


# The cell equations, as the engine computes them (PyTorch's layouts; x_t input, h state), in
# HTML whose math is TeX in elements of class "tex" (typeset by KaTeX: static/js/math.js).
EQUATIONS = {
    "rnn": r"""<p><b>RNN</b> (<code>nn.RNNCell</code>), with pre-activation
<span class="tex">a_t</span>:</p>
<div class="tex display">\begin{aligned}
h_t &= \phi(a_t), \\
a_t &= W_{ih}\, x_t + b_{ih} + W_{hh}\, h_{t-1} + b_{hh},
\end{aligned}</div>
<p>so each step's Jacobian and Pascanu et al.'s (2013) bound over <span class="tex">l</span> steps
are</p>
<div class="tex display">\begin{aligned}
\frac{\partial h_t}{\partial h_{t-1}} &= \operatorname{diag}\bigl(\phi'(a_t)\bigr)\, W_{hh}, \\
\left\lVert \frac{\partial h_T}{\partial h_{T-l}} \right\rVert
&\le \bigl(\gamma\, \sigma_{\max}(W_{hh})\bigr)^{l},
\end{aligned}</div>
<p>where <span class="tex">\gamma</span> is the largest slope of
<span class="tex">\phi</span>.</p>""",
    "lstm": r"""<p><b>LSTM</b> (<code>nn.LSTMCell</code>, gate rows i | f | g | o; the terms in
brackets with peepholes only):</p>
<div class="tex display">\begin{aligned}
i_t &= \sigma(W_{ii}\, x_t + W_{hi}\, h_{t-1} + b_i\; [+\, p_i \odot c_{t-1}]) \\
f_t &= \sigma(W_{if}\, x_t + W_{hf}\, h_{t-1} + b_f\; [+\, p_f \odot c_{t-1}]) \\
g_t &= \tanh(W_{ig}\, x_t + W_{hg}\, h_{t-1} + b_g) \\
c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
o_t &= \sigma(W_{io}\, x_t + W_{ho}\, h_{t-1} + b_o\; [+\, p_o \odot c_t]) \\
h_t &= o_t \odot \tanh(c_t)
\end{aligned}</div>
<p>Along <span class="tex">c</span> the step Jacobian holds
<span class="tex">\operatorname{diag}(f_t)</span>: a forget gate near 1 lets the gradient through
unchanged. The state is the pair <span class="tex">(h, c)</span>; the profile is the joint
<span class="tex">2n \times 2n</span> product.</p>""",
    "gru": r"""<p><b>GRU, PyTorch form</b> (<code>nn.GRUCell</code>, rows r | z | n):</p>
<div class="tex display">\begin{aligned}
r_t &= \sigma(W_{ir}\, x_t + b_{ir} + W_{hr}\, h_{t-1} + b_{hr}) \\
z_t &= \sigma(W_{iz}\, x_t + b_{iz} + W_{hz}\, h_{t-1} + b_{hz}) \\
n_t &= \tanh\bigl(W_{in}\, x_t + b_{in} + r_t \odot (W_{hn}\, h_{t-1} + b_{hn})\bigr) \\
h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
\end{aligned}</div>
<p><b>GRU, lecture form</b>:</p>
<div class="tex display">\begin{aligned}
r_t,\ u_t &= \sigma(\dots) \\
\tilde h_t &= \tanh\bigl(W_{in}\, x_t + W_{hn}\, (r_t \odot h_{t-1}) + b\bigr) \\
h_t &= (1 - u_t) \odot h_{t-1} + u_t \odot \tilde h_t
\end{aligned}</div>
<p>They differ twice: the update gate has the opposite meaning (<span class="tex">z</span> near 1
keeps <span class="tex">h</span> in PyTorch's form, <span class="tex">u</span> near 0 keeps it in
the lecture's, so the update-gate bias needs the opposite sign), and the reset gate multiplies
<span class="tex">W_{hn} h + b_{hn}</span> after the matmul in PyTorch's form,
<span class="tex">h</span> before it in the lecture's. The GRU form control picks one.</p>""",
}
