"""/api/v1/models: uploads of state_dicts written here in PyTorch's names and shapes (NumPy +
safetensors.numpy), the content-addressed store (dedupe, LRU eviction by bytes, nothing left
behind by a refusal), every refusal a 4xx naming the tensor or field and the limit, and a
413 that a plain urllib client actually receives from a real uvicorn server."""

import hashlib
import io
import json
import os
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
import zipfile

import numpy as np
import pytest
import uvicorn
from safetensors.numpy import save

from bpttlab.server.app import create_app
from bpttlab.server.model_api import MAX_BATCH, MAX_HIDDEN, MAX_SEQ_LEN
from bpttlab.server.schemas import MAX_BODY_BYTES
from bpttlab.server.settings import Settings

from .conftest import sse_events, strict_json

URL = "/api/v1/models"
GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # PyTorch's docs: G * hidden_size rows
OCTET = {"content-type": "application/octet-stream"}


def state_dict(cell, num_layers=1, bidirectional=False, hidden=3, inp=2, seed=0,
               dtype=np.float32):  # fmt: skip
    """torch.nn.RNN/LSTM/GRU's state_dict as PyTorch's documentation names and shapes it:
    weight_ih_l{k}: (G hidden, inp) for k = 0 else (G hidden, D hidden), weight_hh_l{k}:
    (G hidden, hidden), bias_ih_l{k}, bias_hh_l{k}: (G hidden,), `_reverse` for the second
    direction."""
    rng = np.random.default_rng(seed)
    g, dirs = GATES[cell], 2 if bidirectional else 1
    out = {}
    for k in range(num_layers):
        width = inp if k == 0 else dirs * hidden
        for suffix in ["", "_reverse"][:dirs]:
            out[f"weight_ih_l{k}{suffix}"] = rng.uniform(-0.5, 0.5, (g * hidden, width))
            out[f"weight_hh_l{k}{suffix}"] = rng.uniform(-0.5, 0.5, (g * hidden, hidden))
            out[f"bias_ih_l{k}{suffix}"] = rng.uniform(-0.5, 0.5, g * hidden)
            out[f"bias_hh_l{k}{suffix}"] = rng.uniform(-0.5, 0.5, g * hidden)
    return {k: v.astype(dtype) for k, v in out.items()}


def safetensors_bytes(tensors, lie=None) -> bytes:
    """A safetensors file written by hand (8-byte little-endian header length, the JSON
    header, the data); lie = (name, extra bytes) makes the header claim more than is there."""
    header, data, offset = {}, b"", 0
    for name, value in tensors.items():
        raw = np.ascontiguousarray(value, dtype="<f4").tobytes()
        end = offset + len(raw)
        shape = list(value.shape)
        if lie and lie[0] == name:
            end += lie[1]
            shape = [shape[0] + lie[1] // 4] + shape[1:]
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, end]}
        data += raw
        offset = end
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def npz_bytes(tensors) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **tensors)
    return buffer.getvalue()


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.fixture
def store(tmp_path):
    return tmp_path / "store"


@pytest.fixture
def client(make_client, store):
    return make_client(model_store_dir=str(store))


def entries(store) -> list[str]:
    """Every file in the store's folder (temporary ones too)."""
    return sorted(os.listdir(store)) if store.exists() else []


def upload(client, data, status=201, **params):
    params = {k: v for k, v in params.items() if v is not None}
    r = client.post(URL, content=data, headers=OCTET, params=params)
    assert r.status_code == status, r.text
    return strict_json(r.text)


def refusal(client, data, status=422, **params):
    body = upload(client, data, status, **params)
    assert body["status"] == status and body["errors"], body
    return body["errors"][0]


