"""A fixed list of requests over every view, and the bytes each one answers.

``record.py`` writes the SHA-256 of every body to ``golden.json``; ``test_golden.py``
asks the same requests again and compares. A refactor that changes no number and no URL
leaves every hash as it was. A change that is meant to alter an answer re-records the file
(``python tests/golden/record.py``) and says so in its commit; ``--out DIR`` writes the
bodies themselves, to diff two versions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from urllib.parse import urlencode

EXPLORE: list[dict] = [
    {},
    *(
        {"nonlinearity": nl, "init": init}
        for nl in ("tanh", "sigmoid", "relu", "identity")
        for init in ("gaussian", "orthogonal", "identity", "pytorch")
    ),
    {"nonlinearity": "relu", "scale": 1.5},
    {"nonlinearity": "identity", "scale": 1.1, "seq_len": 1000, "hidden_size": 8},
    {"nonlinearity": "relu", "init": "identity", "scale": 2.0, "seq_len": 1000},
    {"scale": 3.0},
    {"scale": 0.0},
    {"scale": 0.5, "seq_len": 1},
    {"seq_len": 2, "hidden_size": 1},
    {"hidden_size": 65, "seq_len": 120},
    {"hidden_size": 96, "seq_len": 200, "init": "orthogonal"},
    {"input": "zeros", "h0": "random"},
    {"input_scale": 3.0, "input_size": 16, "seed": 7},
    {"clip": "norm", "clip_threshold": 0.5},
    {"clip": "value", "clip_threshold": 0.01, "scale": 1.5, "nonlinearity": "relu"},
    {"truncation": 15},
    {"truncation": 5, "keep_prob": 0.5, "draws": 5},
    {"include": "weights", "hidden_size": 4, "seq_len": 10},
    {"cell": "lstm"},
    {"cell": "lstm", "peephole": "true"},
    {"cell": "lstm", "forget_bias": 5.0},
    {"cell": "lstm", "forget_bias": -5.0, "h0": "random"},
    {"cell": "lstm", "hidden_size": 65, "seq_len": 60},
    {"cell": "lstm", "truncation": 10, "clip": "norm"},
    {"cell": "lstm", "keep_prob": 0.3, "draws": 4, "peephole": "true", "hidden_size": 8},
    {"cell": "lstm", "include": "weights", "hidden_size": 3, "seq_len": 6, "peephole": "true"},
    {"cell": "lstm", "init": "orthogonal", "scale": 2.0, "seq_len": 300},
    {"cell": "gru"},
    {"cell": "gru", "gru_form": "lecture"},
    {"cell": "gru", "update_bias": 5.0},
    {"cell": "gru", "gru_form": "lecture", "update_bias": -5.0},
    {"cell": "gru", "hidden_size": 65, "seq_len": 60, "gru_form": "lecture"},
    {"cell": "gru", "truncation": 20, "clip": "value"},
    {"cell": "gru", "keep_prob": 0.7, "draws": 3},
    {"cell": "gru", "include": "weights", "hidden_size": 3, "seq_len": 6},
    {"cell": "gru", "init": "identity", "seq_len": 500, "h0": "random"},
]
COMPARE: list[dict] = [
    {},
    {"seq_len": 400},
    {"forget_bias": 3.0, "update_bias": 3.0},
    {"forget_bias": -3.0},
    {"nonlinearity": "relu", "scale": 0.9},
    {"init": "orthogonal", "scale": 1.0},
    {"init": "pytorch", "hidden_size": 64},
    {"gru_form": "lecture", "update_bias": -3.0},
    {"peephole": "true"},
    {"input": "zeros", "h0": "random"},
    {"hidden_size": 8, "seq_len": 50, "seed": 3},
    {"scale": 2.0, "nonlinearity": "sigmoid"},
]
CLIFF: list[dict] = [
    {},
    {"clip_threshold": 0.1},
    {"clip_threshold": 5.0, "learning_rate": 0.5},
    {"start_w": 3.0, "start_b": -1.0},
    {"nonlinearity": "tanh", "resolution": 41},
    {"seq_len": 10, "resolution": 31},
    {"steps": 20, "learning_rate": 2.0, "resolution": 21},
    {"w_min": -5.0, "w_max": 5.0, "b_min": -5.0, "b_max": 5.0, "resolution": 25},
    {"start_w": 8.0, "start_b": -4.0, "clip_threshold": 1.0, "resolution": 31},
    {"learning_rate": 0.05, "steps": 300, "resolution": 21},
]
EIGEN: list[dict] = [
    {},
    {"radius1": 0.5, "radius2": 0.5, "radius3": 0.5},
    {"radius1": 1.0, "angle1": 0.0},
    {"radius1": 1.1, "angle1": 1.0},
    {"non_normal": "true"},
    {"non_normal": "true", "coupling": 2.0, "radius1": 0.9},
    {"matrix": "gaussian", "scale": 1.2},
    {"matrix": "orthogonal"},
    {"matrix": "identity", "scale": 0.9, "hidden_size": 4},
    {"matrix": "pytorch", "hidden_size": 32, "seq_len": 100},
    {"seq_len": 0},
    {"seq_len": 300, "radius1": 1.02},
    {"angle1": 3.141592653589793, "radius1": 0.95},
    {"radius3": 0.0, "angle2": 0.0},
    {"seed": 11, "matrix": "gaussian", "hidden_size": 16},
]
# Requests whose answer is an error: the error shape is part of the API.
ERRORS: list[str] = [
    "/api/v1/gradient-flow?hidden_size=0",
    "/api/v1/gradient-flow?hidden_size=257",
    "/api/v1/gradient-flow?cell=cnn",
    "/api/v1/gradient-flow?scale=nan",
    "/api/v1/gradient-flow?seq_len=abc",
    "/api/v1/gradient-flow?unknown=1",
    "/api/v1/gradient-flow?keep_prob=0",
    "/api/v1/gradient-flow?hidden_size=256&seq_len=1000&cell=lstm",
    "/api/v1/compare?cell=rnn",
    "/api/v1/cliff?resolution=100000",
    "/api/v1/eigen?non_normal=true&matrix=gaussian",
    "/embed/nothing",
    "/oembed?url=http://elsewhere.example/explore&format=json",
    "/oembed?url=http://testserver/explore&format=xml",
]
PAGES = ("/", "/docs", "/openapi.json")
# The figures each view's downloads are recorded for (its first figure's name is enough to
# cover the tables code; one more for the heatmap path where a view has one).
DOWNLOADS = {
    "explore": ("/api/v1/gradient-flow", ("profile", "eigenvalues")),
    "compare": ("/api/v1/compare", ("sensitivity",)),
    "cliff": ("/api/v1/cliff", ("surface",)),
    "eigen": ("/api/v1/eigen", ("components",)),
}
VIEWS = {"explore": EXPLORE, "compare": COMPARE, "cliff": CLIFF, "eigen": EIGEN}


def _qs(params: dict) -> str:
    return urlencode(params)


def requests() -> Iterator[tuple[str, str, str | None]]:
    """(method, url, JSON body or None) for every recorded request, in a fixed order."""
    for path in PAGES:
        yield "GET", path, None
    for view, configs in VIEWS.items():
        api, figures = DOWNLOADS[view]
        for i, params in enumerate(configs):
            qs = _qs(params)
            sep = "?" if qs else ""
            yield "GET", f"{api}{sep}{qs}", None
            yield "GET", f"{api}/figures{sep}{qs}", None
            yield "GET", f"/{view}{sep}{qs}", None
            embed = f"/embed/{view}{sep}{qs}"
            yield "GET", embed, None
            if i % 3 == 0:
                extra = "controls=none&figures=" + ",".join(figures)
                yield "GET", f"{embed}{'&' if qs else '?'}{extra}", None
                for name in figures:
                    for ext in ("csv", "json", "html"):
                        yield "GET", f"{api}/figures/{name}.{ext}{sep}{qs}", None
            if i % 5 == 0:
                url = f"http://testserver/{view}{sep}{qs}"
                yield "GET", "/oembed?" + urlencode({"url": url, "format": "json"}), None
            if view == "explore":
                yield "GET", f"/api/v1/gradient-flow/pytorch{sep}{qs}", None
    for path in ERRORS:
        yield "GET", path, None
    for params in EXPLORE:
        if params.get("include") == "weights":
            yield "POST", "/api/v1/gradient-flow", "weights-of:" + _qs(params)


def _body(client, body: str) -> str:
    """A POST body: the tensors a GET with include=weights returns, posted back."""
    qs = body.removeprefix("weights-of:")
    got = client.get(f"/api/v1/gradient-flow?{qs}").json()
    config = {k: v for k, v in got["config"].items() if k != "include"}
    return json.dumps({**config, "include": "weights", "weights": got["weights"]})


def answers(client) -> Iterator[tuple[str, int, str, bytes]]:
    """(request key, status, sha256, body) for every request."""
    for method, url, body in requests():
        if method == "GET":
            r = client.get(url)
        else:
            r = client.post(
                url, content=_body(client, body), headers={"content-type": "application/json"}
            )
        key = f"{method} {url}" + (f" [{body}]" if body else "")
        yield key, r.status_code, hashlib.sha256(r.content).hexdigest(), r.content
