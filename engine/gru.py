"""The GRU moved to engine.cells.gru; GRU_FORMS stays importable from here."""

from .cells.gru import GRU_FORMS

__all__ = ["GRU_FORMS"]