# -- accepted files ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["safetensors", "npz", "json"])
def test_a_bidirectional_lstm_is_read_back_and_stored_under_its_sha256(client, store, fmt):
    sd = state_dict("lstm", 2, True, hidden=4, inp=3)
    sd["fc.weight"] = np.ones((5, 8), np.float32)
    sd["fc.bias"] = np.zeros(5, np.float32)
    data = {
        "safetensors": lambda: save(sd),
        "npz": lambda: npz_bytes(sd),
        "json": lambda: json.dumps({k: v.tolist() for k, v in sd.items()}).encode(),
    }[fmt]()
    body = upload(client, data)
    sha = hashlib.sha256(data).hexdigest()
    assert body["sha256"] == sha and body["bytes"] == len(data) and body["format"] == fmt
    a = body["architecture"]
    assert (a["cell"], a["torch_class"], a["num_layers"], a["bidirectional"]) == (
        "lstm", "nn.LSTM", 2, True)  # fmt: skip
    assert (a["hidden_size"], a["input_size"], a["output_layer"], a["output_name"]) == (
        4, 3, "file", "fc")  # fmt: skip
    assert a["vocab_size"] == 5 and a["nonlinearity"] is None
    assert body["url"].startswith(f"/model?model={sha}")
    assert entries(store) == [f"{sha}.model", f"{sha}.model.json"]
    assert (store / f"{sha}.model").read_bytes() == data
    # the same bytes again: the entry is answered, nothing is stored twice
    again = upload(client, data, status=200)
    assert again["sha256"] == sha and entries(store) == [f"{sha}.model", f"{sha}.model.json"]
    got = client.get(f"{URL}/{sha}")
    assert got.status_code == 200 and strict_json(got.text)["architecture"] == a


def test_an_rnn_needs_its_nonlinearity_and_the_summary_says_the_one_given(client, store):
    data = save(state_dict("rnn", hidden=3))
    error = refusal(client, data)
    assert error["field"] == "file.weight_hh_l0" and error["type"] == "nonlinearity_required"
    assert error["limit"]["expected"] == ["tanh", "relu"] and entries(store) == []
    body = upload(client, data, nonlinearity="relu")
    assert body["architecture"]["nonlinearity"] == "relu"
    got = client.get(f"{URL}/{body['sha256']}", params={"nonlinearity": "tanh"})
    assert strict_json(got.text)["architecture"]["nonlinearity"] == "tanh"


# -- refused files: a 4xx naming the problem, and no entry left ----------------------------


def _int_tensors():
    sd = state_dict("gru")
    sd["weight_hh_l0"] = np.ones((9, 3), np.int32)
    return save(sd)


def _nan():
    sd = state_dict("gru")
    sd["bias_ih_l0"][2] = np.nan
    return save(sd)


def _unknown():
    return save({**state_dict("gru"), "embedding.weight": np.zeros((10, 7), np.float32)})


def _missing_layer():
    sd = state_dict("lstm", 2)
    del sd["weight_ih_l1"]
    return save(sd)


def _torch_save_like():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    return buffer.getvalue()


