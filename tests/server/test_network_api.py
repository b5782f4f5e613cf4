"""GET/POST /api/v1/network: the body's keys and shapes, its numbers against a plain NumPy
network written here from the served tensors (PyTorch's equations, step by step), the
state_dict under PyTorch's names, the round trip byte for byte, and the 422s."""

import itertools
import math

import numpy as np
import pytest

from bpttlab.server.schemas import NetworkBody, NetworkQuery

from .conftest import strict_json

URL = "/api/v1/network"
SMALL = {"hidden_size": 3, "input_size": 2, "seq_len": 5, "vocab_size": 4}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def get(client, path=URL, status=200, **params):
    r = client.get(path, params=params)
    assert r.status_code == status, r.text
    return r


def body_of(client, path=URL, **params):
    return strict_json(get(client, path, **params).text)


def post(client, body, status=200):
    r = client.post(URL, json=body)
    assert r.status_code == status, r.text
    return r


def error_of(r, field):
    out = strict_json(r.text)
    assert out["errors"][0]["field"] == field, out
    assert out["message"].startswith(f"{field}: ")
    return out["errors"][0]


# --- a NumPy network from the served tensors, as torch.nn.RNN/LSTM/GRU compute it ----------


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def cell_step(cell, w, x, h, c):
    gi = w["weight_ih"] @ x + w["bias_ih"]
    gh = w["weight_hh"] @ h + w["bias_hh"]
    n = h.size
    if cell == "rnn":
        return np.tanh(gi + gh), c
    if cell == "lstm":
        a = gi + gh
        i, f, g, o = sigmoid(a[:n]), sigmoid(a[n : 2 * n]), np.tanh(a[2 * n : 3 * n]), a[3 * n :]
        c = f * c + i * g
        return sigmoid(o) * np.tanh(c), c
    r = sigmoid(gi[:n] + gh[:n])
    z = sigmoid(gi[n : 2 * n] + gh[n : 2 * n])
    cand = np.tanh(gi[2 * n :] + r * gh[2 * n :])
    return (1 - z) * cand + z * h, c


def reference_outputs(config, weights, inputs, bump=None):
    """The top layer's output (T, D n) from the served state_dict; ``bump`` = (layer,
    direction, t, e) adds e to h_t of that layer and direction (t 0-based) where it is
    computed, so it feeds the next step and the layer above."""
    cell, n, layers = config["cell"], config["hidden_size"], config["num_layers"]
    dirs = 2 if config["bidirectional"] else 1
    x = np.array(inputs)
    t_len = x.shape[0]
    for k in range(layers):
        halves = []
        for d in range(dirs):
            suffix = f"_l{k}" + ("_reverse" if d else "")
            w = {
                kind: np.array(weights[f"{kind}{suffix}"])
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            }
            h, c, out = np.zeros(n), np.zeros(n), np.zeros((t_len, n))
            for t in range(t_len) if d == 0 else range(t_len - 1, -1, -1):
                h, c = cell_step(cell, w, x[t], h, c)
                if bump is not None and bump[:3] == (k, d, t):
                    h = h + bump[3]
                out[t] = h
            halves.append(out)
        y = np.hstack(halves)
        if config["skip"] == "residual" and k >= 1:
            y = y + x
        x = y
    return x


def reference_loss(config, served, bump=None):
    w = served["weights"]
    y = reference_outputs(config, w["rnn"], w["inputs"], bump)
    logits = y @ np.array(w["output"]["weight"]).T + np.array(w["output"]["bias"])
    steps = range(config["seq_len"]) if config["loss"] == "every" else [config["seq_len"] - 1]
    total = 0.0
    for target, t in zip(w["targets"], steps, strict=True):
        z = logits[t]
        total += np.log(np.sum(np.exp(z - z.max()))) + z.max() - z[target]
    return total


def expected_shapes(config):
    """PyTorch's state_dict of nn.RNN/LSTM/GRU(num_layers, bidirectional), in its order."""
    g, n, d = GATES[config["cell"]], config["hidden_size"], config["input_size"]
    dirs = 2 if config["bidirectional"] else 1
    shapes = {}
    for k in range(config["num_layers"]):
        for r in range(dirs):
            s = f"_l{k}" + ("_reverse" if r else "")
            shapes[f"weight_ih{s}"] = [g * n, d if k == 0 else dirs * n]
            shapes[f"weight_hh{s}"] = [g * n, n]
            shapes[f"bias_ih{s}"] = [g * n]
            shapes[f"bias_hh{s}"] = [g * n]
    return shapes


