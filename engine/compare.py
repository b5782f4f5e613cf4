"""The three cells side by side: RNN, LSTM and GRU on the same inputs, seed and scale.

Every tensor is drawn from its own stream of ``default_rng(seed)`` (engine/problem.py), so the
inputs x_1..x_T, h_0 and the target are the same for the three cells; only the weights differ
in shape (one block per gate). The fair comparison is the input sensitivity
||dh_T/dx_{T-l}||: how much the last state still depends on an input l steps back.

What a gated cell keeps of its state per step is read from the gate that carries it over:
the LSTM's c_t = f * c_{t-1} + i * g keeps the fraction f of c; the GRU keeps z of h in
PyTorch's form (h_t = (1 - z) * n + z * h_{t-1}) and 1 - u in the lecture's
(h_t = (1 - u) * h_{t-1} + u * h~).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .cells import compared_cells, get_cell
from .gradient_flow import GradientFlowConfig, GradientFlowResult, gradient_flow, memory_horizon

COMPARED = tuple(cell.name for cell in compared_cells())
HORIZON_DROP = 3.0  # the memory horizon: sensitivity below 1e-3 of its value at l = 0
# the gate that carries the state over, and whether the kept fraction is the gate (True) or
# one minus it (False)
KEEP_GATES = {"f": True, "z": True, "u": False}


@dataclass(frozen=True)
class CellMemory:
    """relative : (T,) log10 ||dh_T/dx_{T-l}||_2 minus its value at l = 0, l = 0..T-1.
    horizon : first l with relative < -3, None if never within the sequence.
    gate_means : each gate's activation averaged over steps t = 1..T and units (the gates of
        the cell's gate_order, not the LSTM's cell state c); {} for the RNN.
    keep_gate : the gate that carries the state over (``f``, ``z`` or ``u``), None for the RNN.
    kept : the mean fraction of the state that gate carries over per step (mean f, mean z,
        or 1 - mean u), None for the RNN."""

    cell: str
    result: GradientFlowResult
    relative: np.ndarray
    horizon: int | None
    gate_means: dict[str, float]
    keep_gate: str | None
    kept: float | None


@dataclass(frozen=True)
class CompareResult:
    config: GradientFlowConfig
    cells: dict[str, CellMemory]


def gate_means(result: GradientFlowResult) -> dict[str, float]:
    """Each gate of the cell's gate_order that the result carries, averaged over steps and
    units (the state c is not a gate and is left out)."""
    gates = result.gates
    order = get_cell(result.config.cell).gate_order
    return {k: float(np.mean(gates[k])) for k in order if k in gates and k != "c"}


def kept_fraction(means: dict[str, float]) -> tuple[str | None, float | None]:
    """(the gate carrying the state over, the mean fraction kept per step), or (None, None)."""
    for gate, direct in KEEP_GATES.items():
        if gate in means:
            return gate, means[gate] if direct else 1.0 - means[gate]
    return None, None


def compare_cells(config: GradientFlowConfig) -> CompareResult:
    """Run every cell of COMPARED with ``config`` (its ``cell`` field is ignored)."""
    cells = {}
    for cell in COMPARED:
        result = gradient_flow(replace(config, cell=cell))
        spectral = result.input_sensitivity.spectral
        with np.errstate(invalid="ignore"):  # -inf - -inf when the input never reaches h_T
            relative = spectral - spectral[0]
        if not np.isfinite(spectral[0]):
            relative = np.full_like(spectral, -np.inf)
        means = gate_means(result)
        keep_gate, kept = kept_fraction(means)
        horizon = memory_horizon(spectral, HORIZON_DROP)
        cells[cell] = CellMemory(cell, result, relative, horizon, means, keep_gate, kept)
    return CompareResult(config, cells)
