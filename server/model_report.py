"""A user's model, analysed, as the API's JSON, as Plotly figures and as an offline HTML report:
what /model, ``bpttlab analyze`` and ``bpttlab.analyze`` all return.

``choose_mode`` picks the exact analysis when its estimated cost fits the budget (the server's
``cost_budget``), the matrix-free one otherwise. ``model_payload`` is the JSON body (the same
for the three ways in): the inferred architecture, the inputs' origin, the mode, every number
with its method ("exact", "estimate" with ``log10_se``, "lower_bound"), and in exact mode
``network``: /api/v1/network's body for these weights, inputs and targets. ``report_html``
writes one self-contained page: the figures (Plotly's bundle inlined, so it opens offline),
their captions, and tables of the numbers.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..engine.model_analysis import JacobianNorms, ModelAnalysis
from ..engine.network import NetworkConfig
from ..engine.probes import Series
from .figures.model import model_figures, quantity
from .limits import model_exact_cost
from .serialize import finite, finite_list, network_payload

MODE_CHOICES = ("auto", "exact", "matrix_free")
JACOBIAN_WORDS = {"h": "dh_T/dh_T-l", "h_state": "dh_T/d(h, c)_T-l"}


def choose_mode(config: NetworkConfig, budget: float, mode: str = "auto") -> str:
    """``mode`` itself unless "auto": then "exact" when model_exact_cost fits ``budget``."""
    if mode not in MODE_CHOICES:
        raise ValueError(f"mode must be one of {list(MODE_CHOICES)}")
    if mode != "auto":
        return mode
    return "exact" if model_exact_cost(config) <= budget else "matrix_free"


def series(s: Series) -> dict[str, Any]:
    return {
        "log10": finite_list(s.log10),
        "method": s.method,
        "log10_se": None if s.log10_se is None else finite_list(s.log10_se),
    }


def _jacobian(j: JacobianNorms) -> dict[str, Any]:
    return {
        "frobenius": series(j.frobenius),
        "spectral": series(j.spectral),
        "probes": j.probes,
        "precision": j.precision,
    }


def model_payload(a: ModelAnalysis) -> dict[str, Any]:
    """The JSON body of an analysis (see the module)."""
    config = asdict(a.config)
    body: dict[str, Any] = {
        "model": a.model.summary(),
        "config": config,
        "mode": a.mode,
        "inputs": {
            **a.origin,
            "batch": 1 if a.batch is None else a.batch.size,
            "sequence": a.sequence,
        },
        "loss": finite(a.loss),
        "layer_time": {name: series(s) for name, s in a.layer_time.items()},
        "layer_means": {
            name: {k: finite(v) for k, v in asdict(m).items()} for name, m in a.layer_means.items()
        },
        "jacobians": {
            name: [{q: _jacobian(j) for q, j in layer.items()} for layer in layers]
            for name, layers in a.jacobians.items()
        },
        "jacobian_plotted": quantity(a),
        "probes": a.probes,
        "probe_seed": a.probe_seed,
        "batch": None,
        "network": None,
    }
    if a.batch is not None:
        body["batch"] = {
            "size": a.batch.size,
            "losses": finite_list(a.batch.losses),
            "layer_time_mean": {k: finite_list(v) for k, v in a.batch.layer_time_mean.items()},
        }
    if a.maps is not None:
        body["network"] = network_payload(a.maps, frozenset())
    return body


# ------------------------------------------------------------------------- the HTML report


def _cell(value: Any) -> str:
    if value is None:
        return "&mdash;"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "&mdash;"
    return html.escape(str(value))


def _table(caption: str, header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _at(s: Series, l: int) -> float | None:
    v = float(s.log10[l])
    return v if math.isfinite(v) else None


def report_tables(a: ModelAnalysis) -> str:
    """The numbers behind the figures, as HTML tables."""
    summary = a.model.summary()
    arch = [[k, summary[k]] for k in summary if k != "notes"]
    arch += [["seq_len T", a.config.seq_len], ["loss", a.config.loss], ["mode", a.mode]]
    arch += [[f"{k}", v] for k, v in a.origin.items()]
    tables = [_table("The model as read from the file", ["field", "value"], arch)]
    rows = []
    for name, m in a.layer_means.items():
        rows.append([name, m.top_mean, m.bottom_mean, m.layer_drop])
    tables.append(
        _table(
            "log10 ||dL/dh_t||, mean over t (exact)",
            ["direction", "top layer", "layer 1", "top minus layer 1 (decades)"],
            rows,
        )
    )
    q, t_len = quantity(a), a.config.seq_len
    marks = sorted({0, 1, t_len // 4, t_len // 2, t_len})
    jrows = []
    for name, layers in a.jacobians.items():
        for k, layer in enumerate(layers):
            j = layer[q]
            for l in marks:
                jrows.append(
                    [
                        k + 1,
                        name,
                        l,
                        _at(j.frobenius, l),
                        None if j.frobenius.log10_se is None else float(j.frobenius.log10_se[l]),
                        _at(j.spectral, l),
                        f"{j.frobenius.method} / {j.spectral.method}",
                    ]
                )
    tables.append(
        _table(
            f"log10 of the Jacobian norms ({JACOBIAN_WORDS[q]})",
            ["layer", "direction", "l", "Frobenius", "standard error", "spectral", "method"],
            jrows,
        )
    )
    if a.batch is not None:
        tables.append(
            _table(
                "Loss of every sequence of the batch",
                ["sequence", "loss"],
                [[i, float(v)] for i, v in enumerate(a.batch.losses)],
            )
        )
    return "\n".join(tables)


REPORT_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5rem auto;padding:0 1rem;
color:#1a1a1a;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
.figure{width:100%;min-height:380px}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #bbb;padding:.2rem .5rem;text-align:left}
.note{color:#444}
"""


