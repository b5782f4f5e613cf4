"""What the server knows of each recurrent cell, in one place: names, the recurrent matrix its
figures show, the gates it draws, its state, its equations and the controls that apply to it.

Every per-cell lookup of the server is here, read from the engine's cell registry (a cell's
``label``, ``recurrent_block``, ``state_label``, ``gate_order`` and ``options``), so a cell
registered in engine/cells appears on every page with no change here. Only the display
names of gates and the cells' equations (HTML) are the server's own: a new cell whose gates
are not named below shows their letters, and a cell without equations shows none.
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


# The cell equations, as the engine computes them (PyTorch's layouts; x_t input, h state).
EQUATIONS = {
    "rnn": """<p><b>RNN</b> (nn.RNNCell): h<sub>t</sub> = &phi;(W<sub>ih</sub> x<sub>t</sub> +
b<sub>ih</sub> + W<sub>hh</sub> h<sub>t-1</sub> + b<sub>hh</sub>), so
dh<sub>t</sub>/dh<sub>t-1</sub> = diag(&phi;'(a<sub>t</sub>)) W<sub>hh</sub> and
||dh<sub>T</sub>/dh<sub>T-l</sub>|| &le; (&gamma; &sigma;<sub>max</sub>(W<sub>hh</sub>))<sup>l</sup>
(Pascanu et al. 2013).</p>""",
    "lstm": """<p><b>LSTM</b> (nn.LSTMCell, gate rows i | f | g | o):
i, f, o = &sigma;(W<sub>i&middot;</sub> x<sub>t</sub> + W<sub>h&middot;</sub> h<sub>t-1</sub> + b
[+ p &#8857; c<sub>t-1</sub> with peepholes]), g = tanh(W<sub>ig</sub> x<sub>t</sub> +
W<sub>hg</sub> h<sub>t-1</sub> + b<sub>g</sub>), c<sub>t</sub> = f &#8857; c<sub>t-1</sub> +
i &#8857; g, h<sub>t</sub> = o &#8857; tanh(c<sub>t</sub>). Along c the step Jacobian holds
diag(f<sub>t</sub>): a forget gate near 1 lets the gradient through unchanged. The state is
the pair (h, c); the profile is the joint 2n &times; 2n product.</p>""",
    "gru": """<p><b>GRU, PyTorch form</b> (nn.GRUCell, rows r | z | n): r, z =
&sigma;(W<sub>i&middot;</sub> x<sub>t</sub> + b<sub>i&middot;</sub> + W<sub>h&middot;</sub>
h<sub>t-1</sub> + b<sub>h&middot;</sub>), n = tanh(W<sub>in</sub> x<sub>t</sub> + b<sub>in</sub> +
r &#8857; (W<sub>hn</sub> h<sub>t-1</sub> + b<sub>hn</sub>)), h<sub>t</sub> = (1 - z) &#8857; n +
z &#8857; h<sub>t-1</sub>.</p>
<p><b>GRU, lecture form</b>: u = &sigma;(&hellip;), h&#771; = tanh(W<sub>in</sub> x<sub>t</sub> +
W<sub>hn</sub> (r &#8857; h<sub>t-1</sub>) + b), h<sub>t</sub> = (1 - u) &#8857; h<sub>t-1</sub>
+ u &#8857; h&#771;.</p>
<p>They differ twice: the update gate has the opposite meaning (z near 1 keeps h in PyTorch's
form, u near 0 keeps it in the lecture's, so the update-gate bias needs the opposite sign), and
the reset gate multiplies W<sub>hn</sub> h + b<sub>hn</sub> after the matmul in PyTorch's form,
h before it in the lecture's. The GRU form control picks one.</p>""",
}
