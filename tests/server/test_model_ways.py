"""A user's model through its three ways in, the Python API (bpttlab.analyze), the command
line (``bpttlab analyze``) and the web (/model's upload and analysis API): for every cell x
num_layers in {1, 2, 3} x bidirectional, a state_dict written here in PyTorch's names and
shapes (tests/engine/test_model_io.py lists them from PyTorch's documentation) gives, in exact
mode, the same numbers as POST /api/v1/network with those weights, inputs and targets; the JSON
the CLI writes is the Python API's to_dict(); the matrix-free mode labels every estimate; the
HTML report opens offline; bad files exit 2."""

import io
import json
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient
from safetensors.numpy import save_file

import bpttlab
from bpttlab.engine.model_io import ModelFileError
from bpttlab.engine.network import draw_output_and_data
from bpttlab.server import cli
from bpttlab.server.app import create_app
from bpttlab.server.limits import model_exact_cost
from bpttlab.server.model_report import choose_mode
from bpttlab.server.pages import PLOTLY_FILE
from bpttlab.server.settings import Settings

from ..engine.test_model_io import state_dict
from .conftest import strict_json, until

T, D, N, V = 5, 2, 3, 4


def _files(tmp_path, cell, layers, bidi):
    sd = {f"rnn.{k}": v for k, v in state_dict(cell, layers, bidi, hidden=N, inp=D).items()}
    rng = np.random.default_rng(11)
    width = (2 if bidi else 1) * N
    sd["head.weight"] = rng.uniform(-1, 1, (V, width)).astype(np.float32)
    sd["head.bias"] = rng.uniform(-1, 1, V).astype(np.float32)
    path = tmp_path / "m.safetensors"
    save_file(sd, str(path))
    x = rng.normal(size=(T, D))
    targets = rng.integers(0, V, T)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "t.npy", targets)
    return path, sd, x, targets


def _posted(client, cell, layers, bidi, sd, x, targets):
    """/network's body for these weights (float32 values widened, as the file's)."""
    rnn = {k.removeprefix("rnn."): v.astype(float).tolist() for k, v in sd.items() if "rnn." in k}
    body = {
        "cell": cell, "num_layers": layers, "bidirectional": bidi, "hidden_size": N,
        "input_size": D, "seq_len": T, "vocab_size": V, "seed": 0, "loss": "every",
        "weights": {
            "rnn": rnn,
            "output": {
                "weight": sd["head.weight"].astype(float).tolist(),
                "bias": sd["head.bias"].astype(float).tolist(),
            },
            "inputs": x.tolist(),
            "targets": [int(t) for t in targets],
        },
    }  # fmt: skip
    if cell == "rnn":
        body["nonlinearity"] = "relu"
    r = client.post("/api/v1/network", json=body)
    assert r.status_code == 200, r.text
    return strict_json(r.text)


def _same_numbers(network, posted):
    assert network["config"] | {"include": ""} == posted["config"] | {"include": ""}
    for key in posted:
        if key != "config":
            assert network[key] == posted[key], key


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """One app for the web's analyses (its worker pool started once), its own store."""
    store = tmp_path_factory.mktemp("store")
    with TestClient(create_app(Settings(model_store_dir=str(store), model_grace=60))) as c:
        yield c


def _web(web, path, x, nonlin):
    """/model's way in: the file and the inputs uploaded, the analysis run as a job; the
    result event's payload."""
    octet = {"Content-Type": "application/octet-stream"}
    params = {"nonlinearity": nonlin} if nonlin else {}
    r = web.post("/api/v1/models", content=path.read_bytes(), headers=octet, params=params)
    assert r.status_code in (200, 201), r.text
    sha = strict_json(r.text)["sha256"]
    buf = io.BytesIO()
    np.save(buf, x)
    r = web.post(f"/api/v1/models/{sha}/inputs", content=buf.getvalue(), headers=octet)
    assert r.status_code in (200, 201), r.text
    body = {"inputs": strict_json(r.text)["sha256"], "mode": "exact"}
    r = web.post(f"/api/v1/models/{sha}/analysis", json=body)
    assert r.status_code in (200, 202), r.text
    job = strict_json(r.text)
    until(lambda: strict_json(web.get(job["state"]).text)["result"] is not None, timeout=60)
    state = strict_json(web.get(job["state"]).text)
    assert state["status"] == "finished", state
    return state["result"]["payload"]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("bidi", [False, True])
