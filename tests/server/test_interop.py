"""PyTorch interop: POST /api/v1/gradient-flow with the user's tensors, and the PyTorch script."""

import ast
import itertools
import json
import math

import numpy as np
import pytest

from bpttlab.engine.nonlinearity import NONLINEARITIES
from bpttlab.server import torch_script
from bpttlab.server.schemas import MAX_ABS, MAX_BODY_BYTES, GradientFlowBody, GradientFlowQuery

from .conftest import strict_json

URL = "/api/v1/gradient-flow"
SMALL = {"hidden_size": 5, "input_size": 3, "seq_len": 12, "h0": "random"}


def get(client, path=URL, **params):
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r


def post(client, body, status=200):
    r = client.post(URL, json=body)
    assert r.status_code == status, r.text
    return strict_json(r.text)


def refused(client, body, field, type_=None, status=422):
    """POST ``body`` (a dict, or raw JSON text) and check the one error it names."""
    if isinstance(body, str):
        r = client.post(URL, content=body, headers={"content-type": "application/json"})
    else:
        r = client.post(URL, json=body)
    assert r.status_code == status, r.text
    out = strict_json(r.text)
    assert out["status"] == status and out["errors"], out
    error = out["errors"][0]
    assert error["field"] == field, out
    assert out["message"].startswith(f"{field}: ")
    if type_ is not None:
        assert error["type"] == type_, out
    return error


def weights_of(client, **config):
    return strict_json(get(client, **config, include="weights").text)["weights"]


def test_the_body_has_every_query_field_plus_weights():
    assert set(GradientFlowBody.model_fields) == {*GradientFlowQuery.model_fields, "weights"}
    for name, info in GradientFlowQuery.model_fields.items():
        assert GradientFlowBody.model_fields[name].metadata == info.metadata


def test_a_body_without_weights_is_the_get(client):
    config = {**SMALL, "cell": "lstm"}
    assert post(client, config) == strict_json(get(client, **config).text)


@pytest.mark.parametrize(
    "config",
    [
        {"cell": "rnn", "nonlinearity": "tanh"},
        {"cell": "rnn", "nonlinearity": "relu", "init": "identity", "scale": 1.2},
        {"cell": "lstm", "forget_bias": 2.0},
        {"cell": "lstm", "peephole": True, "forget_bias": -1.0},
        {"cell": "gru", "update_bias": 3.0},
        {"cell": "gru", "gru_form": "lecture", "clip": "norm", "clip_threshold": 0.1},
    ],
)
def test_posting_the_drawn_tensors_back_gives_the_same_numbers(client, config):
    config = {**SMALL, **config}
    sent = get(client, **config, include="weights")
    expected = strict_json(sent.text)
    back = post(client, {**config, "include": "weights", "weights": expected["weights"]})
    assert back["log10_norm"] == expected["log10_norm"]
    assert back["gradient"] == expected["gradient"]
    assert back == expected  # every number, and the tensors themselves, exactly


