"""The three cells side by side: RNN, LSTM and GRU on the same inputs, seed and scale.

Every tensor is drawn from its own stream of ``default_rng(seed)`` (engine/problem.py), so the
inputs x_1..x_T, h_0 and the target are the same for the three cells; only the weights differ
in shape (one block per gate). The fair comparison is the input sensitivity
||dh_T/dx_{T-l}||: how much the last state still depends on an input l steps back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .cells import compared_cells
from .gradient_flow import GradientFlowConfig, GradientFlowResult, gradient_flow, memory_horizon

COMPARED = tuple(cell.name for cell in compared_cells())
HORIZON_DROP = 3.0  # the memory horizon: sensitivity below 1e-3 of its value at l = 0


@dataclass(frozen=True)
class CellMemory:
    """relative : (T,) log10 ||dh_T/dx_{T-l}||_2 minus its value at l = 0, l = 0..T-1.
    horizon : first l with relative < -3, None if never within the sequence."""

    cell: str
    result: GradientFlowResult
    relative: np.ndarray
    horizon: int | None


@dataclass(frozen=True)
class CompareResult:
    config: GradientFlowConfig
    cells: dict[str, CellMemory]


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
        cells[cell] = CellMemory(cell, result, relative, memory_horizon(spectral, HORIZON_DROP))
    return CompareResult(config, cells)
