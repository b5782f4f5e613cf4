"""HTML pages. The state of a view is its URL query, under the API's parameter names."""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from . import figures, tables
from .compute import run_cliff, run_compare, run_eigen, run_gradient_flow
from .responses import CacheableRoute
from .schemas import CliffQuery, CompareQuery, EigenQuery, GradientFlowQuery
from .settings import ROOT, get_settings
from .views import VIEWS, View, oembed_url, page_context, register

router = APIRouter(
    include_in_schema=False, default_response_class=HTMLResponse, route_class=CacheableRoute
)
# Third-party files, from the npm registry into static/vendor/, served at /vendor/ under names
# that carry their version (see README, "Vendored files"). Plotly's cartesian bundle has every
# trace type figures.py draws (scatter, bar, heatmap) and, unlike the full bundle, no eval.
PLOTLY_VERSION = "4.1.1"
PLOTLY_PATH = f"/vendor/plotly-cartesian-{PLOTLY_VERSION}.min.js"
PLOTLY_FILE = ROOT / "static" / PLOTLY_PATH.lstrip("/")  # what the static export copies
SWAGGER_UI_PATH = "/vendor/swagger-ui-5.35.0"


class VendorFiles(StaticFiles):
    """Files whose name holds their version never change: cached for a year, immutable."""

    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


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
    ("truncation", ()),
    ("keep_prob", ()),
)
EXPLORE_MORE = (
    ("draws", ()),
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
    t.env.globals["oembed_url"] = oembed_url
    t.env.globals["figure_table"] = lambda f: tables.table(tables.figure_data(f))
    return t


@router.get("/")
def index(request: Request) -> HTMLResponse:
    return templates().TemplateResponse(request, "index.html", {"page": "index"})


def _explore(q: GradientFlowQuery) -> dict[str, list]:
    return {"figures": figures.gradient_flow_figures(run_gradient_flow(q))}


register(
    View(
        name="explore",
        title="Gradient-flow explorer",
        template="explore.html",
        query=GradientFlowQuery,
        api="/api/v1/gradient-flow",
        build=_explore,
        main=EXPLORE_MAIN,
        more=EXPLORE_MORE,
        grid=(("seq_len", (25, 50, 100, 200, 400)), ("scale", (0.5, 0.9, 1.0, 1.1, 1.5))),
        context={"equations": EQUATIONS},
    )
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


def _compare(q: CompareQuery) -> dict[str, list]:
    result = run_compare(q)
    return {"figures": figures.compare_figures(result), "numbers": figures.compare_numbers(result)}


register(
    View(
        name="compare",
        title="RNN, LSTM and GRU side by side",
        template="compare.html",
        query=CompareQuery,
        api="/api/v1/compare",
        build=_compare,
        main=COMPARE_MAIN,
        more=tuple((n, ()) for n, _ in EXPLORE_MORE if n in CompareQuery.model_fields),
        grid=(("seq_len", (50, 100, 200, 400)), ("forget_bias", (0.0, 1.0, 3.0, 5.0))),
        context={"presets": COMPARE_PRESETS},
    )
)


CLIFF_MAIN = ("learning_rate", "steps", "clip_threshold", "start_w", "start_b", "seq_len")
CLIFF_MORE = ("nonlinearity", "w_min", "w_max", "b_min", "b_max", "resolution")


def _cliff(q: CliffQuery) -> dict[str, list]:
    surface, paths, geometry = run_cliff(q)
    return {
        "figures": figures.cliff_figures(surface, paths, geometry),
        "numbers": figures.cliff_numbers(paths, geometry),
    }


register(
    View(
        name="cliff",
        title="The exploding-gradient cliff",
        template="cliff.html",
        query=CliffQuery,
        api="/api/v1/cliff",
        build=_cliff,
        main=tuple((name, ()) for name in CLIFF_MAIN),
        more=tuple((name, ()) for name in CLIFF_MORE),
        grid=(("clip_threshold", (0.1, 0.5, 1.0, 2.0, 5.0)),),
        context={"more_label": "The model and the grid", "extra_script": "js/cliff.js"},
    )
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


def _eigen(q) -> dict[str, list]:
    result = run_eigen(q)
    return {"figures": figures.eigen_figures(result), "numbers": figures.eigen_numbers(result)}


register(
    View(
        name="eigen",
        title="Vanishing and exploding, proved by eigenvectors",
        template="eigen.html",
        query=EigenQuery,
        api="/api/v1/eigen",
        build=_eigen,
        main=EIGEN_MAIN,
        grid=(("radius1", (0.5, 0.9, 1.0, 1.05, 1.1)), ("seq_len", (25, 50, 100))),
        context={"presets": EIGEN_PRESETS},
    )
)


def _page(view: View):
    def page(request: Request) -> HTMLResponse:
        context = page_context(view, request.query_params)
        return templates().TemplateResponse(request, view.template, context)

    return page


for _view in VIEWS.values():
    router.add_api_route(f"/{_view.name}", _page(_view), methods=["GET"], name=_view.name)


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    """The API described by /openapi.json, in Swagger UI started by a script of ours."""
    return templates().TemplateResponse(
        request,
        "docs.html",
        {"openapi_url": request.app.openapi_url, "swagger_ui": SWAGGER_UI_PATH},
    )
