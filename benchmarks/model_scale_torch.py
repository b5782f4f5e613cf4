"""The PyTorch half of benchmarks/model_scale.py: the layer-time map by autograd.

Not imported by BPTT Lab (torch is not a dependency): model_scale.py writes the model's
weights (PyTorch's state_dict names), the inputs and the targets to an .npz file and runs this
script on it under ``--torch-python``. One thread (torch.set_num_threads(1),
set_num_interop_threads(1)).

The quantity is the engine's layer-time map: ||dL/dh_t|| for every layer, direction and step,
the TOTAL derivative of the loss (the sum over steps of the cross-entropy of
Linear(top layer's output)) with respect to the hidden state h_t, through everything that
reads it: the layer's own later steps and the layers above. nn.LSTM runs its steps inside one
fused operator and never exposes h_t, and the gradient with respect to its output sequence is
only the part that reaches h_t from above (the layer's own recurrence is not in it), so the
layers are unrolled here: each (layer, direction) is one matrix product for the input
projections of all steps, then T steps of gates = x_proj[t] + W_hh h_{t-1}, c = f c + i g,
h = o tanh(c) (torch.nn.LSTM's formulas and gate order), each h_t kept with retain_grad();
loss.backward() then leaves dL/dh_t in h_t.grad. No weight asks for a gradient (the engine's
map computes none either): the inputs do, so that autograd builds the graph. Layer 1 reads
[h_fwd, h_bwd] of layer 0 at each position, as torch.nn.LSTM(num_layers=2, bidirectional=True)
does; after timing, the unrolled output is compared with nn.LSTM's own for the same weights.

With ``--fused``, the fused nn.LSTM's forward and backward (loss.backward() through
torch.nn.LSTM + nn.Linear: all parameter gradients, but not the layer-time map) is timed too
(in float64 it is slow: 97 s of CPU at this size, against 6 s in float32).

Prints one JSON object: per dtype (float64, float32), wall and CPU seconds of the forward and
the backward pass, the map (log10 norms, [direction][layer][t] in sequence order), the loss,
the unrolled-vs-fused largest |difference| of the top layer's output, and the peak RSS.

Run: python benchmarks/model_scale_torch.py DATA.npz [--fused]
"""

import json
import resource
import sys
import time

import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)
torch.set_num_interop_threads(1)


def lstm_direction(x, w_ih, w_hh, b, reverse: bool):
    """Unrolled LSTM over x (T, d) in the direction's own order; returns the h_t (each a
    retained (n,) tensor, in sequence order) and the (T, n) output in sequence order."""
    t_len, n = x.shape[0], w_hh.shape[1]
    proj = x @ w_ih.T + b  # (T, 4n): every step's input projection in one product
    h = x.new_zeros(n)
    c = x.new_zeros(n)
    states = [None] * t_len
    order = range(t_len - 1, -1, -1) if reverse else range(t_len)
    for t in order:
        gates = proj[t] + w_hh @ h
        i, f, g, o = gates.chunk(4)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        h.retain_grad()
        states[t] = h
    return states, torch.stack(states)


def unrolled(weights, x, targets, layers: int, directions: int):
    states = []  # [layer][direction] -> list of h_t
    inp = x
    for k in range(layers):
        outs, row = [], []
        for d in range(directions):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            w_ih, w_hh = weights[f"weight_ih{sfx}"], weights[f"weight_hh{sfx}"]
            b = weights[f"bias_ih{sfx}"] + weights[f"bias_hh{sfx}"]
            hs, out = lstm_direction(inp, w_ih, w_hh, b, reverse=d == 1)
            row.append(hs)
            outs.append(out)
        states.append(row)
        inp = torch.cat(outs, dim=1)  # (T, D n)
    logits = inp @ weights["output.weight"].T + weights["output.bias"]
    loss = nn.functional.cross_entropy(logits, targets, reduction="sum")
    return states, inp, loss


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def run(data, dtype, fused: bool) -> dict:
    names = [k for k in data.files if k not in ("inputs", "targets")]
    weights = {k: torch.from_numpy(data[k]).to(dtype) for k in names}
    x = torch.from_numpy(data["inputs"]).to(dtype)
    targets = torch.from_numpy(data["targets"]).long()
    layers = 1 + max(int(k.split("_l")[1].split("_")[0]) for k in names if "_l" in k)
    directions = 2 if any(k.endswith("_reverse") for k in names) else 1
    n = weights["weight_hh_l0"].shape[1]
    # no parameter gradient, as the engine's exact_layer_time: only the inputs ask for one, so
    # autograd carries dL/dh_t down through every step and layer and skips the weights
    x.requires_grad_(True)

    (states, top, loss), f_wall, f_cpu = timed(
        lambda: unrolled(weights, x, targets, layers, directions)
    )
    _, b_wall, b_cpu = timed(loss.backward)
    maps = [
        [
            torch.stack([h.grad for h in states[k][d]]).norm(dim=1).log10().tolist()
            for k in range(layers)
        ]
        for d in range(directions)
    ]

    # the same weights in torch.nn.LSTM: its output must be the unrolled one
    lstm = nn.LSTM(x.shape[1], n, num_layers=layers, bidirectional=directions == 2, dtype=dtype)
    head = nn.Linear(directions * n, weights["output.weight"].shape[0], dtype=dtype)
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            p.copy_(weights[name])
        head.weight.copy_(weights["output.weight"])
        head.bias.copy_(weights["output.bias"])
    out = {
        "forward": [f_wall, f_cpu],
        "backward": [b_wall, b_cpu],
        "loss": float(loss),
        "map": maps,
    }
    if not fused:
        with torch.no_grad():
            out["unrolled_vs_fused"] = float((lstm(x.detach())[0] - top).abs().max())
        return out
    lstm_out, fused_f_wall, fused_f_cpu = timed(lambda: lstm(x.detach())[0])
    fused_loss = nn.functional.cross_entropy(head(lstm_out), targets, reduction="sum")
    _, fused_b_wall, fused_b_cpu = timed(fused_loss.backward)
    out["unrolled_vs_fused"] = float((lstm_out - top).abs().max())
    out["fused"] = [fused_f_wall + fused_b_wall, fused_f_cpu + fused_b_cpu]
    return out


def main() -> None:
    data = np.load(sys.argv[1])
    fused = "--fused" in sys.argv[2:]
    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for name, dtype in (("float64", torch.float64), ("float32", torch.float32)):
        out[name] = run(data, dtype, fused)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
