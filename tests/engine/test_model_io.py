"""Reading PyTorch state_dicts (engine.model_io) from files the tests write themselves with
safetensors.numpy.save_file, np.savez and json, in PyTorch's exact names and shapes.

The names and shapes are written out here from PyTorch's documentation of nn.RNN / nn.LSTM /
nn.GRU (``weight_ih_l[k]``: (G*hidden_size, input_size) for k = 0, else
(G*hidden_size, num_directions*hidden_size); ``weight_hh_l[k]``: (G*hidden_size,
hidden_size); ``bias_ih_l[k]``, ``bias_hh_l[k]``: (G*hidden_size); the ``_reverse`` ones
"analogous ... for the reverse direction, only present when bidirectional=True"; G = 1, 4, 3
for RNN, LSTM (W_ii|W_if|W_ig|W_io), GRU (W_ir|W_iz|W_in)), checked against
engine.network.parameter_shapes, and the loaded model's numbers are checked against
engine.network run on the same weights directly.
"""

import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest
from safetensors.numpy import save_file

from bpttlab.engine.model_io import (
    ArchitectureError,
    FileFormatError,
    MissingTensorError,
    ModelFileError,
    NonFiniteTensorError,
    NonlinearityRequiredError,
    TensorDtypeError,
    TensorShapeError,
    UnknownTensorError,
    load_model,
    read_inputs,
)
from bpttlab.engine.network import (
    NetworkConfig,
    NetworkProblem,
    draw_network_problem,
    network,
    parameter_shapes,
)

GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # PyTorch's docs: G * hidden_size rows


def documented_shapes(cell, num_layers, bidirectional, hidden, inp):
    """PyTorch's state_dict of nn.RNN/LSTM/GRU as its documentation states it, in
    PyTorch's order (layer by layer, the forward direction then ``_reverse``; within one,
    weight_ih, weight_hh, bias_ih, bias_hh)."""
    g, dirs = GATES[cell], 2 if bidirectional else 1
    shapes = {}
    for k in range(num_layers):
        width = inp if k == 0 else dirs * hidden
        for suffix in ["", "_reverse"][:dirs]:
            shapes[f"weight_ih_l{k}{suffix}"] = (g * hidden, width)
            shapes[f"weight_hh_l{k}{suffix}"] = (g * hidden, hidden)
            shapes[f"bias_ih_l{k}{suffix}"] = (g * hidden,)
            shapes[f"bias_hh_l{k}{suffix}"] = (g * hidden,)
    return shapes


