"""GET /api/v1/network/pytorch: the script compiles, embeds the exact tensors and BPTT Lab's
maps (read back with ast.literal_eval, without torch), builds the torch.nn module with
num_layers and bidirectional and loads the exported state_dict; configurations torch.nn
cannot express are refused naming the field. torch is not installed here: the script's run
is not executed (as for the explorer's script, tests/server/test_interop.py)."""

import ast
import itertools

import pytest

from bpttlab.server import torch_script

from .conftest import strict_json

URL = "/api/v1/network"
SMALL = {"hidden_size": 3, "input_size": 2, "seq_len": 4, "vocab_size": 3}


def data_of(text: str) -> dict:
    begin = text.index(torch_script.DATA_BEGIN)
    end = text.index(torch_script.DATA_END)
    tree = ast.parse(text[begin:end])
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body}


COMBOS = [
    {"cell": c, "nonlinearity": nl, "num_layers": layers, "bidirectional": bi, "skip": skip}
    for c, nl, layers, bi, skip in itertools.product(
        ("rnn", "lstm", "gru"), ("tanh", "relu"), (1, 2), (False, True), ("none", "residual")
    )
    if not (c != "rnn" and nl == "relu") and not (layers == 1 and skip == "residual")
]


@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: "-".join(map(str, c.values())))
def test_the_script_compiles_and_embeds_the_exact_tensors_and_maps(client, combo):
    params = {k: str(v).lower() for k, v in {**SMALL, **combo}.items()}
    r = client.get(f"{URL}/pytorch", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/x-python")
    text = r.text
    compile(text, "script.py", "exec")
    data = data_of(text)
    api = strict_json(client.get(URL, params={**params, "include": "weights"}).text)
    w = api["weights"]
    assert data["STATE_DICT"] == w["rnn"] and list(data["STATE_DICT"]) == list(w["rnn"])
    assert data["OUTPUT_WEIGHT"] == w["output"]["weight"]
    assert data["OUTPUT_BIAS"] == w["output"]["bias"]
    assert data["INPUTS"] == w["inputs"] and data["TARGETS"] == w["targets"]
    assert data["BPTTLAB_LOSS"] == api["loss"]
    assert data["BPTTLAB_LAYER_TIME"] == api["layer_time"]
    assert data["BPTTLAB_INFLUENCE"] == api["influence"]
    assert data["BPTTLAB_TERMS"] == api["terms"]
    assert "torch.func.functional_call" in text  # the terms: W_hh swapped at one step
    cls = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[combo["cell"]]
    extra = f", nonlinearity='{combo['nonlinearity']}'" if combo["cell"] == "rnn" else ""
    built = (
        f"torch.nn.{cls}({SMALL['input_size']}, {SMALL['hidden_size']}, "
        f"num_layers={combo['num_layers']}{extra}, bidirectional={combo['bidirectional']})"
    )
    assert built in text
    assert "network.load_state_dict(" in text
    assert ("whole torch.nn module" in text) == (combo["skip"] == "none")
    assert f"CELL, L, BI, SKIP, LOSS = {combo['cell']!r}, {combo['num_layers']}" in text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cell": "rnn", "nonlinearity": "sigmoid"}, "nonlinearity"),
        ({"cell": "rnn", "nonlinearity": "identity"}, "nonlinearity"),
        ({"cell": "gru", "gru_form": "lecture"}, "gru_form"),
        ({"num_layers": 9}, "num_layers"),
    ],
)
def test_what_torch_nn_cannot_build_is_refused_naming_the_field(client, params, field):
    r = client.get(f"{URL}/pytorch", params=params)
    assert r.status_code == 422
    error = strict_json(r.text)["errors"][0]
    assert error["field"] == field


def test_the_torch_module_is_named_in_the_summary_or_null(client):
    def module(**params):
        return strict_json(client.get(URL, params={**SMALL, **params}).text)["summary"][
            "torch_module"
        ]

    assert module(cell="lstm", bidirectional="true").startswith("torch.nn.LSTM(2, 3, num_layers=2")
    assert module(cell="rnn", nonlinearity="sigmoid") is None
    assert module(cell="gru", gru_form="lecture") is None


def test_the_script_is_named_by_its_configuration_and_is_deterministic(client):
    a = client.get(f"{URL}/pytorch", params=SMALL)
    b = client.get(f"{URL}/pytorch", params={**SMALL, "include": "weights"})
    c = client.get(f"{URL}/pytorch", params={**SMALL, "seq_len": 5})
    disposition = a.headers["content-disposition"]
    assert disposition == b.headers["content-disposition"] != c.headers["content-disposition"]
    assert a.text == client.get(f"{URL}/pytorch", params=SMALL).text
