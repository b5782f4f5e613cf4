"""The PyTorch half of benchmarks/train_speed.py, run under a Python that has torch.

Not imported by BPTT Lab (torch is not a dependency): benchmarks/train_speed.py writes the
model's initial parameters and the trainer's own batches to an .npz file and runs this script
on it with ``--torch-python``. It trains the same model as engine.training does, in PyTorch:
nn.RNN / nn.LSTM / nn.GRU (one layer, time-major) and an nn.Linear readout of h_T, the
cross-entropy of the batch, loss.backward(), clip_grad_norm_ and Adam.step(), one thread
(torch.set_num_threads(1), torch.set_num_interop_threads(1)), once in float64 and once in
float32. Each step converts its batch from the stored NumPy arrays (torch.from_numpy, then
the dtype and the time-major layout), as the NumPy trainer samples and transposes its own.
Prints one JSON object: per dtype, the steps/s of each timed block (wall and CPU) and the
per-step loss and gradient norm before clipping (to check that the two trainers compute the
same thing).

Run: python benchmarks/train_speed_torch.py DATA.npz CELL HIDDEN --warmup W --steps S
     --repeats R [--lr 0.01] [--clip 1.0] [--nonlinearity tanh]
"""

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def build(cell: str, hidden: int, params: dict, dtype, nonlinearity: str):
    d = params["weight_ih"].shape[1]
    v = params["output.weight"].shape[0]
    kwargs = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    rnn = MODULES[cell](d, hidden, dtype=torch.float64, **kwargs)  # the exact float64 values
    head = nn.Linear(hidden, v, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(rnn, f"{name}_l0").copy_(torch.from_numpy(params[name]))
        head.weight.copy_(torch.from_numpy(params["output.weight"]))
        head.bias.copy_(torch.from_numpy(params["output.bias"]))
    return rnn.to(dtype), head.to(dtype)


def run(args, data, dtype) -> dict:
    params = {k[len("param.") :]: data[k] for k in data.files if k.startswith("param.")}
    inputs, targets = data["inputs"], data["targets"]  # (S, B, T, d), (S, B, 1)
    rnn, head = build(args.cell, args.hidden, params, dtype, args.nonlinearity)
    weights = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(weights, lr=args.lr)
    losses, norms = [], []

    def step(s: int) -> None:
        x = torch.from_numpy(inputs[s]).to(dtype).transpose(0, 1).contiguous()  # (T, B, d)
        y = torch.from_numpy(targets[s][:, 0])
        out, _ = rnn(x)
        loss = nn.functional.cross_entropy(head(out[-1]), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(weights, args.clip)
        opt.step()
        losses.append(loss.item())
        norms.append(norm.item())

    s = 0
    for _ in range(args.warmup):
        step(s)
        s += 1
    wall, cpu = [], []
    for _ in range(args.repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            step(s)
            s += 1
        wall.append(args.steps / (time.perf_counter() - w0))
        cpu.append(args.steps / max(time.process_time() - c0, 1e-9))
    return {"steps_per_s": wall, "cpu_steps_per_s": cpu, "loss": losses, "grad_norm": norms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("cell", choices=list(MODULES))
    parser.add_argument("hidden", type=int)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--repeats", type=int, required=True)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--nonlinearity", default="tanh")
    args = parser.parse_args()
    data = np.load(args.data)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for name, dtype in (("float64", torch.float64), ("float32", torch.float32)):
        out[name] = run(args, data, dtype)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