BAD = {
    # (bytes, field, type, words in the message)
    "truncated safetensors": (lambda: save(state_dict("lstm"))[:40], "file", "file_format",
                              "not a readable safetensors"),
    "header claims more bytes": (
        lambda: safetensors_bytes(state_dict("lstm"), lie=("bias_hh_l0", 64)), "file",
        "file_format", "not a readable safetensors"),
    "int tensor": (_int_tensors, "file.weight_hh_l0", "tensor_dtype", "int32"),
    "NaN": (_nan, "file.bias_ih_l0", "non_finite_tensor", "NaN"),
    "unknown names": (_unknown, "file.embedding.weight", "unknown_tensor", "embedding.weight"),
    "missing layer": (_missing_layer, "file.weight_ih_l1", "missing_tensor", "weight_ih_l1"),
    "torch.save (a pickle)": (_torch_save_like, "file", "file_format", "never loaded"),
    "not a state_dict": (lambda: b"hello world", "format", "format", "not recognised"),
    "nine layers": (lambda: save(state_dict("gru", 9)), "file.weight_hh_l8", "architecture",
                    "at most 8"),
    "proj_size LSTM": (lambda: save({**state_dict("lstm"), "weight_hr_l0": np.ones((2, 3),
                       np.float32)}), "file.weight_hr_l0", "architecture", "proj_size"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_file_is_refused_naming_the_problem_and_leaves_nothing(client, store, case):
    make, field, type_, words = BAD[case]
    error = refusal(client, make())
    assert (error["field"], error["type"]) == (field, type_), error
    assert words in error["message"], error["message"]
    assert ".upload-" not in error["message"]  # the temporary file is "the file"
    assert entries(store) == []


def test_a_hidden_size_over_the_limit_is_refused_naming_it(client, store):
    n = 2048
    assert n > MAX_HIDDEN
    sd = {"weight_ih_l0": np.zeros((n, 1), np.float16),
          "weight_hh_l0": np.zeros((n, n), np.float16)}  # fmt: skip
    error = refusal(client, save(sd), nonlinearity="tanh")
    assert error["field"] == "file.weight_hh_l0" and error["limit"]["actual"] == n
    assert f"limit of {MAX_HIDDEN}" in error["message"] and entries(store) == []


def test_an_empty_body_is_refused(client, store):
    error = refusal(client, b"", status=400)
    assert error["field"] == "body" and entries(store) == []


def test_a_file_over_the_size_limit_is_a_413_naming_it(make_client, store):
    client = make_client(model_store_dir=str(store), model_max_bytes=4096)
    data = save(state_dict("lstm", hidden=20))
    assert len(data) > 4096
    error = refusal(client, data, status=413)
    assert error["limit"] == {"max_bytes": 4096} and error["input"] == len(data)

    def chunks():  # no Content-Length: counted while it streams
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    r = client.post(URL, content=chunks(), headers=OCTET)
    assert r.status_code == 413 and "limit of 4096 bytes" in strict_json(r.text)["message"]
    assert entries(store) == []


# -- inputs ----------------------------------------------------------------------------------


def test_inputs_are_checked_against_the_model_and_the_limits(client, store):
    sha = upload(client, save(state_dict("gru", inp=2)))["sha256"]
    got = client.post(f"{URL}/{sha}/inputs", content=npy_bytes(np.ones((7, 2))), headers=OCTET)
    assert got.status_code == 201
    assert strict_json(got.text)["shape"] == [1, 7, 2]
    kept = entries(store)
    cases = [
        (np.ones((7, 3)), "input_size 2"),
        (np.ones((MAX_SEQ_LEN + 1, 2), np.float32), f"the limit is {MAX_SEQ_LEN}"),
        (np.ones((MAX_BATCH + 1, 2, 2), np.float32), f"the limit is {MAX_BATCH}"),
        (np.array([[0.0, np.inf]]), "NaN or infinite"),
    ]
    for array, words in cases:
        r = client.post(f"{URL}/{sha}/inputs", content=npy_bytes(array), headers=OCTET)
        assert r.status_code == 422, (array.shape, r.text)
        error = strict_json(r.text)["errors"][0]
        assert error["field"] == "inputs" and words in error["message"], error
    assert entries(store) == kept
    missing = "0" * 64
    r = client.post(f"{URL}/{missing}/inputs", content=npy_bytes(np.ones((7, 2))), headers=OCTET)
    assert r.status_code == 404


# -- the store: least recently used evicted by bytes ---------------------------------------


def test_the_store_evicts_the_least_recently_used_files_by_bytes(make_client, store, tmp_path):
    files = [save(state_dict("gru", seed=s)) for s in range(4)]
    measure = make_client(model_store_dir=str(tmp_path / "measure"))
    for f in files:
        upload(measure, f)
    sizes: dict[str, int] = {}  # an entry: the file and its metadata
    for path in (tmp_path / "measure").iterdir():
        sha = path.name.split(".")[0]
        sizes[sha] = sizes.get(sha, 0) + path.stat().st_size
    assert len(sizes) == 4
    bound = sum(sizes.values()) - min(sizes.values())  # any 3 entries fit, 4 do not
    client = make_client(model_store_dir=str(store), model_store_bytes=bound)
    shas = [upload(client, f)["sha256"] for f in files[:3]]
    assert len(entries(store)) == 6
    time.sleep(0.02)
    assert client.get(f"{URL}/{shas[0]}").status_code == 200  # read: now the most recent
    time.sleep(0.02)
    upload(client, files[3])
    kept = {name.split(".")[0] for name in entries(store)}
    assert kept == {shas[0], shas[2], hashlib.sha256(files[3]).hexdigest()}
    gone = client.get(f"{URL}/{shas[1]}")
    assert gone.status_code == 404
    assert "upload the file again" in strict_json(gone.text)["message"]
    r = client.post(f"{URL}/{shas[1]}/analysis", json={})
    assert r.status_code == 404


# -- analysis requests refused before any work ---------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({"seq_len": MAX_SEQ_LEN + 1}, "seq_len"),
        ({"probes": 0}, "probes"),
        ({"probes": 1}, "probes"),  # one probe has no estimate of its error
        ({"mode": "fast"}, "mode"),
        ({"loss": "first"}, "loss"),
        ({"inputs": "xyz"}, "inputs"),
        ({"inputs": "0" * 64}, "inputs"),
        ({"sequence": 1}, "sequence"),
        ({"nonlinearity": "relu"}, "nonlinearity"),
        ({"extra": 1}, "extra"),
    ],
)
def test_an_analysis_request_is_refused_naming_the_field(client, body, field):
    sha = upload(client, save(state_dict("gru")))["sha256"]
    r = client.post(f"{URL}/{sha}/analysis", json=body)
    assert 400 <= r.status_code < 500, r.text
    assert strict_json(r.text)["errors"][0]["field"] == field