def report_html(a: ModelAnalysis, title: str = "BPTT Lab: a model's gradient flow") -> str:
    """One self-contained HTML page (Plotly inlined; no network): see the module."""
    from .pages import PLOTLY_FILE

    figures = model_figures(a)
    plotly = PLOTLY_FILE.read_text(encoding="utf-8")
    data = json.dumps([f["figure"] for f in figures], allow_nan=False, separators=(",", ":"))
    data = data.replace("</", "<\\/")
    sections = []
    for i, f in enumerate(figures):
        sections.append(
            f"<section><h2>{html.escape(f['title'])}</h2>"
            f'<div class="figure" id="figure-{i}" role="img" '
            f'aria-label="{html.escape(f["title"])}"></div>'
            f"<p>{html.escape(f['summary'])}</p></section>"
        )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in a.model.notes)
    mode = (
        "exact"
        if a.mode == "exact"
        else f"matrix-free: the Jacobian norms are estimated from k = {a.probes} random probes"
    )
    script = (
        "var F=JSON.parse(document.getElementById('figures').textContent);"
        "F.forEach(function(f,i){Plotly.newPlot('figure-'+i,f.data,f.layout,"
        "{displaylogo:false,responsive:true});});"
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{REPORT_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(_headline(a))} Mode: {html.escape(mode)}.</p>"
        f"<ul class='note'>{notes}</ul>"
        + "".join(sections)
        + "<h2>The numbers</h2>"
        + report_tables(a)
        + f"<script type='application/json' id='figures'>{data}</script>"
        + f"<script>{plotly}</script><script>{script}</script></body></html>"
    )


def _headline(a: ModelAnalysis) -> str:
    s = a.model.summary()
    c = a.config
    two = "bidirectional " if c.bidirectional else ""
    return (
        f"{s['torch_class']}: {c.num_layers}-layer {two}{c.cell.upper()}, hidden size "
        f"{c.hidden_size}, input size {c.input_size}, T = {c.seq_len} ({a.origin['inputs']} "
        f"inputs, {a.origin['targets']} targets), loss {_cell(finite(a.loss))}."
    )


