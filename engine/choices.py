"""The one place where named choices are validated: the cell (from the registry), the
nonlinearity, the initialisation, the inputs, h0, the clipping mode, and every choice a
registered cell declares among its options (``cell.choices``, e.g. the GRU's form)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .cells import CELLS, cell_names
from .clipping import CLIP_MODES
from .init import H0S, INITS, INPUTS

CHOICES: dict[str, tuple] = {
    "cell": cell_names(),
    **{name: tuple(c) for cell in CELLS.values() for name, c in cell.choices.items()},
    "init": INITS,
    "input": INPUTS,
    "h0": H0S,
    "clip": CLIP_MODES,
}


def check_choices(values: Mapping[str, Any]) -> None:
    """Raise ValueError naming the field and its choices for the first value of ``values``
    (field -> value) that is not one of CHOICES[field]."""
    for name, value in values.items():
        if value not in CHOICES[name]:
            raise ValueError(f"{name} must be one of {list(CHOICES[name])}")