def test_seq_len_must_agree_with_the_inputs(client):
    sha = upload(client, save(state_dict("gru", inp=2)))["sha256"]
    r = client.post(f"{URL}/{sha}/inputs", content=npy_bytes(np.ones((3, 5, 2))), headers=OCTET)
    inputs = strict_json(r.text)["sha256"]
    r = client.post(f"{URL}/{sha}/analysis", json={"inputs": inputs, "seq_len": 6})
    error = strict_json(r.text)["errors"][0]
    assert r.status_code == 422 and error["field"] == "seq_len"
    assert error["limit"] == {"expected": 5}
    r = client.post(f"{URL}/{sha}/analysis", json={"inputs": inputs, "sequence": 3})
    assert r.status_code == 422 and strict_json(r.text)["errors"][0]["limit"] == {"le": 2}


# -- a 413 a plain urllib client receives ---------------------------------------------------


@pytest.fixture
def live(store):
    """A real uvicorn server in a thread, with a model file limit of 64 KiB."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Settings(model_store_dir=str(store), model_max_bytes=65536))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _urllib_post(url, data, headers):
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:  # a reset would be a URLError
        urllib.request.urlopen(request, timeout=30)
    return caught.value.code, json.loads(caught.value.read())


@pytest.mark.parametrize(
    "path, size, limit",
    [
        ("/api/v1/models", 3_000_000, 65536),  # 45 times the limit
        ("/api/v1/models/" + "0" * 64 + "/inputs", 3_000_000, 65536),
        ("/api/v1/network", MAX_BODY_BYTES + 2**20, MAX_BODY_BYTES),
        ("/api/v1/gradient-flow", MAX_BODY_BYTES + 2**20, MAX_BODY_BYTES),
    ],
)
def test_urllib_receives_the_413_of_a_body_over_the_limit(live, store, path, size, limit):
    headers = {"Content-Type": "application/octet-stream"}
    status, body = _urllib_post(live + path, b"x" * size, headers)
    if path.endswith("/inputs"):  # no such model: said once the body is drained
        assert status == 404
        return
    assert status == 413 and body["errors"][0]["limit"] == {"max_bytes": limit}
    assert entries(store) == []


def test_urllib_receives_the_413_of_a_chunked_body_over_the_limit(live, store):
    def chunks():  # no Content-Length: urllib sends it chunked
        for _ in range(40):
            yield b"x" * 8192

    status, body = _urllib_post(
        live + URL, chunks(), {"Content-Type": "application/octet-stream",
                               "Transfer-Encoding": "chunked"}
    )  # fmt: skip
    assert status == 413 and "limit of 65536 bytes" in body["message"]
    assert entries(store) == []


# -- analyses as jobs --------------------------------------------------------------------------


def events_of(client, url):
    """An analysis' SSE stream parsed: [(id, event, data)]."""
    return sse_events(client, url)


