"""HTML pages. The state of a view is its URL query, under the API's parameter names."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import plotly
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates
from plotly.offline import get_plotlyjs_version

from . import figures
from .compute import run_gradient_flow
from .controls import control, lenient
from .schemas import GradientFlowQuery
from .settings import get_settings

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
PLOTLY_VERSION = get_plotlyjs_version()
PLOTLY_FILE = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_PATH = f"/vendor/plotly-{PLOTLY_VERSION}.min.js"

# the explorer's controls: (field, cells it applies to), main ones first
EXPLORE_MAIN = (
    ("cell", ()),
    ("forget_bias", ("lstm",)),
    ("peephole", ("lstm",)),
    ("update_bias", ("gru",)),
    ("gru_form", ("gru",)),
    ("seq_len", ()),
    ("nonlinearity", ("rnn",)),
    ("hidden_size", ()),
    ("init", ()),
    ("scale", ()),
    ("seed", ()),
    ("clip", ()),
    ("clip_threshold", ()),
)
EXPLORE_MORE = (
    ("input_size", ()),
    ("input", ()),
    ("input_scale", ()),
    ("h0", ()),
)


@lru_cache
def templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=get_settings().templates_dir)
    t.env.globals["plotly_path"] = PLOTLY_PATH
    return t


@router.get("/")
def index(request: Request) -> HTMLResponse:
    return templates().TemplateResponse(request, "index.html", {"page": "index"})


@router.get("/explore")
def explore(request: Request) -> HTMLResponse:
    q, problems = lenient(GradientFlowQuery, dict(request.query_params))
    values = q.model_dump()
    return templates().TemplateResponse(
        request,
        "explore.html",
        {
            "page": "explore",
            "query": q,
            "problems": problems,
            "main_controls": [control(GradientFlowQuery, n, values[n], c) for n, c in EXPLORE_MAIN],
            "more_controls": [control(GradientFlowQuery, n, values[n], c) for n, c in EXPLORE_MORE],
            "figures": figures.gradient_flow_figures(run_gradient_flow(q)),
        },
    )


@router.get(PLOTLY_PATH)
def plotly_js() -> FileResponse:
    """Plotly.js from the plotly package; the version is in the name, so it never changes."""
    return FileResponse(
        PLOTLY_FILE,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