def write_report(a: ModelAnalysis, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(report_html(a), encoding="utf-8")
    return path


def payload_json(a: ModelAnalysis) -> str:
    return json.dumps(model_payload(a), allow_nan=False)


__all__ = [
    "MODE_CHOICES",
    "choose_mode",
    "model_payload",
    "payload_json",
    "report_html",
    "write_report",
]


# ----------------------------------------------------------------- the Python / notebook API


class Analysis:
    """What ``bpttlab.analyze`` returns: ``analysis`` (engine.model_analysis.ModelAnalysis),
    ``to_dict()`` (the API's JSON body), ``figures()`` (plotly.graph_objects.Figure objects,
    shown inline by Jupyter), ``captions()`` (each figure's title and the sentence stating its
    numbers), ``to_html(path)`` (the offline report)."""

    def __init__(self, analysis: ModelAnalysis):
        self.analysis = analysis

    @property
    def mode(self) -> str:
        return self.analysis.mode

    @property
    def summary(self) -> dict[str, Any]:
        return self.analysis.model.summary()

    def to_dict(self) -> dict[str, Any]:
        return model_payload(self.analysis)

    def figures(self) -> list:
        import plotly.graph_objects as go

        return [go.Figure(f["figure"]) for f in model_figures(self.analysis)]

    def captions(self) -> list[tuple[str, str]]:
        return [(f["title"], f["summary"]) for f in model_figures(self.analysis)]

    def to_html(self, path: str | Path) -> Path:
        return write_report(self.analysis, path)

    def __repr__(self) -> str:
        return f"<bpttlab Analysis: {_headline(self.analysis)} mode {self.mode}>"


def analyze(
    source: Any, inputs: Any = None, *, targets: Any = None, nonlinearity: str | None = None,
    seq_len: int = 100, loss: str = "every", seed: int = 0, vocab_size: int = 8,
    format: str | None = None, mode: str = "auto", budget: float | None = None,
    probes: int = 32, probe_seed: int = 0, sequence: int = 0, precision: str = "float64",
    progress: Any = False,
) -> Analysis:  # fmt: skip
    """Analyse a trained torch.nn.RNN / LSTM / GRU's state_dict.

    source : a path (.safetensors, .npz, .json), the file's bytes (with ``format``), or a dict
    of NumPy arrays or torch tensors (converted without importing torch). inputs : a .npy
    path or bytes, or an array, (T, d) or (B, T, d); None: drawn from ``seed`` at ``seq_len``.
    mode : "auto" (exact when its estimated cost fits ``budget``, the server's cost_budget by
    default; matrix-free otherwise), "exact" or "matrix_free". progress : True for a bar on
    stderr, or a callable(words, fraction). The rest: engine.model_io.load_model's and
    engine.model_analysis.analyze_model's."""
    from dataclasses import replace

    from ..engine.model_analysis import analyze_model
    from ..engine.model_io import load_model, read_inputs
    from .progress import ProgressBar
    from .settings import get_settings

    model = load_model(
        source, nonlinearity=nonlinearity, seq_len=seq_len, loss=loss, seed=seed,
        vocab_size=vocab_size, format=format,
    )  # fmt: skip
    x = None if inputs is None else read_inputs(inputs, model.config.input_size)
    config = model.config if x is None else replace(model.config, seq_len=x.shape[1])
    chosen = choose_mode(config, get_settings().cost_budget if budget is None else budget, mode)
    report = ProgressBar() if progress is True else (progress or None)
    result = analyze_model(
        model, x, targets, mode=chosen, probes=probes, probe_seed=probe_seed,
        sequence=sequence, precision=precision, progress=report,
    )  # fmt: skip
    return Analysis(result)
