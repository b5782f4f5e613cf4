"""The /train page: the training controls (their state is the URL, so a configuration can be
shared), Start and Cancel, a progress bar, and the job's figures as they come
(static/js/train.js follows the job's events and asks /api/v1/train/{id}/figures for them).

Two modes: one run, or a sweep (``mode=sweep&cells=rnn,gru&lengths=10,20,50``: every cell at
every dependency length with the rest of the configuration, the accuracy-vs-L figure growing
as the runs end). ``/embed/train`` is the same page without the site's header and footer.
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

MODES = (("run", "One run"), ("sweep", "Sweep: cells \u00d7 lengths"))
SWEEP_DEFAULT = {"cells": ("rnn", "lstm", "gru"), "lengths": (10, 20, 50)}

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


# A sweep preset: (sentence, configuration, cells, lengths). 250 steps keep each sweep within
# seconds; at L = 100 neither gated cell held within 250 steps (the GRU with update bias +3
# needed about 825: README, "Learning recall live"), so the presets stop at L = 50.
SWEEP_BASE = {**CLAIM_BASE, "update_bias": 3}
SWEEP_PRESETS = (
    ("Sweep, recall at L = 10, 20, 50, 250 steps each: the tanh RNN holds at L = 10 and 20 "
     "and falls to 0.215 at L = 50 (chance 0.125); the GRU with update bias +3 holds at every L",
     SWEEP_BASE, ("rnn", "gru"), (10, 20, 50)),
    ("Sweep with the LSTM too (forget bias +3, input bias -3): it holds at L = 10 and 20 like "
     "the others, and at L = 50 only the GRU holds within 250 steps",
     {**SWEEP_BASE, "forget_bias": 3, "input_bias": -3}, ("rnn", "lstm", "gru"), (10, 20, 50)),
)  # fmt: skip


def sweep_query(config: dict, cells, lengths) -> str:
    """The page's address query for a sweep: the configuration, then mode, cells, lengths."""
    extra = {"mode": "sweep", "cells": ",".join(cells), "lengths": ",".join(map(str, lengths))}
    return urlencode({**config, **extra}, safe=",")


@dataclass(frozen=True)
class SweepState:
    """The sweep's controls as the page shows them: the mode, each cell and whether it is
    chosen, the lengths as typed, and what is wrong with them (by field: cells, lengths)."""

    mode: str
    cells: tuple[tuple[str, bool], ...]
    lengths: str
    errors: dict[str, str]

    @property
    def valid(self) -> bool:
        return not self.errors


def _sweep(query, config: dict[str, Any]) -> SweepState:
    """mode, cells and lengths from the query, checked as the API checks them."""
    mode = query.get("mode", "run")
    errors: dict[str, str] = {}
    if mode not in dict(MODES):
        errors["mode"] = f"mode must be one of {[m for m, _ in MODES]}"
        mode = "run"
    chosen = SWEEP_DEFAULT["cells"]
    if "cells" in query:
        chosen = tuple(c.strip() for c in query["cells"].split(",") if c.strip())
    text = query.get("lengths", ",".join(map(str, SWEEP_DEFAULT["lengths"])))
    tokens = [t for t in text.replace(" ", ",").split(",") if t]
    bad = [t for t in tokens if not t.isdigit()]
    if bad:
        errors["lengths"] = f"not a whole number: {bad[0]!r} (give lengths like 10,20,50)"
    elif mode == "sweep":
        defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
        from .train_api import sweep_problem

        problem = sweep_problem({**defaults, **config}, list(chosen), [int(t) for t in tokens])
        if problem is not None:
            field, message = problem[0], problem[1]
            errors["cells" if field == "cells" else "lengths"] = message
    cells = tuple((c, c in chosen) for c in CELLS)
    return SweepState(mode, cells, text, errors)


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


def _context(request: Request, embed: bool) -> dict[str, Any]:
    query = request.query_params
    values, problems = _values(query)
    sweep = _sweep(query, values)
    if "mode" in sweep.errors:
        problems.append({"field": "mode", "message": sweep.errors.pop("mode")})
    groups = [
        (legend, [dataclasses.replace(c, value=values.get(c.name, c.default)) for c in controls])
        for legend, controls in GROUPS
    ]
    presets = [(text, "/train?" + urlencode(q)) for text, q in PRESETS]
    presets += [(text, "/train?" + sweep_query(q, c, n)) for text, q, c, n in SWEEP_PRESETS]
    # a configuration in the address starts at once; a refused sweep waits for a correction
    autostart = (sweep.valid and not problems) if sweep.mode == "sweep" else bool(values)
    return {
        "page": "train",
        "embed": embed,
        "groups": groups,
        "problems": problems,
        "presets": presets,
        "modes": MODES,
        "sweep": sweep,
        "autostart": autostart,
    }


def train_page(request: Request) -> HTMLResponse:
    context = _context(request, embed=False)
    return request.app.state.templates.TemplateResponse(request, "train.html", context)


def train_embed(request: Request) -> HTMLResponse:
    """/embed/train: the same controls and state, compact, without the site's frame."""
    context = _context(request, embed=True)
    return request.app.state.templates.TemplateResponse(request, "train.html", context)


router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse,
                   route_class=CacheableRoute)  # fmt: skip
router.add_api_route("/train", train_page, methods=["GET"])
router.add_api_route("/embed/train", train_embed, methods=["GET"])