def shape(value):
    a = np.array(value)
    return list(a.shape)


COMBOS = [
    {"cell": c, "num_layers": layers, "bidirectional": bi, "skip": skip, "loss": loss}
    for c, layers, bi, skip, loss in itertools.product(
        ("rnn", "lstm", "gru"), (1, 3), (False, True), ("none", "residual"), ("every", "last")
    )
    if not (layers == 1 and skip == "residual")
]


@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: "-".join(map(str, c.values())))
def test_the_body_has_every_map_in_its_shape_and_the_loss_of_a_numpy_network(client, combo):
    config = {**SMALL, **combo}
    served = body_of(client, **config, include="weights")
    c = served["config"]
    assert {k: c[k] for k in config} == config
    t_len, layers = config["seq_len"], config["num_layers"]
    names = ["forward", "backward"] if config["bidirectional"] else ["forward"]
    assert list(served["influence"]) == list(served["layer_time"]) == names
    assert list(served["terms"]) == names
    for name in names:
        assert shape(served["influence"][name]) == [t_len, t_len]
        assert shape(served["terms"][name]) == [t_len, t_len]
        assert len(served["layer_time"][name]) == layers
        assert all(len(row) == t_len for row in served["layer_time"][name])
    assert (served["influence_union"] is None) == (not config["bidirectional"])
    # the loss of the served tensors, computed here
    assert served["loss"] == pytest.approx(reference_loss(config, served), rel=1e-12)
    # the state_dict: PyTorch's names in PyTorch's order, PyTorch's shapes
    w = served["weights"]
    shapes = expected_shapes(config)
    assert list(w["rnn"]) == list(shapes)
    assert {k: shape(v) for k, v in w["rnn"].items()} == shapes
    dirs = len(names)
    assert shape(w["output"]["weight"]) == [config["vocab_size"], dirs * config["hidden_size"]]
    assert shape(w["output"]["bias"]) == [config["vocab_size"]]
    assert shape(w["inputs"]) == [t_len, config["input_size"]]
    count = t_len if config["loss"] == "every" else 1
    assert len(w["targets"]) == count
    assert all(isinstance(t, int) and 0 <= t < config["vocab_size"] for t in w["targets"])
    zeros = [[0.0] * config["hidden_size"]] * (layers * dirs)
    assert w["h0"] == zeros
    assert ("c0" in w) == (config["cell"] == "lstm") and w.get("c0", zeros) == zeros
    # gradient norms by PyTorch's names, and the total is their root sum of squares
    g = served["gradient"]
    assert list(g["log10_norms"]) == [*shapes, "output.weight", "output.bias"]
    total = math.sqrt(sum(10 ** (2 * v) for v in g["log10_norms"].values() if v is not None))
    assert g["log10_total_norm"] == pytest.approx(math.log10(total), abs=1e-12)


def test_a_unidirectional_map_is_null_above_the_diagonal_and_a_stack_sees_both_ways(client):
    one = body_of(client, **SMALL, num_layers=2)["influence"]["forward"]
    for t, row in enumerate(one):
        assert all(v is None for v in row[t + 1 :])
        assert all(v is not None for v in row[: t + 1])
    bi = body_of(client, **SMALL, num_layers=1, bidirectional="true")["influence"]
    for t in range(SMALL["seq_len"]):
        assert all(v is None for v in bi["forward"][t][t + 1 :])
        assert all(v is None for v in bi["backward"][t][:t])
    stacked = body_of(client, **SMALL, num_layers=2, bidirectional="true")["influence"]
    assert all(v is not None for m in stacked.values() for row in m for v in row)


def fd_jacobian(config, weights, inputs, t, k, eps=1e-6):
    """dy_t/dx_k (D n, d) of the NumPy network, by central differences."""
    x = np.array(inputs, dtype=float)
    cols = []
    for j in range(x.shape[1]):
        up, down = x.copy(), x.copy()
        up[k, j] += eps
        down[k, j] -= eps
        diff = reference_outputs(config, weights, up) - reference_outputs(config, weights, down)
        cols.append(diff[t] / (2 * eps))
    return np.array(cols).T


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_influence_and_its_union_against_finite_differences(client, cell):
    """Each half is the spectral norm of its block of dy_t/dx_k; the union is at least the
    spectral norm of the stacked Jacobian and at most sqrt(2) times it, as the page says."""
    config = {**SMALL, "cell": cell, "num_layers": 2, "bidirectional": True, "skip": "none"}
    served = body_of(client, **config, include="weights")
    w, n = served["weights"], config["hidden_size"]
    for t, k in [(0, 0), (1, 3), (4, 2), (4, 4)]:
        jac = fd_jacobian(config, w["rnn"], w["inputs"], t, k)
        for d, name in enumerate(("forward", "backward")):
            block = np.linalg.norm(jac[d * n : (d + 1) * n], 2)
            assert served["influence"][name][t][k] == pytest.approx(np.log10(block), abs=1e-6)
        stacked = np.log10(np.linalg.norm(jac, 2))
        union = served["influence_union"][t][k]
        assert stacked - 1e-6 <= union <= stacked + 0.5 * math.log10(2) + 1e-6