def in_process(data, inputs=None, **options):
    """What the Python API (bpttlab.analyze, the notebook's way in) gives for the same file
    and options, as JSON: the web's result must be exactly this."""
    import bpttlab
    from bpttlab.server.figures.model import model_figures
    from bpttlab.server.serialize import dumps

    r = bpttlab.analyze(data, inputs, format="safetensors", **options)
    return json.loads(dumps({"payload": r.to_dict(), "figures": model_figures(r.analysis)}))


@pytest.fixture
def jobs_client(make_client, store):
    return make_client(model_store_dir=str(store), model_grace=60)


@pytest.mark.parametrize(
    "cell, layers, bidi, body",
    [
        ("gru", 2, True, {"seq_len": 7, "seed": 3, "mode": "auto"}),
        ("rnn", 1, False, {"seq_len": 9, "loss": "last", "mode": "matrix_free", "probes": 5,
                           "probe_seed": 2, "nonlinearity": "relu"}),
    ],
)  # fmt: skip
def test_an_analysis_job_gives_the_engines_own_numbers(jobs_client, cell, layers, bidi, body):
    client = jobs_client
    data = save(state_dict(cell, layers, bidi, hidden=4, inp=3))
    sha = upload(client, data, nonlinearity="relu" if cell == "rnn" else None)["sha256"]
    r = client.post(f"{URL}/{sha}/analysis", json=body)
    assert r.status_code == 202, r.text
    job = strict_json(r.text)
    expected_mode = "exact" if body["mode"] == "auto" else body["mode"]
    assert job["mode"] == expected_mode and job["status"] in ("queued", "running")
    events = events_of(client, job["events"])
    kinds = [e for _, e, _ in events]
    assert kinds[0] == "started" and kinds[-1] == "result" and "progress" in kinds
    fractions = [d["fraction"] for _, e, d in events if e == "progress"]
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)
    last = events[-1][2]
    assert last["status"] == "finished"
    params = {k: v for k, v in body.items() if k != "mode"}
    want = in_process(data, mode=expected_mode, **params)
    assert last["result"]["payload"] == want["payload"]
    assert last["result"]["figures"] == want["figures"]
    assert want["payload"]["mode"] == expected_mode
    line = last["result"]["mode_line"]
    if expected_mode == "exact":
        assert line.startswith("Mode: exact.") and "none is estimated" in line
    else:
        assert line.startswith("Mode: matrix-free (estimated)")
        assert f"k = {body['probes']} random probes" in line and "standard errors" in line
        assert "spectral norms are lower bounds" in line
    methods = {
        (q, norm, j[norm]["method"])
        for layers in want["payload"]["jacobians"].values()
        for layer in layers
        for q, j in layer.items()
        for norm in ("frobenius", "spectral")
    }
    words = {"exact": "exact", "estimate": "estimate", "lower_bound": "lower bound"}
    assert all(words[m] in line for _, _, m in methods)
    state = strict_json(client.get(job["state"]).text)
    assert state["status"] == "finished" and state["result"]["payload"] == want["payload"]
    # the same request again: from the cache, at once (200)
    again = client.post(f"{URL}/{sha}/analysis", json=body)
    assert again.status_code == 200 and strict_json(again.text)["cached"] is True
    assert strict_json(again.text)["result"]["payload"] == want["payload"]


