"""The Cell protocol: what every recurrent cell gives the experiments, and the generic profile.

A cell is an object with descriptive attributes and pure functions over its own frozen
parameter and trace dataclasses. With n the hidden size, d the input size, T the sequence
length, G = ``gate_rows`` and S = ``state_factor * n`` the size of the state z_t (h_t, or
(h_t, c_t) for the LSTM):

    z_t = F(z_{t-1}, x_t)          J_t = dz_t/dz_{t-1} : (S, S)     B_t = dz_t/dx_t : (S, d)

``options`` maps the names in ``cell.options`` to the configuration's values (the fields a
cell reads beyond the common ones), e.g. ``{"nonlinearity": "tanh"}`` for the RNN.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..init import init_recurrent
from ..logdomain import ScaledTensors, StepTerms
from ..products import NormProfile, View, product_norm_profile

Options = Mapping[str, Any]


@dataclass(frozen=True)
class Profiles:
    """log10 norms of the backward products over distance l (NormProfile each).

    state : dz_T/dz_{T-l}, l = 0..T (for the LSTM the joint (2n x 2n) product)
    input : dh_T/dx_{T-l}, l = 0..T-1
    blocks : further views of the product by name, l = 0..T ({} for most cells; the LSTM's
        ``hh``, dh_T/dh_{T-l} with c_{T-l} held fixed, and ``cc``, dc_T/dc_{T-l})
    """

    state: NormProfile
    input: NormProfile
    blocks: dict[str, NormProfile]


@dataclass(frozen=True)
class StepVJP:
    """One backward step in the log domain: every array is a mantissa at log10_scale.

    g_prev : (S,) dL/dz_{t-1}
    delta_in : (G n,) dL/d(W_ih x_t + b_ih), the gradient of the rows of W_ih and b_ih
    delta_hid : (G n,) dL/d(W_hh r_t + b_hh) by rows; the rows of W_hh read h_{t-1}, except
        for the gated cells' last n rows, which read ``right`` (see the cell)
    right : (n,) what the last n rows of W_hh multiply at step t
    extras : further per-step parameter gradients (the LSTM's peepholes, (3, n)) or None
    log10_scale : the scale of all of the above
    """

    g_prev: np.ndarray
    delta_in: np.ndarray
    delta_hid: np.ndarray
    right: np.ndarray
    extras: np.ndarray | None
    log10_scale: float


# step(t, g, scale) -> the VJP of step t (t = 1..T) for dL/dz_t = g * 10**scale, or None when
# the result is exactly zero
BackwardStep = Callable[[int, np.ndarray, float], StepVJP | None]


@dataclass(frozen=True)
class RowsVJP:
    """One backward step for m covectors at once (the rows of G : (m, S), entries O(1)):
    each array holds the StepVJP's quantity of row i in its row i, all at one log10_scale
    (the step's own factor, e.g. the RNN's largest slope; 0 for the gated cells).

    g_prev : (m, S); delta_in, delta_hid : (m, G n); right : (n,) as in StepVJP (it does
    not depend on the covector); extras : (m, ...) or None.
    """

    g_prev: np.ndarray
    delta_in: np.ndarray
    delta_hid: np.ndarray
    right: np.ndarray
    extras: np.ndarray | None
    log10_scale: float


# rows_step(t, G) -> the VJPs of step t for the rows of G : (m, S), or None when the step's
# Jacobian is exactly zero (engine.influence reads J_t and B_t from G = I in one call)
RowsStep = Callable[[int, np.ndarray], RowsVJP | None]


@dataclass(frozen=True)
class BackwardSteps:
    """The per-step results of a backward pass, row t - 1 for step t (see StepVJP).

    delta_in, delta_hid : (T, G n); right : (T, n); extras : (T, ...) or None;
    scale : (T,) log10, -inf for a step the gradient never reached (its rows are zero).
    """

    delta_in: np.ndarray
    delta_hid: np.ndarray
    right: np.ndarray
    extras: np.ndarray | None
    scale: np.ndarray


def in_dtype(dtype: Any) -> Callable[[np.ndarray], np.ndarray]:
    """x -> x in ``dtype`` for a batched step's vectors and weights: the identity for
    float64 (the double-precision step is unchanged, bit for bit), a cast otherwise (float32
    for engine.probes' single-precision sweeps)."""
    if np.dtype(dtype) == np.float64:
        return lambda x: x
    return lambda x: np.asarray(x).astype(dtype)


class StepRecorder:
    """Collects the StepVJPs of a backward pass into ``BackwardSteps`` (row t - 1 for step t);
    a step never recorded keeps zero rows and scale -inf."""

    def __init__(self, t_len: int, rows: int, n: int):
        self.t_len = t_len
        self.delta_in, self.delta_hid = np.zeros((t_len, rows)), np.zeros((t_len, rows))
        self.right = np.zeros((t_len, n))
        self.extras: np.ndarray | None = None
        self.scale = np.full(t_len, -np.inf)

    def record(self, t: int, vjp: StepVJP) -> None:
        i = t - 1
        self.delta_in[i], self.delta_hid[i], self.right[i] = vjp.delta_in, vjp.delta_hid, vjp.right
        if vjp.extras is not None:
            if self.extras is None:
                self.extras = np.zeros((self.t_len, *vjp.extras.shape))
            self.extras[i] = vjp.extras
        self.scale[i] = vjp.log10_scale

    def steps(self) -> BackwardSteps:
        return BackwardSteps(self.delta_in, self.delta_hid, self.right, self.extras, self.scale)


class Cell(Protocol):
    """A recurrent cell. Attributes describe it; methods are pure functions of their
    arguments (the cell object holds no state)."""

    name: str  # the registry key, "rnn"
    label: str  # "RNN"
    torch_class: str  # "nn.RNNCell"
    gate_rows: int  # G: weight_hh is (G n, n)
    state_factor: int  # S = state_factor * n
    state_label: str  # "h" or "(h, c)"
    recurrent_block: str  # the block of weight_hh whose spectrum is shown: "W_hh", "W_hg"
    options: tuple[str, ...]  # configuration fields read beyond the common ones
    choices: Mapping[str, tuple]  # the allowed values of those options that are choices
    gate_order: tuple[str, ...]  # gates shown, in display order
    params_type: type
    compared: bool  # part of /compare

    def gamma(self, options: Options) -> float | None:
        """Pascanu's sup |phi'| for the vanilla RNN; None for gated cells (no such bound)."""

    def draw_params(
        self, streams: Mapping[str, np.random.Generator], *, n: int, d: int, init: str,
        scale: float, options: Options,
    ) -> Any:  # fmt: skip
        """The parameters drawn from the problem's child streams (see engine.problem)."""

    def tensor_shapes(self, n: int, options: Options) -> dict[str, tuple[int, ...]]:
        """Shapes of the cell's own tensors beyond the four weights, inputs, h0 and target."""

    def check_params(self, params: Any, options: Options) -> None:
        """Raise ValueError if given parameters contradict the options."""

    def forward(
        self, params: Any, inputs: np.ndarray, h0: np.ndarray, c0: np.ndarray | None,
        options: Options,
    ) -> Any:  # fmt: skip
        """Run the cell over inputs : (T, d) from h0 : (n,) (and c0 : (n,) for the LSTM)."""

    def hidden_states(self, trace: Any) -> tuple[np.ndarray, np.ndarray]:
        """(mantissas (T + 1, n), log10 scales (T + 1,)) of h_0..h_T."""

    def state_vectors(self, trace: Any) -> np.ndarray:
        """(T + 1, S) the states z_0..z_T as plain floats (inf beyond float64)."""

    def step_factors(self, params: Any, trace: Any) -> Iterator[tuple[Any, float]]:
        """J_T, ..., J_1 as (mantissa, log10 scale) in any form product_norm_profile takes."""

    def views(self, params: Any, trace: Any) -> dict[str, View]:
        """Views of the running product P_l = J_T ... J_{T-l+1}: ``input`` (dh_T/dx_{T-l} =
        [P_l B_{T-l}]_h, l = 0..T-1) and the cell's blocks (l = 0..T)."""

    def fast_profiles(self, params: Any, trace: Any, method: str) -> Profiles | None:
        """The profiles by a faster exact path where the cell has one, else None."""

    def backward(self, params: Any, trace: Any) -> BackwardStep:
        """The VJP of one step, step(t, g, scale), in the log domain (see StepVJP)."""

    def backward_rows(self, params: Any, trace: Any, dtype: Any = np.float64) -> RowsStep:
        """The VJP of one step for many covectors at once, rows_step(t, G) (see RowsVJP);
        ``dtype`` float32 runs the step's arithmetic in single precision (G in float32)."""

    def parameter_gradients(
        self, params: Any, trace: Any, inputs: np.ndarray, steps: BackwardSteps
    ) -> tuple[ScaledTensors, np.ndarray, StepTerms]:
        """The sums of the steps' parameter gradients, log10 ||k-th term of dL/dW_hh||_F by
        distance l = T - k (T,), and those terms themselves."""

    def gate_activations(self, trace: Any) -> dict[str, np.ndarray]:
        """Gate activations over t = 1..T, each (T, n); {} for a cell without gates."""

    def recurrent_weight(self, params: Any) -> np.ndarray:
        """The (n, n) block of weight_hh named by ``recurrent_block``."""


def profiles(cell: Cell, params: Any, trace: Any, *, method: str = "auto") -> Profiles:
    """The profiles of any cell: its fast exact path if it has one, else the running product
    of its step factors with its views (products.product_norm_profile)."""
    fast = cell.fast_profiles(params, trace, method)
    if fast is not None:
        return fast
    size = cell.state_factor * params.hidden_size
    views = cell.views(params, trace)
    state, parts = product_norm_profile(
        cell.step_factors(params, trace), size, method=method, views=views
    )
    input_profile = parts.pop("input")
    return Profiles(state, input_profile, parts)


def draw_weights(
    streams: Mapping[str, np.random.Generator], rows: int, *, n: int, d: int, init: str,
    scale: float,
) -> dict[str, np.ndarray]:  # fmt: skip
    """The four weights of a cell with ``rows`` gate blocks: each n x n block of W_hh from
    ``init`` and ``scale``; W_ih and both biases from PyTorch's U(-1/sqrt(n), 1/sqrt(n))."""
    k = 1.0 / np.sqrt(n)
    return {
        "weight_ih": streams["weight_ih"].uniform(-k, k, size=(rows * n, d)),
        "weight_hh": np.vstack(
            [init_recurrent(init, n, scale, streams["weight_hh"]) for _ in range(rows)]
        ),
        "bias_ih": streams["bias_ih"].uniform(-k, k, size=rows * n),
        "bias_hh": streams["bias_hh"].uniform(-k, k, size=rows * n),
    }