def state_dict(cell, num_layers, bidirectional, hidden=3, inp=2, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    shapes = documented_shapes(cell, num_layers, bidirectional, hidden, inp)
    return {k: rng.uniform(-0.6, 0.6, s).astype(dtype) for k, s in shapes.items()}


def write(tmp_path, tensors, fmt, name="model"):
    path = tmp_path / f"{name}.{fmt}"
    if fmt == "safetensors":
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path))
    elif fmt == "npz":
        np.savez(path, **tensors)
    else:
        path.write_text(json.dumps({k: np.asarray(v).tolist() for k, v in tensors.items()}))
    return path


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("bidi", [False, True])
def test_documented_names_are_the_engines(cell, layers, bidi):
    config = NetworkConfig(
        cell=cell, num_layers=layers, bidirectional=bidi, hidden_size=5, input_size=3
    )
    engine = {k: v for k, v in parameter_shapes(config).items() if not k.startswith("output.")}
    documented = documented_shapes(cell, layers, bidi, 5, 3)
    assert list(engine.items()) == list(documented.items())


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("bidi", [False, True])
def test_round_trip_gives_the_networks_numbers(tmp_path, cell, layers, bidi):
    """Every format, with and without a prefix and an output layer: the architecture is
    inferred, the weights are the file's (float32 widened exactly), and engine.network run
    on the loaded model equals engine.network run on the same weights given directly."""
    sd = state_dict(cell, layers, bidi)
    width = (2 if bidi else 1) * 3
    head = {
        "fc.weight": np.random.default_rng(9).uniform(-1, 1, (5, width)).astype(np.float32),
        "fc.bias": np.linspace(-1, 1, 5).astype(np.float32),
    }
    nonlin = "relu" if cell == "rnn" else None
    for fmt in ("safetensors", "npz", "json"):
        for prefix in ("", "lstm.", "encoder.rnn."):
            for with_head in (False, True):
                tensors = {prefix + k: v for k, v in sd.items()}
                if with_head:
                    tensors.update(head)
                path = write(tmp_path, tensors, fmt)
                m = load_model(path, nonlinearity=nonlin, seq_len=6, seed=4)
                c = m.config
                assert (c.cell, c.num_layers, c.bidirectional) == (cell, layers, bidi)
                assert (c.hidden_size, c.input_size, m.format) == (3, 2, fmt)
                assert m.architecture.prefix == prefix
                if cell == "rnn":
                    assert c.nonlinearity == "relu"
                for k, v in sd.items():
                    assert m.weights[k].dtype == np.float64
                    np.testing.assert_array_equal(m.weights[k], v.astype(np.float64))
                    assert m.source_names[k] == prefix + k
                if with_head:
                    assert m.output_source == "file" and c.vocab_size == 5
                    np.testing.assert_array_equal(m.weights["output.weight"], head["fc.weight"])
                    np.testing.assert_array_equal(m.weights["output.bias"], head["fc.bias"])
                else:
                    assert m.output_source == "drawn" and c.vocab_size == 8
                    drawn = draw_network_problem(c).weights
                    for k in ("output.weight", "output.bias"):
                        np.testing.assert_array_equal(m.weights[k], drawn[k])
                        assert m.source_names[k] == "drawn"
                    assert any("no output layer in the file" in note for note in m.notes)
        problem, origin = m.problem()
        assert origin == {"inputs": "drawn", "targets": "drawn"}
        direct = {k: np.asarray(v, dtype=np.float64) for k, v in sd.items()}
        direct["output.weight"] = head["fc.weight"].astype(np.float64)
        direct["output.bias"] = head["fc.bias"].astype(np.float64)
        drawn = draw_network_problem(m.config)
        expected = network(m.config, NetworkProblem(direct, drawn.inputs, drawn.targets))
        got = network(m.config, problem)
        assert got.loss == expected.loss
        for key, value in expected.gradient.layer_time.items():
            np.testing.assert_array_equal(got.gradient.layer_time[key], value)


def test_float16_and_float64_are_read_and_the_summary_says_what_was_found(tmp_path):
    sd = state_dict("gru", 2, True, dtype=np.float16)
    sd["weight_hh_l1"] = sd["weight_hh_l1"].astype(np.float64)
    m = load_model(write(tmp_path, {"gru." + k: v for k, v in sd.items()}, "safetensors"))
    assert m.dtypes["gru.weight_ih_l0"] == "float16"
    assert m.dtypes["gru.weight_hh_l1"] == "float64"
    s = m.summary()
    assert s["torch_class"] == "nn.GRU" and s["prefix"] == "gru."
    assert (s["hidden_size"], s["input_size"], s["num_layers"], s["bidirectional"]) == (
        3, 2, 2, True,
    )  # fmt: skip
    assert s["output_layer"] == "drawn" and s["nonlinearity"] is None


def test_a_dict_of_arrays_and_a_model_without_biases(tmp_path):
    sd = {k: v for k, v in state_dict("lstm", 2, False).items() if not k.startswith("bias")}
    m = load_model(sd, seq_len=4)
    assert m.format == "mapping" and not m.architecture.bias
    assert np.all(m.weights["bias_ih_l1"] == 0.0) and m.source_names["bias_hh_l0"] == "zeros"
    assert any("bias=False" in note for note in m.notes)


