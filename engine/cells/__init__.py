"""The recurrent cells, one module each behind the Cell protocol (base), and their registry.

Adding a cell is one module here and one line in ``_REGISTERED``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .base import (
    BackwardSteps,
    Cell,
    Options,
    Profiles,
    RowsStep,
    RowsVJP,
    StepRecorder,
    StepVJP,
    profiles,
)
from .gru import GRU, GRUParams, GRUTrace
from .lstm import LSTM, LSTMParams, LSTMTrace
from .rnn import RNN, RNNParams, RNNTrace

_REGISTERED: tuple[Cell, ...] = (RNN, LSTM, GRU)

CELLS: Mapping[str, Cell] = MappingProxyType({cell.name: cell for cell in _REGISTERED})


def cell_names() -> tuple[str, ...]:
    """The registered cells' names, in registration order."""
    return tuple(CELLS)


def get_cell(name: str) -> Cell:
    """The registered cell called ``name``; ValueError naming the choices otherwise."""
    try:
        return CELLS[name]
    except KeyError:
        raise ValueError(f"unknown cell {name!r}; choose from {list(CELLS)}") from None


def compared_cells() -> tuple[Cell, ...]:
    """The cells /compare runs side by side, in registration order."""
    return tuple(cell for cell in CELLS.values() if cell.compared)


def cell_options(cell: Cell, config: Any) -> Options:
    """The values of the options ``cell`` reads, taken from a configuration's attributes."""
    return {name: getattr(config, name) for name in cell.options}


__all__ = [
    "CELLS",
    "GRU",
    "LSTM",
    "RNN",
    "BackwardSteps",
    "StepRecorder",
    "Cell",
    "GRUParams",
    "GRUTrace",
    "LSTMParams",
    "LSTMTrace",
    "Options",
    "Profiles",
    "RNNParams",
    "RNNTrace",
    "RowsStep",
    "RowsVJP",
    "StepVJP",
    "cell_names",
    "compared_cells",
    "get_cell",
    "cell_options",
    "profiles",
]