def test_a_posted_network_without_recurrence_has_no_influence_back_in_time(client):
    """W_hh = 0 in a one-layer RNN: y_t reads x_t alone, so only the diagonal is nonzero, and
    the diagonal is ||diag(1 - y_t^2) W_ih||_2, computed here."""
    config = {**SMALL, "cell": "rnn", "num_layers": 1}
    w = body_of(client, **config, include="weights")["weights"]
    w["rnn"]["weight_hh_l0"] = [[0.0] * 3 for _ in range(3)]
    served = strict_json(post(client, {**config, "weights": w}).text)
    m = served["influence"]["forward"]
    y = reference_outputs({**config, "bidirectional": False, "skip": "none"}, w["rnn"], w["inputs"])
    w_ih = np.array(w["rnn"]["weight_ih_l0"])
    for t in range(config["seq_len"]):
        assert [v is None for v in m[t]] == [k != t for k in range(config["seq_len"])]
        expected = np.linalg.norm((1 - y[t] ** 2)[:, None] * w_ih, 2)
        assert m[t][t] == pytest.approx(np.log10(expected), abs=1e-12)


ROUND_TRIPS = [
    {"cell": "lstm"},
    {"cell": "gru", "bidirectional": True, "num_layers": 3, "skip": "residual"},
    {"cell": "rnn", "nonlinearity": "relu", "bidirectional": True, "loss": "last"},
    {"cell": "rnn", "nonlinearity": "sigmoid", "num_layers": 1},
    {"cell": "gru", "gru_form": "lecture", "forget_bias": 2.0, "update_bias": 3.0},
]


@pytest.mark.parametrize("combo", ROUND_TRIPS, ids=lambda c: "-".join(map(str, c.values())))
def test_the_weights_posted_back_give_the_same_bytes(client, combo):
    config = {**SMALL, **combo, "include": "weights"}
    r = client.get(URL, params={k: str(v).lower() for k, v in config.items()})
    assert r.status_code == 200
    served = strict_json(r.text)
    back = post(client, {**config, "weights": served["weights"]})
    assert back.content == r.content
    # and a body with no weights is the GET itself
    assert post(client, config).content == r.content
    # inputs alone, changed: the same weights, other numbers
    w = served["weights"]
    other = [[v + 0.5 for v in row] for row in w["inputs"]]
    moved = strict_json(post(client, {**config, "weights": {"inputs": other}}).text)
    assert moved["weights"]["rnn"] == w["rnn"] and moved["weights"]["inputs"] == other
    assert moved["loss"] != served["loss"]


def test_mismatched_names_or_shapes_are_a_422_listing_every_expected_one(client):
    config = {**SMALL, "cell": "gru", "bidirectional": True}
    w = body_of(client, **config, include="weights")["weights"]
    shapes = expected_shapes({**config, "num_layers": 2})
    listed = {
        **shapes,
        "output.weight": [SMALL["vocab_size"], 2 * SMALL["hidden_size"]],
        "output.bias": [SMALL["vocab_size"]],
    }
    for change in ("drop", "rename", "reshape", "extra"):
        rnn = dict(w["rnn"])
        if change == "drop":
            del rnn["weight_hh_l1_reverse"]
        elif change == "rename":
            rnn["weight_hh_l1_rev"] = rnn.pop("weight_hh_l1_reverse")
        elif change == "reshape":
            rnn["weight_ih_l1"] = [row[:3] for row in rnn["weight_ih_l1"]]
        else:
            rnn["weight_ih_l2"] = rnn["weight_ih_l1"]
        error = error_of(post(client, {**config, "weights": {**w, "rnn": rnn}}, 422), "weights.rnn")
        assert error["type"] == "tensor_shape"
        assert error["limit"]["shapes"] == listed
        for name, s in listed.items():
            assert f"{name} {s}" in error["message"]


