"""A trained torch.nn.RNN / LSTM / GRU read from its state_dict, without torch and without
pickle, into engine.network's NetworkConfig and weights; and the user's input sequences.

Files: ``.safetensors`` (safetensors' NumPy API), ``.npz`` (``np.load(allow_pickle=False)``)
or ``.json`` (``{name: nested lists}``). Nothing in a file is ever executed or unpickled.

The architecture is read from PyTorch's names and shapes (``weight_ih_l{k}``,
``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, ``_reverse`` for the second
direction), after one common prefix that a model's state_dict carries (``rnn.``, ``lstm.``,
``encoder.``, ...):

    weight_hh_l0 : (G n, n)       G = 1 nn.RNN, 3 nn.GRU, 4 nn.LSTM, n the hidden size
    weight_ih_l0 : (G n, d)       d the input size; layers k >= 1 read D n (D = 2 directions)
    num_layers = 1 + the largest k; bidirectional when any name ends in ``_reverse``

An nn.RNN's nonlinearity (tanh or relu) is not in its state_dict: it is a required argument.
An LSTM with ``proj_size`` (``weight_hr_l{k}``) is refused. An output layer, a pair
``<name>.weight`` (V, D n) and ``<name>.bias`` (V,) (an nn.Linear on the top layer's
output), gives the sequence loss's logits when present; otherwise the output layer is drawn
from the seed exactly as engine.network.draw_network_problem draws it, and the result says
so (``output_source``).

Every refusal is a ModelFileError (a ValueError) whose ``tensor``, ``expected`` and
``actual`` say what was wrong, and whose message says it in words.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .network import (
    LOSSES,
    MAX_LAYERS,
    NetworkConfig,
    NetworkProblem,
    draw_output_and_data,
    parameter_shapes,
)

FORMATS = ("safetensors", "npz", "json")
RNN_NONLINEARITIES = ("tanh", "relu")  # torch.nn.RNN's choices
CELL_BY_GATES = {1: "rnn", 4: "lstm", 3: "gru"}
TORCH_CLASS = {"rnn": "nn.RNN", "lstm": "nn.LSTM", "gru": "nn.GRU"}
FLOAT_DTYPES = ("float16", "float32", "float64")
_RECURRENT = re.compile(
    r"^(?P<prefix>.*?)(?P<kind>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)"
    r"_l(?P<layer>\d+)(?P<reverse>_reverse)?$"
)
_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class ModelFileError(ValueError):
    """A state_dict or input file refused. tensor : the name concerned (None for the file
    as a whole); expected, actual : what was required and what was found (shapes as
    tuples, or words)."""

    def __init__(self, message: str, *, tensor: str | None = None, expected: Any = None,
                 actual: Any = None):  # fmt: skip
        super().__init__(message)
        self.tensor, self.expected, self.actual = tensor, expected, actual


class FileFormatError(ModelFileError):
    """The file is not a readable safetensors / npz / JSON state_dict (or is too large)."""


class TensorDtypeError(ModelFileError):
    """A tensor that is not floating point (or a float NumPy cannot hold, bfloat16)."""


class NonFiniteTensorError(ModelFileError):
    """A tensor holding NaN or infinity."""


class TensorShapeError(ModelFileError):
    """A tensor whose shape differs from the one the architecture requires."""


class MissingTensorError(ModelFileError):
    """A tensor the architecture requires is absent."""


class UnknownTensorError(ModelFileError):
    """Tensors that belong to no recurrent layer nor to the output layer."""


class ArchitectureError(ModelFileError):
    """The architecture cannot be inferred, or is one the engine does not run (proj_size,
    more than MAX_LAYERS layers, an output layer of another size)."""


class NonlinearityRequiredError(ModelFileError):
    """An nn.RNN whose nonlinearity was not given (a state_dict does not record it)."""


# ----------------------------------------------------------------------------- reading


def read_tensors(
    source: str | os.PathLike | bytes | Mapping[str, Any], *, format: str | None = None,
    max_bytes: int | None = None,
) -> tuple[dict[str, np.ndarray], str]:  # fmt: skip
    """The file's tensors by name, as stored (no conversion yet), and the format read.

    source : a path (the format from its suffix unless ``format`` is given), the file's
    bytes (``format`` required), or a mapping name -> array (NumPy arrays, nested lists or
    torch tensors, which are converted by their own ``.numpy()`` without importing torch;
    format "mapping"). max_bytes : a file (or, for .npz, its uncompressed members) larger
    than this is refused before it is read."""
    if isinstance(source, Mapping):
        return {str(k): _as_array(k, v) for k, v in source.items()}, "mapping"
    if isinstance(source, bytes | bytearray):
        if format is None:
            raise FileFormatError(f"the format of bytes must be given: one of {list(FORMATS)}")
        data, name = bytes(source), "<bytes>"
    else:
        path = Path(source)
        if format is None:
            format = path.suffix.lower().lstrip(".")
        if format not in FORMATS:
            raise FileFormatError(
                f"{path.name}: unknown file type {path.suffix!r}; expected one of "
                f"{['.' + f for f in FORMATS]}",
                expected=list(FORMATS), actual=path.suffix,
            )  # fmt: skip
        size = path.stat().st_size
        _check_size(size, max_bytes, path.name)
        data, name = path.read_bytes(), path.name
    if format not in FORMATS:
        raise FileFormatError(f"format must be one of {list(FORMATS)}", actual=format)
    _check_size(len(data), max_bytes, name)
    reader = {"safetensors": _read_safetensors, "npz": _read_npz, "json": _read_json}[format]
    return reader(data, name, max_bytes), format


def _check_size(size: int, max_bytes: int | None, name: str) -> None:
    if max_bytes is not None and size > max_bytes:
        raise FileFormatError(
            f"{name}: {size} bytes is over the limit of {max_bytes} bytes",
            expected=max_bytes, actual=size,
        )  # fmt: skip


def _as_array(name: Any, value: Any) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor, duck-typed
        value = value.detach().cpu()
        if str(getattr(value, "dtype", "")) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    try:
        return np.asarray(value)
    except ValueError as err:  # ragged nested lists
        raise TensorShapeError(
            f"tensor {name!r} is not a rectangular array ({err})", tensor=str(name),
            expected="a rectangular array", actual="ragged nested lists",
        ) from None  # fmt: skip


_SAFETENSORS_DTYPES = {
    "F16": "<f2", "F32": "<f4", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4",
    "I64": "<i8", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?",
}  # fmt: skip


def _read_safetensors(data: bytes, name: str, max_bytes: int | None) -> dict[str, np.ndarray]:
    """By safetensors' own parser (which checks the header against the bytes), each tensor
    then viewed as a NumPy array; a dtype NumPy has not (BF16, F8) is refused by name."""
    from safetensors import SafetensorError
    from safetensors.numpy import deserialize

    try:
        entries = deserialize(data)
    except SafetensorError as err:
        raise FileFormatError(
            f"{name} is not a readable safetensors file: {err}",
            expected="a safetensors file", actual=str(err),
        ) from None  # fmt: skip
    out = {}
    for key, entry in entries:
        dtype = _SAFETENSORS_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise TensorDtypeError(
                f"{key} has dtype {entry['dtype']}, which NumPy cannot hold; save the model in "
                "float32 (model.float()) before save_file",
                tensor=key, expected=list(FLOAT_DTYPES), actual=entry["dtype"],
            )  # fmt: skip
        out[key] = np.frombuffer(entry["data"], dtype=dtype).reshape(entry["shape"])
    return out


def _read_npz(data: bytes, name: str, max_bytes: int | None) -> dict[str, np.ndarray]:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        what = "a pickle" if data[:1] == b"\x80" else "not a zip archive"
        raise FileFormatError(
            f"{name} is not an .npz archive ({what}); pickled files are never loaded: save "
            "with np.savez or safetensors",
            expected="an .npz (zip) archive of .npy arrays", actual=what,
        )  # fmt: skip
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        if max_bytes is not None:
            _check_size(sum(m.file_size for m in members), max_bytes, f"{name} (uncompressed)")
        others = [m.filename for m in members if not m.filename.endswith(".npy")]
        if others:
            torch_like = any(f.endswith("data.pkl") for f in others)
            raise FileFormatError(
                f"{name} holds members that are not .npy arrays: {others[:5]}"
                + (" (a torch.save archive: it is a pickle and is never loaded; save "
                   "with safetensors' save_file instead)" if torch_like else ""),
                expected="only .npy members", actual=others[:5],
            )  # fmt: skip
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except ValueError as err:  # object arrays need pickle
        raise FileFormatError(
            f"{name}: {err} (pickled arrays are never loaded)",
            expected="numeric .npy arrays", actual="an object array",
        ) from None  # fmt: skip
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise FileFormatError(f"{name} is not a readable .npz archive: {err}") from None


def _read_json(data: bytes, name: str, max_bytes: int | None) -> dict[str, np.ndarray]:
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FileFormatError(f"{name} is not valid JSON: {err}") from None
    if not isinstance(obj, dict):
        raise FileFormatError(
            f"{name}: the JSON must be an object {{name: nested lists}}",
            expected="an object", actual=type(obj).__name__,
        )  # fmt: skip
    return {k: _as_array(k, v) for k, v in obj.items()}


# ----------------------------------------------------------------------- architecture


@dataclass(frozen=True)
class Architecture:
    """What the names and shapes say. cell : rnn | lstm | gru; prefix : the common prefix
    of the recurrent tensors ("" for none); output_prefix : the output layer's name
    (``fc`` for ``fc.weight``) or None; output_bias : whether it has a bias; bias : whether
    the recurrent layers have biases (nn.LSTM(bias=False) has none)."""

    cell: str
    hidden_size: int
    input_size: int
    num_layers: int
    bidirectional: bool
    prefix: str
    bias: bool
    output_prefix: str | None
    output_size: int | None  # V, the output layer's rows
    output_bias: bool


@dataclass(frozen=True)
class LoadedModel:
    """A state_dict mapped onto engine.network.

    config : NetworkConfig (seq_len, loss, seed as asked; vocab_size = V of the file's
        output layer, or of the drawn one); weights : {engine name: float64 array}, the
        names of engine.network.parameter_shapes; source_names : {engine name: the file's
        name, or "drawn" / "zeros"}; output_source : "file" (the file's output layer) or
        "drawn" (none in the file: drawn from the seed as draw_network_problem draws it);
        architecture; format; notes : what was inferred and from which tensor, in words.
    """

    config: NetworkConfig
    weights: dict[str, np.ndarray]
    source_names: dict[str, str]
    output_source: str
    architecture: Architecture
    format: str
    dtypes: dict[str, str]
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        """The inferred architecture as plain values, to be shown back to the user."""
        a = self.architecture
        return {
            "cell": a.cell,
            "torch_class": TORCH_CLASS[a.cell],
            "nonlinearity": self.config.nonlinearity if a.cell == "rnn" else None,
            "hidden_size": a.hidden_size,
            "input_size": a.input_size,
            "num_layers": a.num_layers,
            "bidirectional": a.bidirectional,
            "bias": a.bias,
            "prefix": a.prefix,
            "output_layer": self.output_source,
            "output_name": a.output_prefix,
            "vocab_size": self.config.vocab_size,
            "format": self.format,
            "notes": list(self.notes),
        }

    def problem(
        self, inputs: np.ndarray | None = None, targets: np.ndarray | None = None
    ) -> tuple[NetworkProblem, dict[str, str]]:
        """A NetworkProblem for engine.network.network: inputs (T, d) (drawn from the seed
        as draw_network_problem draws them when None), targets (drawn likewise when None).
        Returns the problem and {"inputs": "given"|"drawn", "targets": ...}."""
        config = self.config
        _, drawn_inputs, drawn_targets = draw_output_and_data(config)
        if inputs is not None:
            inputs = np.asarray(inputs, dtype=float)
            if inputs.shape != (config.seq_len, config.input_size):
                raise TensorShapeError(
                    f"inputs must be (T, d) = {(config.seq_len, config.input_size)}, got "
                    f"{inputs.shape}", tensor="inputs",
                    expected=(config.seq_len, config.input_size), actual=inputs.shape,
                )  # fmt: skip
        count = config.seq_len if config.loss == "every" else 1
        if targets is not None:
            targets = np.asarray(targets)
            ok = targets.shape == (count,) and np.issubdtype(targets.dtype, np.integer)
            if not ok or np.any((targets < 0) | (targets >= config.vocab_size)):
                raise TensorShapeError(
                    f"targets must be {count} integers in 0..{config.vocab_size - 1}",
                    tensor="targets", expected=(count,), actual=targets.shape,
                )  # fmt: skip
        origin = {
            "inputs": "drawn" if inputs is None else "given",
            "targets": "drawn" if targets is None else "given",
        }
        problem = NetworkProblem(
            self.weights,
            drawn_inputs if inputs is None else inputs,
            drawn_targets if targets is None else targets,
        )
        return problem, origin


def infer_architecture(
    tensors: Mapping[str, np.ndarray], *, prefix: str | None = None,
    output: str | None = None, ignore: tuple[str, ...] = (),
) -> Architecture:  # fmt: skip
    """The architecture from the names and shapes (see the module). prefix : the recurrent
    tensors' prefix when the file holds several recurrent modules; output : the output
    layer's name (``fc``) when several pairs could be it, or "none" to ignore any;
    ignore : names to leave out (an embedding, say)."""
    names = [k for k in tensors if k not in set(ignore)]
    found: dict[str, list[tuple[str, int, int]]] = {}
    for name in names:
        m = _RECURRENT.match(name)
        if m:
            d = 1 if m["reverse"] else 0
            found.setdefault(m["prefix"], []).append((m["kind"], int(m["layer"]), d))
    if not found:
        raise MissingTensorError(
            "no recurrent layer found: expected PyTorch's names such as weight_ih_l0, "
            "weight_hh_l0 (optionally after a prefix such as 'lstm.')",
            tensor="weight_hh_l0", expected="weight_ih_l0, weight_hh_l0, ...",
            actual=sorted(names)[:10],
        )  # fmt: skip
    if prefix is None:
        if len(found) > 1:
            raise ArchitectureError(
                f"the file holds several recurrent modules, prefixes {sorted(found)}: "
                "choose one with prefix=",
                expected="one prefix", actual=sorted(found),
            )  # fmt: skip
        prefix = next(iter(found))
    if prefix not in found:
        raise ArchitectureError(
            f"prefix {prefix!r} not found; the file's are {sorted(found)}",
            expected=sorted(found), actual=prefix,
        )  # fmt: skip
    entries = found[prefix]
    for kind, layer, d in entries:
        if kind == "weight_hr":
            name = f"{prefix}weight_hr_l{layer}" + ("_reverse" if d else "")
            raise ArchitectureError(
                f"{name} {tuple(np.shape(tensors[name]))}: an LSTM with proj_size is not "
                "supported (its hidden state is projected to proj_size; the engine runs "
                "nn.LSTM with proj_size=0)",
                tensor=name, expected="no weight_hr (proj_size=0)",
                actual=tuple(np.shape(tensors[name])),
            )  # fmt: skip
    w_hh_name = prefix + "weight_hh_l0"
    if w_hh_name not in tensors:
        raise MissingTensorError(
            f"{w_hh_name} is missing: the cell and hidden size are read from it",
            tensor=w_hh_name, expected="(G n, n)", actual="missing",
        )  # fmt: skip
    w_hh = np.shape(tensors[w_hh_name])
    rows, n = (w_hh[0], w_hh[1]) if len(w_hh) == 2 else (0, 0)
    gates = rows // n if n and rows % n == 0 else 0
    if gates not in CELL_BY_GATES:
        raise TensorShapeError(
            f"{w_hh_name} has shape {tuple(w_hh)}: expected (G n, n) with G = 1 (nn.RNN), "
            "3 (nn.GRU) or 4 (nn.LSTM) gate blocks of n rows",
            tensor=w_hh_name, expected="(G n, n), G in {1, 3, 4}", actual=tuple(w_hh),
        )  # fmt: skip
    cell = CELL_BY_GATES[gates]
    w_ih_name = prefix + "weight_ih_l0"
    if w_ih_name not in tensors:
        raise MissingTensorError(
            f"{w_ih_name} is missing: the input size is read from it",
            tensor=w_ih_name, expected=f"({gates * n}, d)", actual="missing",
        )  # fmt: skip
    w_ih = np.shape(tensors[w_ih_name])
    if len(w_ih) != 2 or w_ih[0] != gates * n or w_ih[1] < 1:
        raise TensorShapeError(
            f"{w_ih_name} has shape {tuple(w_ih)}, expected ({gates * n}, d)",
            tensor=w_ih_name, expected=(gates * n, "d"), actual=tuple(w_ih),
        )  # fmt: skip
    num_layers = 1 + max(layer for _, layer, _ in entries)
    if num_layers > MAX_LAYERS:
        raise ArchitectureError(
            f"{num_layers} layers (up to weight_hh_l{num_layers - 1}): at most {MAX_LAYERS}",
            tensor=f"{prefix}weight_hh_l{num_layers - 1}", expected=MAX_LAYERS,
            actual=num_layers,
        )  # fmt: skip
    bidirectional = any(d for _, _, d in entries)
    bias = any(kind.startswith("bias") for kind, _, _ in entries)
    out_prefix, out_rows, out_bias = _find_output(
        tensors, names, prefix, (2 if bidirectional else 1) * n, output
    )
    return Architecture(
        cell=cell, hidden_size=n, input_size=int(w_ih[1]), num_layers=num_layers,
        bidirectional=bidirectional, prefix=prefix, bias=bias, output_prefix=out_prefix,
        output_size=out_rows, output_bias=out_bias,
    )  # fmt: skip


def _find_output(tensors, names, prefix, width, output):
    """(name, V, has bias) of the output layer, or (None, None, False)."""
    if output == "none":
        return None, None, False
    pairs = {}
    for name in names:
        if name.endswith(".weight") and not _RECURRENT.match(name):
            stem = name[: -len(".weight")]
            shape = np.shape(tensors[name])
            if len(shape) == 2 and shape[1] == width:
                pairs[stem] = int(shape[0])
    if output is not None:
        if output not in pairs:
            w = output + ".weight"
            actual = tuple(np.shape(tensors[w])) if w in tensors else "missing"
            raise TensorShapeError(
                f"output layer {w}: expected shape (V, {width}) (V classes by the top "
                f"layer's D n = {width} outputs), got {actual}",
                tensor=w, expected=("V", width), actual=actual,
            )  # fmt: skip
        stem = output
    elif not pairs:
        return None, None, False
    elif len(pairs) > 1:
        raise ArchitectureError(
            f"several tensors could be the output layer: {sorted(p + '.weight' for p in pairs)};"
            " choose one with output=",
            expected="one output layer", actual=sorted(pairs),
        )  # fmt: skip
    else:
        stem = next(iter(pairs))
    return stem, pairs[stem], (stem + ".bias") in tensors


# ------------------------------------------------------------------------ the model


def load_model(
    source: str | os.PathLike | bytes | Mapping[str, Any], *, nonlinearity: str | None = None,
    seq_len: int = 100, loss: str = "every", seed: int = 0, vocab_size: int = 8,
    format: str | None = None, prefix: str | None = None, output: str | None = None,
    ignore: tuple[str, ...] = (), cell: str | None = None, max_bytes: int | None = None,
) -> LoadedModel:  # fmt: skip
    """Read a state_dict (see read_tensors) and map it onto engine.network.

    nonlinearity : tanh | relu, required for an nn.RNN (refused for the gated cells, whose
    nonlinearities are fixed); seq_len, loss, seed : the problem's (engine.network);
    vocab_size : V of the drawn output layer when the file has none (the file's V
    otherwise, which must be in 2..64); cell : when given, checked against the inferred
    one. See infer_architecture for prefix, output and ignore."""
    tensors, fmt = read_tensors(source, format=format, max_bytes=max_bytes)
    arch = infer_architecture(tensors, prefix=prefix, output=output, ignore=ignore)
    if cell is not None and cell != arch.cell:
        raise ArchitectureError(
            f"cell={cell!r} was given but weight_hh_l0's {_rows_phrase(arch)} rows "
            f"say {arch.cell!r}", tensor=arch.prefix + "weight_hh_l0", expected=cell,
            actual=arch.cell,
        )  # fmt: skip
    if arch.cell == "rnn":
        if nonlinearity is None:
            raise NonlinearityRequiredError(
                "an nn.RNN's nonlinearity is not stored in its state_dict: give "
                f"nonlinearity= one of {list(RNN_NONLINEARITIES)}",
                tensor=arch.prefix + "weight_hh_l0", expected=list(RNN_NONLINEARITIES),
                actual=None,
            )  # fmt: skip
        if nonlinearity not in RNN_NONLINEARITIES:
            raise ArchitectureError(
                f"nonlinearity must be one of {list(RNN_NONLINEARITIES)} (torch.nn.RNN's)",
                expected=list(RNN_NONLINEARITIES), actual=nonlinearity,
            )  # fmt: skip
    elif nonlinearity not in (None, "tanh"):
        raise ArchitectureError(
            f"nonlinearity applies to nn.RNN only; this is {TORCH_CLASS[arch.cell]}",
            expected=None, actual=nonlinearity,
        )  # fmt: skip
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {list(LOSSES)}")
    v = arch.output_size if arch.output_prefix is not None else vocab_size
    if arch.output_prefix is not None and not 2 <= v <= 64:
        w = arch.output_prefix + ".weight"
        raise ArchitectureError(
            f"{w} {tuple(np.shape(tensors[w]))}: the sequence loss's softmax takes 2..64 "
            f"classes, this layer has {v}; pass output='none', ignore=({w!r}, "
            f"'{arch.output_prefix}.bias') to analyse the recurrent layers with a drawn "
            "output layer",
            tensor=w, expected="V in 2..64", actual=tuple(np.shape(tensors[w])),
        )  # fmt: skip
    config = NetworkConfig(
        cell=arch.cell, nonlinearity=nonlinearity or "tanh", hidden_size=arch.hidden_size,
        input_size=arch.input_size, seq_len=seq_len, num_layers=arch.num_layers,
        bidirectional=arch.bidirectional, loss=loss, vocab_size=v, seed=seed,
    )  # fmt: skip
    weights, sources, dtypes = _map_weights(config, arch, tensors, ignore)
    notes = _notes(arch, config, fmt)
    return LoadedModel(
        config=config, weights=weights, source_names=sources,
        output_source="file" if arch.output_prefix is not None else "drawn",
        architecture=arch, format=fmt, dtypes=dtypes, notes=notes,
    )  # fmt: skip


def _rows_phrase(arch: Architecture) -> str:
    """``4 x 512`` for an LSTM of hidden size 512: weight_hh's gate blocks."""
    g = {v: k for k, v in CELL_BY_GATES.items()}[arch.cell]
    return f"{g} x {arch.hidden_size}"


def _map_weights(config, arch, tensors, ignore):
    """Every tensor checked (presence, shape, dtype, finite) and renamed to the engine's."""
    shapes = parameter_shapes(config)
    weights: dict[str, np.ndarray] = {}
    sources: dict[str, str] = {}
    dtypes: dict[str, str] = {}
    used: set[str] = set(ignore)
    drawn = None
    for engine_name, shape in shapes.items():
        if engine_name.startswith("output."):
            if arch.output_prefix is None:
                if drawn is None:
                    drawn = draw_output_and_data(config)[0]
                weights[engine_name], sources[engine_name] = drawn[engine_name], "drawn"
                continue
            file_name = arch.output_prefix + engine_name[len("output") :]
            if engine_name == "output.bias" and not arch.output_bias:
                weights[engine_name], sources[engine_name] = np.zeros(shape), "zeros"
                continue
        else:
            file_name = arch.prefix + engine_name
            if engine_name.startswith("bias") and not arch.bias:
                weights[engine_name], sources[engine_name] = np.zeros(shape), "zeros"
                continue
        if file_name not in tensors:
            raise MissingTensorError(
                f"{file_name} is missing: a {TORCH_CLASS[config.cell]} with "
                f"num_layers={config.num_layers}, bidirectional={config.bidirectional} has "
                f"it, of shape {shape}", tensor=file_name, expected=shape, actual="missing",
            )  # fmt: skip
        weights[engine_name] = _checked(file_name, tensors[file_name], shape)
        sources[engine_name] = file_name
        dtypes[file_name] = str(np.asarray(tensors[file_name]).dtype)
        used.add(file_name)
    extra = sorted(set(tensors) - used)
    if extra:
        shown = ", ".join(f"{k} {tuple(np.shape(tensors[k]))}" for k in extra[:8])
        raise UnknownTensorError(
            f"tensors that belong to no layer of this {TORCH_CLASS[config.cell]}"
            f"(num_layers={config.num_layers}, bidirectional={config.bidirectional}) nor to "
            f"its output layer: {shown}; remove them or pass ignore=",
            tensor=extra[0], expected="none", actual=tuple(np.shape(tensors[extra[0]])),
        )  # fmt: skip
    return weights, sources, dtypes


def _checked(name: str, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    value = np.asarray(value)
    if value.shape != shape:
        raise TensorShapeError(
            f"{name} has shape {value.shape}, expected {shape}",
            tensor=name, expected=shape, actual=value.shape,
        )  # fmt: skip
    if value.dtype.name not in FLOAT_DTYPES:
        raise TensorDtypeError(
            f"{name} has dtype {value.dtype.name}; expected a float tensor "
            f"({', '.join(FLOAT_DTYPES)})",
            tensor=name, expected=list(FLOAT_DTYPES), actual=value.dtype.name,
        )  # fmt: skip
    value = value.astype(np.float64)
    bad = ~np.isfinite(value)
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise NonFiniteTensorError(
            f"{name} holds {int(bad.sum())} NaN or infinite entries (the first at {where})",
            tensor=name, expected="finite values", actual=f"{int(bad.sum())} non-finite",
        )  # fmt: skip
    return value


def _notes(arch: Architecture, config: NetworkConfig, fmt: str) -> tuple[str, ...]:
    p = arch.prefix
    g = {v: k for k, v in CELL_BY_GATES.items()}[arch.cell]
    notes = [
        f"read {fmt}",
        f"prefix {p!r} found on the recurrent tensors" if p else "no prefix on the names",
        f"cell {TORCH_CLASS[arch.cell]}: {p}weight_hh_l0 is ({g * arch.hidden_size}, "
        f"{arch.hidden_size}), {g} gate block(s) of hidden_size {arch.hidden_size}",
        f"input_size {arch.input_size} from {p}weight_ih_l0",
        f"num_layers {arch.num_layers}, "
        + ("bidirectional (_reverse tensors)" if arch.bidirectional else "one direction"),
    ]
    if arch.cell == "rnn":
        notes.append(f"nonlinearity {config.nonlinearity} (given: not in the state_dict)")
    if not arch.bias:
        notes.append("no bias tensors (bias=False): biases are zero")
    if arch.output_prefix is not None:
        notes.append(
            f"output layer {arch.output_prefix}.weight ({arch.output_size}, "
            f"{config.output_size})" + ("" if arch.output_bias else ", no bias (zero)")
        )
    else:
        notes.append(
            f"no output layer in the file: the loss reads a drawn one (V = "
            f"{config.vocab_size}, nn.Linear's init from seed {config.seed})"
        )
    return tuple(notes)


# ------------------------------------------------------------------------- inputs


def read_inputs(
    source: str | os.PathLike | bytes | np.ndarray, input_size: int, *,
    max_steps: int | None = None, max_batch: int | None = None,
) -> np.ndarray:  # fmt: skip
    """A user's input sequences from a ``.npy`` file (np.load with allow_pickle=False), its
    bytes, or an array: (T, d) or (B, T, d) with d = input_size, returned as float64
    (B, T, d) (B = 1 for one sequence). Refused (ModelFileError, tensor "inputs"): other
    ranks or d, non-numeric dtypes, NaN or inf, T over max_steps, B over max_batch."""
    if isinstance(source, np.ndarray):
        x = source
    else:
        raw = source if isinstance(source, bytes | bytearray) else Path(source).read_bytes()
        try:
            x = np.load(io.BytesIO(raw), allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise FileFormatError(
                f"the inputs are not a readable .npy array: {err} (pickles are never loaded)",
                tensor="inputs", expected="a .npy array", actual=str(err),
            ) from None  # fmt: skip
        if not isinstance(x, np.ndarray):
            raise FileFormatError(
                "the inputs must be one .npy array, not an .npz archive",
                tensor="inputs", expected="a .npy array", actual=type(x).__name__,
            )  # fmt: skip
    if x.ndim not in (2, 3) or x.shape[-1] != input_size or 0 in x.shape:
        raise TensorShapeError(
            f"inputs have shape {x.shape}; expected (T, {input_size}) or (B, T, {input_size})"
            f" (input_size {input_size}, from weight_ih_l0)",
            tensor="inputs", expected=("T", input_size), actual=x.shape,
        )  # fmt: skip
    kind = x.dtype.kind
    if kind not in "fiu":
        raise TensorDtypeError(
            f"inputs have dtype {x.dtype}; expected real numbers (float or int)",
            tensor="inputs", expected="float", actual=str(x.dtype),
        )  # fmt: skip
    x = x.astype(np.float64)
    if x.ndim == 2:
        x = x[None]
    if max_steps is not None and x.shape[1] > max_steps:
        raise TensorShapeError(
            f"inputs have T = {x.shape[1]} steps; the limit is {max_steps}",
            tensor="inputs", expected=max_steps, actual=x.shape[1],
        )  # fmt: skip
    if max_batch is not None and x.shape[0] > max_batch:
        raise TensorShapeError(
            f"inputs hold B = {x.shape[0]} sequences; the limit is {max_batch}",
            tensor="inputs", expected=max_batch, actual=x.shape[0],
        )  # fmt: skip
    bad = ~np.isfinite(x)
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise NonFiniteTensorError(
            f"inputs hold {int(bad.sum())} NaN or infinite entries (the first at {where})",
            tensor="inputs", expected="finite values", actual=f"{int(bad.sum())} non-finite",
        )  # fmt: skip
    return x