def test_an_output_layer_without_bias_reads_zero_bias():
    sd = state_dict("gru", 1, False)
    sd["head.weight"] = np.ones((3, 3), np.float32)
    m = load_model(sd)
    assert m.output_source == "file" and m.architecture.output_prefix == "head"
    np.testing.assert_array_equal(m.weights["output.bias"], np.zeros(3))


def _refused(error, tensors_or_path, match=None, **kw):
    with pytest.raises(error, match=match) as info:
        load_model(tensors_or_path, **kw)
    assert isinstance(info.value, ModelFileError) and isinstance(info.value, ValueError)
    return info.value


def test_proj_size_is_refused_naming_weight_hr():
    sd = state_dict("lstm", 1, False, hidden=4)
    sd["weight_hh_l0"] = np.zeros((16, 2), np.float32)  # (4 hidden, proj_size)
    sd["weight_hr_l0"] = np.zeros((2, 4), np.float32)  # (proj_size, hidden)
    err = _refused(ArchitectureError, sd, match="weight_hr_l0 .*proj_size")
    assert err.tensor == "weight_hr_l0" and err.actual == (2, 4)


def test_wrong_shapes_are_refused_naming_tensor_expected_and_actual(tmp_path):
    sd = state_dict("lstm", 2, True)
    sd["weight_hh_l1_reverse"] = np.zeros((12, 4), np.float32)
    err = _refused(TensorShapeError, write(tmp_path, sd, "npz"), match="weight_hh_l1_reverse")
    assert (err.tensor, err.expected, err.actual) == ("weight_hh_l1_reverse", (12, 3), (12, 4))
    assert "(12, 3)" in str(err) and "(12, 4)" in str(err)
    sd = state_dict("gru", 1, False)
    sd["weight_hh_l0"] = np.zeros((10, 3), np.float32)  # 10 rows: no gate count
    err = _refused(TensorShapeError, sd, match="G = 1")
    assert err.tensor == "weight_hh_l0" and err.actual == (10, 3)
    sd = state_dict("rnn", 1, False)
    sd["bias_ih_l0"] = np.zeros((3, 1), np.float32)
    err = _refused(TensorShapeError, sd, nonlinearity="tanh")
    assert (err.tensor, err.expected, err.actual) == ("bias_ih_l0", (3,), (3, 1))


def test_missing_and_extra_tensors_are_refused():
    sd = state_dict("lstm", 3, True)
    del sd["bias_hh_l1"]
    err = _refused(MissingTensorError, sd, match="bias_hh_l1 is missing")
    assert (err.tensor, err.expected, err.actual) == ("bias_hh_l1", (12,), "missing")
    sd = state_dict("gru", 2, True)
    for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        del sd[f"{kind}_l1_reverse"]  # layer 1 has no reverse direction
    err = _refused(MissingTensorError, sd)
    assert err.tensor == "weight_ih_l1_reverse"
    sd = state_dict("gru", 1, False)
    sd["embedding.weight"] = np.zeros((10, 2), np.float32)
    err = _refused(UnknownTensorError, sd, match="embedding.weight")
    assert err.tensor == "embedding.weight" and err.actual == (10, 2)
    assert load_model(sd, ignore=("embedding.weight",)).config.cell == "gru"
    assert _refused(MissingTensorError, {"fc.weight": np.zeros((2, 2))}).tensor == "weight_hh_l0"


