"""The /train page: the training controls (their state is the URL, so a configuration can be
shared), Start and Cancel, a progress bar, and the job's figures as they come
(static/js/train.js follows the job's events and asks /api/v1/train/{id}/figures for them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..engine.clipping import CLIP_MODES
from ..engine.init import INITS
from ..engine.optim import OPTIMIZERS
from ..engine.tasks import TASKS
from ..engine.training import CELLS, TrainConfig
from .responses import CacheableRoute

DEFAULTS = TrainConfig()


@dataclass(frozen=True)
class Control:
    """What templates/_controls.html renders (the same fields as the views' controls)."""

    name: str
    label: str
    kind: str  # select | number
    description: str
    options: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"
    value: Any = None
    cells: tuple = ()
    slider: Any = None

    @property
    def default(self) -> Any:
        return getattr(DEFAULTS, self.name)


def _select(name, label, options, description):
    return Control(name, label, "select", description, tuple(options))


def _number(name, label, lo, hi, description, step="1"):
    return Control(name, label, "number", description, minimum=lo, maximum=hi, step=step)


GROUPS: tuple[tuple[str, tuple[Control, ...]], ...] = (
    (
        "Task",
        (
            _select(
                "task",
                "Task",
                TASKS,
                "`recall`: output the first token after L "
                "distractors; `copy`: Arjovsky et al.'s copy task; `adding`: the adding "
                "problem.",
            ),  # fmt: skip
            _number(
                "length",
                "Dependency length L",
                1,
                1000,
                "Steps between what must be remembered and where it is asked for.",
            ),  # fmt: skip
            _number(
                "symbols",
                "Symbols (recall)",
                2,
                32,
                "The recall task's vocabulary K; chance accuracy is 1/K.",
            ),  # fmt: skip
        ),
    ),
    (
        "Model",
        (
            _select("cell", "Cell", CELLS, "The recurrent cell, one layer, a linear readout."),
            _number("hidden_size", "Hidden size", 4, 256, "Units n of the cell."),
            _select(
                "nonlinearity",
                "RNN nonlinearity",
                ("tanh", "sigmoid", "relu", "identity"),
                "The vanilla RNN's phi.",
            ),  # fmt: skip
            _select("init", "W_hh init", INITS, "How each n x n block of W_hh is drawn."),
            _number("init_scale", "W_hh scale", 0.001, 10, "Multiplies the drawn W_hh.", "any"),
            _number(
                "forget_bias",
                "LSTM forget bias",
                -10,
                10,
                "Added to the forget gate's bias: positive keeps the cell state.",
                "any",
            ),  # fmt: skip
            _number(
                "input_bias", "LSTM input bias", -10, 10, "Added to the input gate's bias.", "any"
            ),  # fmt: skip
            _number(
                "update_bias",
                "GRU update bias",
                -10,
                10,
                "Added to the update gate z: positive keeps the state (h' = (1 - z) n + z h).",
                "any",
            ),  # fmt: skip
        ),
    ),
    (
        "Training",
        (
            _select("optimizer", "Optimiser", OPTIMIZERS, "PyTorch's update rules."),
            _number("learning_rate", "Learning rate", 0.0001, 10, "The step size.", "any"),
            _number("batch_size", "Batch", 1, 256, "Sequences per step."),
            _number("steps", "Steps", 1, 20000, "Training steps (the server may allow fewer)."),
            _select(
                "clip",
                "Clipping",
                CLIP_MODES,
                "`norm`: clip_grad_norm_ over all parameters; `value`: clip_grad_value_.",
            ),  # fmt: skip
            _number(
                "clip_threshold", "Clip threshold", 0.0001, 1e6, "The norm or value bound.", "any"
            ),  # fmt: skip
            _number(
                "profile_every",
                "Profile every",
                1,
                20000,
                "Steps between snapshots of ||dL/dh_t|| (and at step 0).",
            ),  # fmt: skip
            _number(
                "seed", "Seed", 0, 2**32 - 1, "Every random draw; the same seed, the same numbers."
            ),  # fmt: skip
        ),
    ),
)

# Each preset is a link; what its sentence says is checked against that configuration's
# numbers (tests/server/test_train_page.py).
CLAIM_BASE = {"task": "recall", "length": 50, "hidden_size": 32, "batch_size": 64, "steps": 250,
              "learning_rate": 0.01, "profile_every": 25}  # fmt: skip
PRESETS = (
    ("A GRU with update bias +3 learns to recall across 50 steps: held-out accuracy 1 after "
     "250 steps", {**CLAIM_BASE, "cell": "gru", "update_bias": 3}),
    ("A tanh RNN of the same size, same data and budget stays below 0.25 held-out accuracy "
     "(chance 0.125)", {**CLAIM_BASE, "cell": "rnn"}),
)  # fmt: skip


def _values(query) -> tuple[dict[str, Any], list[dict]]:
    """The configuration in the query (its fields only), and what was refused in it."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    values: dict[str, Any] = {}
    problems = []
    for name, raw in query.items():
        if name not in fields:
            continue
        kind = type(getattr(DEFAULTS, name))
        try:
            values[name] = kind(raw) if kind is not int else int(float(raw))
        except ValueError:
            problems.append({"field": name, "message": f"not a {kind.__name__}: {raw!r}"})
    try:
        TrainConfig(**values)
    except (ValueError, TypeError) as e:
        problems.append({"field": str(e).split(" ", 1)[0], "message": str(e)})
        values = {}
    return values, problems


def train_page(request: Request) -> HTMLResponse:
    values, problems = _values(request.query_params)
    groups = [
        (legend, [dataclasses.replace(c, value=values.get(c.name, c.default)) for c in controls])
        for legend, controls in GROUPS
    ]
    presets = [(text, "/train?" + urlencode(q)) for text, q in PRESETS]
    context = {
        "page": "train",
        "groups": groups,
        "problems": problems,
        "presets": presets,
        "autostart": bool(values),
    }
    return request.app.state.templates.TemplateResponse(request, "train.html", context)


router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse,
                   route_class=CacheableRoute)  # fmt: skip
router.add_api_route("/train", train_page, methods=["GET"])