@pytest.mark.parametrize(
    ("weights", "field"),
    [
        ({"output": "drop"}, "weights.output"),
        ({"rnn": "drop"}, "weights.rnn"),
        ({"targets": [0, 1, 2, 3, 4]}, "weights.targets"),  # 4 >= vocab_size
        ({"targets": [0, 1]}, "weights.targets"),
        ({"inputs": [[0.0, 0.0]] * 4}, "weights.inputs"),
        ({"h0": [[0.0, 0.0, 1.0]] * 2}, "weights.h0"),
        ({"c0": [[0.0] * 3] * 2}, "weights.c0"),  # a GRU has no cell state
        ({"output": {"weight": [[1.0]], "bias": [0.0]}}, "weights.rnn"),  # lists the shapes
        ({"inputs": [[float("1e7"), 0.0]] * 5}, "weights.inputs"),
        ({"rnn": {"weight_ih_l0": "x"}}, "weights.rnn.weight_ih_l0"),
    ],
)
def test_bad_tensors_are_a_422_naming_them(client, weights, field):
    config = {**SMALL, "cell": "gru"}
    w = body_of(client, **config, include="weights")["weights"]
    body = {k: v for k, v in w.items() if k not in ("h0",)}
    for key, value in weights.items():
        if value == "drop":
            del body[key]
        else:
            body[key] = value
    error_of(post(client, {**config, "weights": body}, 422), field)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"num_layers": 9}, "num_layers"),
        ({"num_layers": 0}, "num_layers"),
        ({"vocab_size": 1}, "vocab_size"),
        ({"vocab_size": 65}, "vocab_size"),
        ({"hidden_size": 65}, "hidden_size"),
        ({"seq_len": 201}, "seq_len"),
        ({"input_size": 9}, "input_size"),
        ({"skip": "dense"}, "skip"),
        ({"loss": "first"}, "loss"),
        ({"bidirectional": "maybe"}, "bidirectional"),
        ({"labels": "movie"}, "labels"),  # 5 words, seq_len 20
        ({"include": "everything"}, "include"),
        ({"peephole": "true"}, "peephole"),  # torch.nn.LSTM has none
        ({"h0": "random"}, "h0"),  # networks start from zero states
    ],
)
def test_out_of_bound_queries_are_a_422_naming_the_field_and_limit(client, params, field):
    r = get(client, status=422, **params)
    error = error_of(r, field)
    if field in ("num_layers", "vocab_size", "hidden_size", "seq_len", "input_size"):
        assert error["limit"]  # {"ge": ...} or {"le": ...}
        bound = next(iter(error["limit"].values()))
        assert str(bound) in error["message"]


def test_a_forward_pass_beyond_float64_is_a_422_naming_the_field(client):
    params = {"cell": "rnn", "nonlinearity": "relu", "scale": 100, "seq_len": 200}
    r = get(client, status=422, **params, num_layers=8)
    error = error_of(r, "scale")
    assert "float64" in error["message"] and "t=" in error["message"]
    # a posted W_hh that overflows: the weights are named
    config = {**SMALL, "cell": "rnn", "nonlinearity": "relu", "num_layers": 1, "seq_len": 60}
    w = body_of(client, **config, include="weights")["weights"]
    w["rnn"]["weight_hh_l0"] = [[1e6 if i == j else 0.0 for j in range(3)] for i in range(3)]
    w["rnn"]["bias_hh_l0"] = [1e6] * 3
    error = error_of(post(client, {**config, "weights": w}, 422), "weights")
    assert "float64" in error["message"]


def test_the_body_has_every_query_field_plus_weights_and_is_strict(client):
    assert set(NetworkBody.model_fields) == {*NetworkQuery.model_fields, "weights"}
    error_of(post(client, {"seq_len": "10"}, 422), "seq_len")
    error_of(post(client, {"bidirectional": 1}, 422), "bidirectional")
    error_of(post(client, {"weights": {"state_dict": {}}}, 422), "weights.state_dict")


def test_the_estimate_grows_with_t_squared_and_the_total_state(client):
    def cost(**params):
        return body_of(client, f"{URL}/estimate", **params)["cost"]

    base = cost(seq_len=100, hidden_size=64)
    assert cost(seq_len=200, hidden_size=64) > 3.5 * base  # the maps' T^2
    assert cost(seq_len=100, hidden_size=64, num_layers=4) > 1.9 * base
    assert cost(seq_len=100, hidden_size=64, bidirectional="true") > 1.9 * base
    assert cost(seq_len=100, hidden_size=32) < base / 2