def test_dtypes_and_values_that_are_not_finite_floats_are_refused(tmp_path):
    sd = state_dict("gru", 1, False)
    sd["bias_ih_l0"] = np.arange(9, dtype=np.int32)
    err = _refused(TensorDtypeError, write(tmp_path, sd, "safetensors"), match="int32")
    assert err.tensor == "bias_ih_l0" and err.actual == "int32"
    sd["bias_ih_l0"] = np.ones(9, dtype=bool)
    assert _refused(TensorDtypeError, write(tmp_path, sd, "npz")).actual == "bool"
    sd = state_dict("gru", 1, False)
    sd["weight_hh_l0"][4, 1] = np.nan
    err = _refused(NonFiniteTensorError, write(tmp_path, sd, "safetensors"), match=r"\(4, 1\)")
    assert err.tensor == "weight_hh_l0"
    sd["weight_hh_l0"][4, 1] = np.inf
    assert _refused(NonFiniteTensorError, write(tmp_path, sd, "json")).tensor == "weight_hh_l0"
    path = tmp_path / "strings.json"
    path.write_text(json.dumps({"weight_hh_l0": [["a"] * 3] * 9, "weight_ih_l0": [[0.0]] * 9}))
    assert _refused(TensorDtypeError, path).tensor == "weight_hh_l0"
    ragged = tmp_path / "ragged.json"
    ragged.write_text(json.dumps({"weight_hh_l0": [[1.0, 2.0], [3.0]]}))
    assert _refused(TensorShapeError, ragged).tensor == "weight_hh_l0"