def test_parameters_are_used_as_given_not_rebiased_or_rescaled(client):
    config = {**SMALL, "cell": "lstm"}
    tensors = weights_of(client, **config)
    params = {k: tensors[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    plain = post(client, {**config, "weights": params})
    moved = post(
        client, {**config, "init": "identity", "scale": 7, "forget_bias": 9, "weights": params}
    )
    assert moved["log10_norm"] == plain["log10_norm"]
    assert moved["config"]["forget_bias"] == 9  # echoed, though it shapes drawn weights only


@pytest.mark.parametrize("n,t_len", [(1, 5), (4, 30), (16, 200)])
def test_half_identity_with_identity_phi_is_the_closed_form(client, n, t_len):
    config = {"nonlinearity": "identity", "hidden_size": n, "input_size": 2, "seq_len": t_len}
    tensors = {
        "weight_ih": np.ones((n, 2)).tolist(),
        "weight_hh": (0.5 * np.eye(n)).tolist(),
        "bias_ih": [0.0] * n,
        "bias_hh": [0.1] * n,
    }
    body = post(client, {**config, "weights": tensors})
    l = np.arange(t_len + 1)
    np.testing.assert_allclose(body["log10_norm"]["spectral"], l * math.log10(0.5), atol=1e-12)
    np.testing.assert_allclose(
        body["log10_norm"]["frobenius"], l * math.log10(0.5) + 0.5 * math.log10(n), atol=1e-12
    )
    assert body["spectrum"]["spectral_norm"] == 0.5


def test_states_and_target_alone_replace_the_drawn_ones(client):
    config = {**SMALL, "cell": "gru"}
    zeros = post(client, {**config, "weights": {"inputs": np.zeros((12, 3)).tolist()}})
    assert (
        zeros["log10_norm"] == strict_json(get(client, **config, input="zeros").text)["log10_norm"]
    )
    mine = {"h0": [0.25] * 5, "target": [1.0] * 5}
    out = post(client, {**config, "include": "weights", "weights": mine})
    assert out["weights"]["h0"] == mine["h0"] and out["weights"]["target"] == mine["target"]
    assert out["weights"]["weight_hh"] == weights_of(client, **config)["weight_hh"]


def test_a_wrong_shape_names_the_tensor_and_the_expected_shape(client):
    body = {"cell": "lstm", "weights": weights_of(client, cell="lstm", seq_len=5)}
    body["seq_len"] = 5
    body["weights"]["weight_hh"] = [[0.0] * 3] * 3
    error = refused(client, body, "weights.weight_hh", "tensor_shape")
    assert error["message"] == "expected shape (128, 32), got (3, 3)"
    assert error["limit"] == {"shape": [128, 32]}


@pytest.mark.parametrize(
    "name,value,shape",
    [
        ("inputs", np.zeros((11, 3)), [12, 3]),  # one step short
        ("inputs", np.zeros((12, 4)), [12, 3]),
        ("h0", np.zeros((5, 1)), [5]),
        ("target", np.zeros(6), [5]),
        ("weight_ih", np.zeros((5, 3)), [15, 3]),  # an RNN's shape for a GRU
        ("bias_hh", np.zeros(5), [15]),
    ],
)
def test_every_tensor_is_checked_against_the_configuration(client, name, value, shape):
    config = {**SMALL, "cell": "gru"}
    tensors = {**weights_of(client, **config), name: value.tolist()}
    tensors.pop("c0", None)
    error = refused(client, {**config, "weights": tensors}, f"weights.{name}", "tensor_shape")
    assert error["limit"] == {"shape": shape}


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_entries_are_refused(client, token):
    text = '{"hidden_size": 2, "input_size": 1, "seq_len": 3, "weights": {"h0": [0.5, %s]}}'
    error = refused(client, text % token, "weights.h0", "finite_number")
    assert "index [1]" in error["message"]


def test_entries_beyond_the_magnitude_bound_are_refused(client):
    n = 3
    big = np.zeros((n, n))
    big[1, 2] = -2 * MAX_ABS
    body = {"hidden_size": n, "weights": {"weight_hh": big.tolist()}}
    error = refused(client, body, "weights.weight_hh", "tensor_magnitude")
    assert error["limit"] == {"max_abs": MAX_ABS}
    assert "index [1, 2]" in error["message"]
    at_bound = {"hidden_size": n, "input_size": 1, "seq_len": 50, "nonlinearity": "identity"}
    at_bound["weights"] = {
        "weight_ih": [[MAX_ABS]] * n,
        "weight_hh": (MAX_ABS * np.eye(n)).tolist(),
        "bias_ih": [MAX_ABS] * n,
        "bias_hh": [-MAX_ABS] * n,
        "inputs": [[MAX_ABS]] * 50,
    }
    out = post(client, at_bound)  # 1e6 ** 50 = 1e300 ... and beyond: carried in log10
    assert out["log10_norm"]["spectral"][-1] == pytest.approx(50 * 6)


@pytest.mark.parametrize(
    "value", [[["a", "b"]], [[1.0, 2.0], [3.0]], [True, False], 5, {"x": 1}, [None]]
)
def test_tensors_must_be_rectangular_lists_of_numbers(client, value):
    refused(client, {"weights": {"target": value}}, "weights.target", "tensor_type")


@pytest.mark.parametrize("missing", ["weight_ih", "weight_hh", "bias_ih", "bias_hh"])
def test_the_four_parameters_come_together(client, missing):
    tensors = weights_of(client, **SMALL)
    del tensors[missing]
    error = refused(client, {**SMALL, "weights": tensors}, f"weights.{missing}", "missing")
    assert error["limit"]["shape"]


def test_a_peephole_lstm_needs_its_peepholes_and_only_it_takes_them(client):
    config = {**SMALL, "cell": "lstm", "peephole": True}
    tensors = weights_of(client, **config)
    without = {k: v for k, v in tensors.items() if k != "peephole"}
    error = refused(client, {**config, "weights": without}, "weights.peephole", "missing")
    assert error["limit"] == {"shape": [3, 5]}
    plain = {**config, "peephole": False, "weights": tensors}
    refused(client, plain, "weights.peephole", "tensor_unused")


def test_unknown_tensor_names_are_refused(client):
    refused(
        client, {"weights": {"weight_hh_l0": [[0.0]]}}, "weights.weight_hh_l0", "extra_forbidden"
    )


def test_c0_belongs_to_the_lstm_only(client):
    for cell in ("rnn", "gru"):
        error = refused(client, {**SMALL, "cell": cell, "weights": {"c0": [0.0] * 5}}, "weights.c0")
        assert error["type"] == "tensor_unused" and "lstm" in error["message"]
    assert post(client, {**SMALL, "cell": "lstm", "weights": {"c0": [0.0] * 5}})


def test_config_fields_keep_their_bounds_and_unknown_fields_are_refused(client):
    refused(client, {"hidden_size": 257}, "hidden_size", "less_than_equal")
    refused(client, {"seq_len": 0}, "seq_len", "greater_than_equal")
    refused(client, {"cell": "transformer"}, "cell", "literal_error")
    refused(client, {"hiden_size": 3}, "hiden_size", "extra_forbidden")
    refused(client, {"include": "everything"}, "include")
    r = client.post(URL, content='{"seq_len": 3,', headers={"content-type": "application/json"})
    [error] = strict_json(r.text)["errors"]
    assert r.status_code == 422 and error["type"] == "json_invalid" and error["field"] == "body"


@pytest.mark.parametrize(
    ("body", "field", "kind"),
    [
        ({"truncation": False}, "truncation", "int_type"),
        ({"truncation": True}, "truncation", "int_type"),
        ({"hidden_size": True}, "hidden_size", "int_type"),
        ({"seq_len": "10"}, "seq_len", "int_type"),
        ({"scale": "1.5"}, "scale", "float_type"),
        ({"keep_prob": True}, "keep_prob", "float_type"),
        ({"peephole": 1}, "peephole", "bool_type"),
        ({"peephole": "true"}, "peephole", "bool_type"),
    ],
)
def test_a_json_body_is_strict_booleans_and_strings_are_not_numbers(client, body, field, kind):
    """In JSON a number field takes a number and a switch true or false: the 422 names the
    field, in the one error shape, with the value as sent."""
    error = refused(client, {**SMALL, **body}, field, kind)
    assert set(error) == {"field", "message", "type", "limit", "input"}
    assert error["input"] == body[field]
    assert error["message"].startswith("Input should be a valid")


def test_a_json_number_for_a_float_field_may_be_an_integer(client):
    got = post(client, {**SMALL, "scale": 2, "clip_threshold": 3})
    assert got["config"]["scale"] == 2.0 and got["config"]["clip_threshold"] == 3.0


def test_url_queries_keep_parsing_their_strings(client):
    """The GET's values are strings by nature: "10", "true" and "1.5" are parsed as before."""
    got = get(client, seq_len="10", peephole="true", cell="lstm", scale="1.5", truncation="0")
    config = strict_json(got.text)["config"]
    assert config["seq_len"] == 10 and config["peephole"] is True
    assert config["scale"] == 1.5 and config["truncation"] == 0


def test_bodies_over_the_limit_are_refused_before_they_are_read(client):
    pad = " " * (MAX_BODY_BYTES + 1)
    error = refused(client, "{}" + pad, "body", "body_too_large", status=413)
    assert error["limit"] == {"max_bytes": MAX_BODY_BYTES}

    def chunks():  # no Content-Length: the stream itself is counted
        yield b"{"
        for _ in range(MAX_BODY_BYTES // 2**20 + 1):
            yield b" " * 2**20
        yield b"}"

    r = client.post(URL, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and strict_json(r.text)["errors"][0]["type"] == "body_too_large"


def test_the_largest_configuration_fits_the_body_limit():
    n, d, t_len = 256, 64, 1000
    rng = np.random.default_rng(0)
    shapes = [(4 * n, d), (4 * n, n), (4 * n,), (4 * n,), (3, n), (t_len, d), (n,), (n,), (n,)]
    tensors = [rng.standard_normal(s).tolist() for s in shapes]
    assert len(json.dumps(tensors)) < MAX_BODY_BYTES * 0.7


# --- the PyTorch script ---------------------------------------------------------------------

COMBOS = [
    dict(cell=c, nonlinearity=nl, peephole=p, gru_form=g)
    for c, nl, p, g in itertools.product(
        ("rnn", "lstm", "gru"), sorted(NONLINEARITIES), (False, True), ("pytorch", "lecture")
    )
]


def data_of(text: str) -> dict:
    """The literal assignments between the data markers, read without running anything."""
    begin = text.index(torch_script.DATA_BEGIN)
    end = text.index(torch_script.DATA_END)
    tree = ast.parse(text[begin:end])
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body}


def script_of(client, **params):
    r = get(client, f"{URL}/pytorch", **params)
    assert r.headers["content-type"].startswith("text/x-python")
    return r


@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: "-".join(map(str, c.values())))
def test_the_script_compiles_and_embeds_the_exact_tensors(client, combo):
    config = {**SMALL, **combo}
    text = script_of(client, **config).text
    compile(text, "script.py", "exec")
    data = data_of(text)
    api = strict_json(get(client, **config, include="weights").text)
    tensors = api["weights"]
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    if combo["cell"] == "lstm" and combo["peephole"]:
        names.append("peephole")
    assert data["PARAMS"] == {k: tensors[k] for k in names}
    assert data["INPUTS"] == tensors["inputs"] and data["H0"] == tensors["h0"]
    assert data["C0"] == tensors.get("c0")
    states = data["BPTTLAB_STATES"]  # z_0..z_T, z = (h, c) for the LSTM
    assert len(states) == config["seq_len"] + 1
    assert states[0] == tensors["h0"] + tensors.get("c0", [])
    assert data["BPTTLAB_SPECTRAL"] == api["log10_norm"]["spectral"]
    assert data["BPTTLAB_FROBENIUS"] == api["log10_norm"]["frobenius"]
    by_hand = (
        (combo["cell"] == "rnn" and combo["nonlinearity"] in ("sigmoid", "identity"))
        or (combo["cell"] == "lstm" and combo["peephole"])
        or (combo["cell"] == "gru" and combo["gru_form"] == "lecture")
    )
    assert ("by hand" in text) == by_hand
    if not by_hand:
        torch_cell = {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}[combo["cell"]]
        assert f"torch.nn.{torch_cell}(" in text and "load_state_dict(W)" in text


def test_the_script_keeps_zero_norms_and_extreme_floats_exact(client):
    config = {"nonlinearity": "relu", "hidden_size": 1, "input_size": 1, "seq_len": 40}
    config.update(input="zeros", seed=1)  # b_ih + b_hh < 0: the unit is off from step 1
    text = script_of(client, **config).text
    data = data_of(text)
    api = strict_json(get(client, **config).text)
    assert data["BPTTLAB_SPECTRAL"] == api["log10_norm"]["spectral"]
    assert None in data["BPTTLAB_SPECTRAL"]  # ReLU with zero drive: exactly zero products


def test_the_script_is_named_by_its_configuration(client):
    first = script_of(client, cell="gru", seq_len=10).headers["content-disposition"]
    again = script_of(client, seq_len=10, cell="gru", include="weights")
    other = script_of(client, cell="gru", seq_len=11).headers["content-disposition"]
    assert first == again.headers["content-disposition"] != other
    assert first.startswith('inline; filename="bpttlab_') and first.endswith('.py"')
    assert script_of(client).text == script_of(client).text  # same query, same bytes


def test_the_script_endpoint_validates_like_the_get(client):
    r = client.get(f"{URL}/pytorch", params={"seq_len": 1001})
    assert r.status_code == 422
    assert strict_json(r.text)["errors"][0]["field"] == "seq_len"
