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
from .compute import affordable, run_cliff, run_compare, run_eigen, run_gradient_flow
from .controls import control, lenient
from .responses import CacheableRoute
from .schemas import CliffQuery, CompareQuery, EigenQuery, GradientFlowQuery
from .settings import get_settings

router = APIRouter(
    include_in_schema=False, default_response_class=HTMLResponse, route_class=CacheableRoute
)
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
    q, problems = affordable(*lenient(GradientFlowQuery, dict(request.query_params)))
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
            "action": "/explore",
            "api": "/api/v1/gradient-flow",
            "equations": EQUATIONS,
        },
    )


COMPARE_MAIN = (
    ("seq_len", ()),
    ("forget_bias", ()),
    ("update_bias", ()),
    ("gru_form", ()),
    ("peephole", ()),
    ("nonlinearity", ()),
    ("hidden_size", ()),
    ("init", ()),
    ("scale", ()),
    ("seed", ()),
)
COMPARE_PRESETS = (
    (
        "Gates open: forget and update bias 5, T = 1000",
        "/compare?seq_len=1000&forget_bias=5&update_bias=5",
    ),
    ("No gate bias: all three forget", "/compare?seq_len=300"),
    (
        "Sigmoid RNN: gamma = 1/4",
        "/compare?seq_len=300&nonlinearity=sigmoid&forget_bias=5&update_bias=5",
    ),
)


@router.get("/compare")
def compare(request: Request) -> HTMLResponse:
    q, problems = affordable(*lenient(CompareQuery, dict(request.query_params)))
    values = q.model_dump()
    result = run_compare(q)
    more = [name for name, _ in EXPLORE_MORE]
    return templates().TemplateResponse(
        request,
        "compare.html",
        {
            "page": "compare",
            "query": q,
            "problems": problems,
            "main_controls": [control(CompareQuery, n, values[n], c) for n, c in COMPARE_MAIN],
            "more_controls": [control(CompareQuery, n, values[n]) for n in more],
            "figures": figures.compare_figures(result),
            "numbers": figures.compare_numbers(result),
            "presets": COMPARE_PRESETS,
            "action": "/compare",
            "api": "/api/v1/compare",
        },
    )


CLIFF_MAIN = ("learning_rate", "steps", "clip_threshold", "start_w", "start_b", "seq_len")
CLIFF_MORE = ("nonlinearity", "w_min", "w_max", "b_min", "b_max", "resolution")


@router.get("/cliff")
def cliff(request: Request) -> HTMLResponse:
    q, problems = affordable(*lenient(CliffQuery, dict(request.query_params)))
    values = q.model_dump()
    surface, paths, geometry = run_cliff(q)
    return templates().TemplateResponse(
        request,
        "cliff.html",
        {
            "page": "cliff",
            "query": q,
            "problems": problems,
            "main_controls": [control(CliffQuery, n, values[n]) for n in CLIFF_MAIN],
            "more_controls": [control(CliffQuery, n, values[n]) for n in CLIFF_MORE],
            "more_label": "The model and the grid",
            "figures": figures.cliff_figures(surface, paths, geometry),
            "numbers": figures.cliff_numbers(paths, geometry),
            "action": "/cliff",
            "api": "/api/v1/cliff",
            "extra_script": "js/cliff.js",
        },
    )


EIGEN_MAIN = (
    ("matrix", ()),
    ("radius1", ("eigenvalues",)),
    ("angle1", ("eigenvalues",)),
    ("radius2", ("eigenvalues",)),
    ("angle2", ("eigenvalues",)),
    ("radius3", ("eigenvalues",)),
    ("angle3", ("eigenvalues",)),
    ("non_normal", ("eigenvalues",)),
    ("coupling", ("eigenvalues",)),
    ("hidden_size", ("gaussian", "orthogonal", "identity", "pytorch")),
    ("scale", ("gaussian", "orthogonal", "identity", "pytorch")),
    ("seq_len", ()),
    ("seed", ()),
)
EIGEN_PRESETS = (
    ("One eigenvalue outside the unit circle", "/eigen"),
    (
        "Non-normal: all |lambda| = 0.5, yet ||W^l|| grows first",
        "/eigen?radius1=0.5&radius2=0.5&angle2=0&radius3=0.5&angle3=0&non_normal=true",
    ),
    ("A Gaussian W with spectral radius 0.95", "/eigen?matrix=gaussian&scale=0.95&hidden_size=32"),
)


@router.get("/eigen")
def eigen(request: Request) -> HTMLResponse:
    q, problems = affordable(*lenient(EigenQuery, dict(request.query_params)))
    values = q.model_dump()
    result = run_eigen(q)
    return templates().TemplateResponse(
        request,
        "eigen.html",
        {
            "page": "eigen",
            "query": q,
            "problems": problems,
            "main_controls": [control(EigenQuery, n, values[n], c) for n, c in EIGEN_MAIN],
            "more_controls": [],
            "figures": figures.eigen_figures(result),
            "numbers": figures.eigen_numbers(result),
            "presets": EIGEN_PRESETS,
            "action": "/eigen",
            "api": "/api/v1/eigen",
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