class _Trap:
    """Unpickling this would create a directory: the reader must never unpickle."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_pickles_are_never_loaded(tmp_path):
    trap = tmp_path / "was_executed"
    renamed = tmp_path / "model.npz"
    renamed.write_bytes(pickle.dumps({"weight_hh_l0": _Trap(str(trap))}))
    err = _refused(FileFormatError, renamed, match="pickle")
    assert err.actual == "a pickle"
    torch_like = tmp_path / "torch.npz"  # torch.save writes a zip holding data.pkl
    with zipfile.ZipFile(torch_like, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(_Trap(str(trap))))
    _refused(FileFormatError, torch_like, match="torch.save")
    obj = tmp_path / "object.npz"
    with zipfile.ZipFile(obj, "w") as z:  # an .npy member holding a pickled object array
        with z.open("weight_hh_l0.npy", "w") as f:
            np.lib.format.write_array(f, np.array([_Trap(str(trap))], dtype=object))
    _refused(FileFormatError, obj, match="pickle")
    npy = tmp_path / "x.npy"
    np.save(npy, np.array([_Trap(str(trap))], dtype=object), allow_pickle=True)
    with pytest.raises(FileFormatError):
        read_inputs(npy, 2)
    assert not trap.exists()


def test_broken_safetensors_files_are_refused(tmp_path):
    good = write(tmp_path, state_dict("rnn", 1, False), "safetensors").read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good[:-7])
    _refused(FileFormatError, truncated, match="not a readable safetensors", nonlinearity="tanh")
    header = json.dumps({"weight_hh_l0": {"dtype": "F32", "shape": [100, 100],
                                          "data_offsets": [0, 40000]}}).encode()  # fmt: skip
    lying = tmp_path / "lying.safetensors"
    lying.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    _refused(FileFormatError, lying, nonlinearity="tanh")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\xff" * 64)
    _refused(FileFormatError, junk)
    bf16 = tmp_path / "bf16.safetensors"
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
    bf16.write_bytes(struct.pack("<Q", len(header)) + header + b"\x80\x3f\x00\x40")
    assert "float32" in str(_refused(TensorDtypeError, bf16))


def test_size_limit_suffix_and_json_shape(tmp_path):
    path = write(tmp_path, state_dict("gru", 1, False), "npz")
    err = _refused(FileFormatError, path, max_bytes=100)
    assert err.expected == 100 and err.actual == path.stat().st_size
    other = tmp_path / "model.pt"
    other.write_bytes(b"x")
    _refused(FileFormatError, other, match=r"\.pt")
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    _refused(FileFormatError, listed, match="object")


def test_architecture_choices_and_their_refusals():
    sd = state_dict("rnn", 2, False)
    err = _refused(NonlinearityRequiredError, sd, match="nonlinearity")
    assert err.expected == ["tanh", "relu"]
    _refused(ArchitectureError, sd, nonlinearity="sigmoid")
    _refused(ArchitectureError, state_dict("lstm", 1, False), nonlinearity="relu")
    _refused(ArchitectureError, state_dict("lstm", 1, False), cell="gru")
    two = {"enc." + k: v for k, v in sd.items()} | {"dec." + k: v for k, v in sd.items()}
    err = _refused(ArchitectureError, two, match="several recurrent modules")
    assert err.actual == ["dec.", "enc."]
    assert load_model(two, prefix="dec.", nonlinearity="tanh", ignore=tuple(
        "enc." + k for k in sd)).architecture.prefix == "dec."  # fmt: skip
    heads = dict(sd) | {"a.weight": np.zeros((4, 3)), "b.weight": np.zeros((5, 3))}
    _refused(ArchitectureError, heads, nonlinearity="tanh", match="several tensors")
    m = load_model(heads, nonlinearity="tanh", output="b", ignore=("a.weight",))
    assert m.config.vocab_size == 5
    big = dict(sd) | {"fc.weight": np.zeros((100, 3)), "fc.bias": np.zeros(100)}
    err = _refused(ArchitectureError, big, nonlinearity="tanh", match="2..64")
    assert err.tensor == "fc.weight" and err.actual == (100, 3)
    m = load_model(big, nonlinearity="tanh", output="none", ignore=("fc.weight", "fc.bias"))
    assert m.output_source == "drawn"
    nine = state_dict("gru", 1, False)
    nine["weight_hh_l8"] = nine["weight_hh_l0"]
    assert _refused(ArchitectureError, nine, match="at most 8").actual == 9


def test_inputs_from_npy(tmp_path):
    x = np.random.default_rng(0).standard_normal((7, 3))
    np.save(tmp_path / "x.npy", x)
    np.testing.assert_array_equal(read_inputs(tmp_path / "x.npy", 3), x[None])
    batch = np.arange(2 * 5 * 3, dtype=np.int16).reshape(2, 5, 3)
    got = read_inputs(batch, 3)
    assert got.dtype == np.float64 and got.shape == (2, 5, 3)
    cases = [
        (np.zeros((7, 4)), TensorShapeError, ("T", 3), (7, 4)),
        (np.zeros(7), TensorShapeError, ("T", 3), (7,)),
        (np.zeros((1, 2, 3, 3)), TensorShapeError, ("T", 3), (1, 2, 3, 3)),
        (np.zeros((7, 3), bool), TensorDtypeError, "float", "bool"),
    ]
    for array, error, expected, actual in cases:
        with pytest.raises(error) as info:
            read_inputs(array, 3)
        assert (info.value.tensor, info.value.expected, info.value.actual) == (
            "inputs", expected, actual,
        )  # fmt: skip
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(NonFiniteTensorError, match=r"\(0, 2, 1\)"):
        read_inputs(bad, 3)
    with pytest.raises(TensorShapeError, match="limit is 5"):
        read_inputs(x, 3, max_steps=5)
    with pytest.raises(TensorShapeError, match="limit is 1"):
        read_inputs(batch, 3, max_batch=1)
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(FileFormatError):
        read_inputs(tmp_path / "junk.npy", 3)


def test_given_inputs_and_targets_feed_the_problem():
    m = load_model(state_dict("lstm", 2, True, inp=3), seq_len=7, loss="last")
    x = read_inputs(np.ones((7, 3)), m.config.input_size)[0]
    problem, origin = m.problem(x, np.array([2]))
    assert origin == {"inputs": "given", "targets": "given"}
    assert network(m.config, problem).loss > 0.0
    with pytest.raises(TensorShapeError) as info:
        m.problem(np.ones((6, 3)))
    assert info.value.expected == (7, 3) and info.value.actual == (6, 3)
    with pytest.raises(TensorShapeError):
        m.problem(targets=np.array([8]))