def test_an_analysis_of_uploaded_inputs_uses_them(jobs_client):
    client = jobs_client
    data = save(state_dict("lstm", 1, False, hidden=3, inp=2))
    sha = upload(client, data)["sha256"]
    x = np.random.default_rng(5).normal(size=(3, 6, 2))
    r = client.post(f"{URL}/{sha}/inputs", content=npy_bytes(x), headers=OCTET)
    inputs = strict_json(r.text)["sha256"]
    r = client.post(f"{URL}/{sha}/analysis", json={"inputs": inputs, "sequence": 1})
    assert r.status_code == 202, r.text
    last = events_of(client, strict_json(r.text)["events"])[-1][2]
    want = in_process(data, x, seq_len=6, sequence=1)
    assert last["result"]["payload"] == want["payload"]
    assert want["payload"]["inputs"] == {"inputs": "given", "targets": "drawn", "batch": 3,
                                         "sequence": 1}  # fmt: skip


def test_an_analysis_is_cancelled_on_request(jobs_client):
    client = jobs_client
    data = save(state_dict("lstm", 2, True, hidden=96, inp=8))
    sha = upload(client, data)["sha256"]
    body = {"seq_len": 1000, "mode": "matrix_free", "probes": 256}
    job = strict_json(client.post(f"{URL}/{sha}/analysis", json=body).text)
    deadline = time.monotonic() + 60
    while strict_json(client.get(job["state"]).text)["stage"] is None:
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.05)
    r = client.delete(job["state"])
    assert r.status_code == 200
    last = events_of(client, job["events"])[-1]
    assert last[1] == "result" and last[2]["status"] == "cancelled"
    state = strict_json(client.get(job["state"]).text)
    assert state["status"] == "cancelled" and state["reason"] == "request"
    assert state["result"] is None


def test_exact_mode_over_the_budget_is_refused_naming_it(make_client, store):
    client = make_client(model_store_dir=str(store), cost_budget=1e3)
    sha = upload(client, save(state_dict("gru", hidden=8)))["sha256"]
    r = client.post(f"{URL}/{sha}/analysis", json={"mode": "exact", "seq_len": 50})
    assert r.status_code == 422
    error = strict_json(r.text)["errors"][0]
    assert error["field"] == "mode" and "budget" in error["message"]


def test_an_analysis_past_its_wall_time_ends_as_a_timeout(make_client, store):
    client = make_client(model_store_dir=str(store), model_max_seconds=1.0)
    sha = upload(client, save(state_dict("lstm", 2, True, hidden=96, inp=8)))["sha256"]
    body = {"seq_len": 1000, "mode": "matrix_free", "probes": 256}
    job = strict_json(client.post(f"{URL}/{sha}/analysis", json=body).text)
    last = events_of(client, job["events"])[-1]
    assert last[1] == "result" and last[2]["status"] == "timeout"
    elapsed = strict_json(client.get(job["state"]).text)["elapsed"]
    assert 1.0 <= elapsed < 30


def test_a_file_evicted_before_its_analysis_runs_fails_saying_so(jobs_client, store):
    client = jobs_client
    sha = upload(client, save(state_dict("gru")))["sha256"]
    state = client.app.state
    store_of = state.model_store
    real_get = store_of.get

    def get_then_evict(sha_, kind="model", touch=True):  # evicted right after it was found
        entry = real_get(sha_, kind, touch)
        if entry is not None and kind == "model":
            store_of.remove(sha_, kind)
        return entry

    store_of.get = get_then_evict
    try:
        job = strict_json(client.post(f"{URL}/{sha}/analysis", json={"seq_len": 5}).text)
    finally:
        store_of.get = real_get
    last = events_of(client, job["events"])[-1]
    assert last[1] == "failure" and "no longer has this file" in last[2]["message"]
    assert str(store) not in last[2]["message"]