def test_three_ways_in_give_networks_numbers(client, web, tmp_path, cell, layers, bidi):
    path, sd, x, targets = _files(tmp_path, cell, layers, bidi)
    nonlin = "relu" if cell == "rnn" else None
    r = bpttlab.analyze(path, x, targets=targets, nonlinearity=nonlin)
    assert r.mode == "exact"
    body = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    posted = _posted(client, cell, layers, bidi, sd, x, targets)
    _same_numbers(body["network"], posted)
    assert body["model"]["cell"] == cell and body["model"]["num_layers"] == layers
    assert body["model"]["bidirectional"] is bidi and body["model"]["output_layer"] == "file"
    assert body["inputs"] == {"inputs": "given", "targets": "given", "batch": 1, "sequence": 0}
    assert body["layer_time"]["forward"]["log10"] == posted["layer_time"]["forward"]
    # the command line: the same JSON, from the same files
    out = tmp_path / "r.json"
    argv = ["analyze", str(path), "--inputs", str(tmp_path / "x.npy"), "--targets",
            str(tmp_path / "t.npy"), "--json", str(out), "--quiet"]  # fmt: skip
    if nonlin:
        argv += ["--nonlinearity", nonlin]
    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    assert done.value.code == 0
    assert strict_json(out.read_text()) == body
    # a dict of arrays (a state_dict in memory) is the same model
    arrays = {k: np.asarray(v) for k, v in sd.items()}
    again = bpttlab.analyze(arrays, x, targets=targets, nonlinearity=nonlin).to_dict()
    assert json.loads(json.dumps(again))["network"] == body["network"]
    # the web page's way (/model): its targets are drawn (there is no targets upload), so
    # /network is given those
    on_web = _web(web, path, x, nonlin)
    drawn = draw_output_and_data(r.analysis.config)[2]
    _same_numbers(on_web["network"], _posted(client, cell, layers, bidi, sd, x, drawn))
    assert on_web["inputs"] == {"inputs": "given", "targets": "drawn", "batch": 1, "sequence": 0}
    assert on_web["model"]["format"] == "safetensors" and on_web["mode"] == "exact"


class FakeTensor:
    """What _as_array duck-types: a torch tensor's detach().cpu().numpy() (torch itself is not
    a dependency; the conversion never imports it)."""

    def __init__(self, a):
        self.a = a

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.a


def test_matrix_free_labels_every_estimate_and_the_report_is_offline(tmp_path):
    path, sd, x, targets = _files(tmp_path, "lstm", 2, True)
    tensors = {k: FakeTensor(v) for k, v in sd.items()}
    r = bpttlab.analyze(tensors, x, targets=targets, mode="matrix_free", probes=6)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["mode"] == "matrix_free" and d["network"] is None and d["probes"] == 6
    for layers in d["jacobians"].values():
        for layer in layers:
            for q in ("h", "h_state"):
                assert layer[q]["frobenius"]["method"] == "estimate"
                assert layer[q]["spectral"]["method"] == "lower_bound"
                assert len(layer[q]["frobenius"]["log10_se"]) == T + 1
    assert all(s["method"] == "exact" for s in d["layer_time"].values())
    figures = r.figures()
    titles = [f.layout.title.text for f in figures]
    assert titles[0].startswith("Gradient norm") and "d(h, c)<sub>T" in titles[1]
    captions = dict(r.captions())
    assert "Estimated from k = 6 random probes" in captions["Jacobian norms over the distance"]
    page = r.to_html(tmp_path / "r.html").read_text()
    # Plotly's bundle is in the page, whole; nothing else is loaded from elsewhere
    bundle = PLOTLY_FILE.read_text(encoding="utf-8")
    assert bundle in page
    rest = page.replace(bundle, "")
    assert "Plotly.newPlot" in rest and "<script src" not in rest and "<link" not in rest
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", rest)
    assert "estimate / lower_bound" in page


def test_auto_mode_is_exact_within_the_budget_and_matrix_free_beyond(tmp_path):
    path, sd, x, targets = _files(tmp_path, "gru", 1, False)
    r = bpttlab.analyze(path, x, targets=targets)
    cost = model_exact_cost(r.analysis.config)
    assert choose_mode(r.analysis.config, cost) == "exact"
    assert choose_mode(r.analysis.config, cost * 0.999) == "matrix_free"
    small = bpttlab.analyze(path, x, targets=targets, budget=cost * 0.999)
    assert small.mode == "matrix_free" and small.to_dict()["network"] is None


def test_the_cli_refuses_bad_files_with_their_reason(tmp_path, capsys):
    path, sd, *_ = _files(tmp_path, "gru", 1, False)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(path.read_bytes()[:-7])  # truncated
    for argv, words in [
        (["analyze", str(bad)], "bad.safetensors"),
        (["analyze", str(tmp_path / "none.safetensors")], "No such file"),
        (["analyze", str(path), "--nonlinearity", "relu"], "nonlinearity applies to nn.RNN"),
    ]:
        with pytest.raises(SystemExit) as done:
            cli.main([*argv, "--quiet"])
        assert done.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("bpttlab analyze: ") and words in err, err
    with pytest.raises(ModelFileError):
        bpttlab.analyze(bad)
