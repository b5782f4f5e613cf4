"""Issue 18's scale target: a trained-size model's full matrix-free analysis in under 60 s.

The model: nn.LSTM(input_size=32, hidden_size=1024, num_layers=2, bidirectional=True)
with an nn.Linear(2048, 16) output layer, its weights drawn as PyTorch initialises them
(U(-1/sqrt(n), 1/sqrt(n))), saved in float32 with safetensors' save_file (as
``save_file(model.state_dict(), ...)`` would) and read back by engine.model_io. The
analysis (engine.probes.matrix_free, timed stage by stage): the forward pass, the exact
backward pass (the layer-time map log10 ||dL/dh_t|| for every layer, direction and step;
no parameter gradient) and the Jacobian norms ||dh_T/dh_{T-l}|| and
||dh_T/d(h, c)_{T-l}|| of every (layer, direction) estimated with k = 32 probes, the
probes' sweep timed in float64 and again in float32 (the same probes). Wall and CPU
seconds are both printed: on the shared machine the wall time moves with the load, the
process's CPU time much less.
T = 1000 drawn inputs, loss at every step.

With ``--torch-python PYTHON`` (a Python that has torch; torch is not a dependency of BPTT
Lab) the same layer-time map is then computed by PyTorch autograd on the same machine, one
thread, in float64 and in float32 (benchmarks/model_scale_torch.py: the layers unrolled so that
every h_t is a tensor whose .grad autograd fills, checked against torch.nn.LSTM's own output),
and the script prints the times side by side (the engine's forward + exact backward against
torch's forward + backward), their ratio and the largest |difference| of the log10 norms.

BLAS is pinned to one thread before NumPy is imported. The memory peak is the process's
peak resident set (resource.getrusage ru_maxrss), which includes the interpreter and the
loaded weights. The load average is printed before and after, since the machine is shared.
Run: .venv/bin/python benchmarks/model_scale.py [T] [hidden_size]
     [--torch-python /tmp/torchvenv/bin/python]
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from bpttlab.engine.model_io import load_model  # noqa: E402
from bpttlab.engine.network import check_weights, network_forward  # noqa: E402
from bpttlab.engine.probes import (  # noqa: E402
    exact_layer_time,
    jacobian_estimates,
    probe_standard_error,
)

_parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_parser.add_argument("T", type=int, nargs="?", default=1000)
_parser.add_argument("hidden_size", type=int, nargs="?", default=1024)
_parser.add_argument("--torch-python", help="a Python that imports torch: compare with autograd")
_parser.add_argument(
    "--torch-fused", action="store_true", help="also time torch.nn.LSTM's own forward + backward"
)
ARGS = _parser.parse_args()
T, N = ARGS.T, ARGS.hidden_size
D_IN, LAYERS, V, PROBES = 32, 2, 16, 32
TORCH_SCRIPT = Path(__file__).resolve().parent / "model_scale_torch.py"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def torch_like_state_dict(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """nn.LSTM's and nn.Linear's names, shapes and default init, in float32."""
    k = 1.0 / np.sqrt(N)
    sd = {}
    for layer in range(LAYERS):
        width = D_IN if layer == 0 else 2 * N
        for suffix in ("", "_reverse"):
            for name, shape in (
                ("weight_ih", (4 * N, width)), ("weight_hh", (4 * N, N)),
                ("bias_ih", (4 * N,)), ("bias_hh", (4 * N,)),
            ):  # fmt: skip
                sd[f"lstm.{name}_l{layer}{suffix}"] = rng.uniform(-k, k, shape).astype(np.float32)
    b = 1.0 / np.sqrt(2 * N)
    sd["fc.weight"] = rng.uniform(-b, b, (V, 2 * N)).astype(np.float32)
    sd["fc.bias"] = rng.uniform(-b, b, V).astype(np.float32)
    return sd


def main() -> None:
    print(describe())
    print(f"BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']}; load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    print(f"model: 2-layer bidirectional LSTM, input 32, hidden {N}, output 16; T = {T}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        save_file(torch_like_state_dict(np.random.default_rng(0)), str(path))
        size = path.stat().st_size
        start = time.perf_counter()
        model = load_model(path, seq_len=T, seed=0)
        t_load = time.perf_counter() - start
    print(f"file {size / 2**20:.1f} MiB float32; load_model {t_load:.2f} s; "
          f"summary {model.summary()['torch_class']} {model.config}")  # fmt: skip
    problem, origin = model.problem()
    config, weights = model.config, model.weights
    rss_loaded = rss_mib()

    stages: dict[str, tuple[float, float]] = {}  # name -> (wall s, CPU s of this process)
    loads: dict[str, tuple[float, float]] = {}  # name -> 1-minute load average before, after

    def timed(name, fn):
        before = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        stages[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        loads[name] = (before, os.getloadavg()[0])
        return out

    trace = timed("forward", lambda: (
        check_weights(config, weights),
        network_forward(config, weights, problem.inputs, problem.targets),
    )[1])  # fmt: skip
    lt = timed("exact backward (layer-time map)", lambda: exact_layer_time(
        config, weights, trace, problem.targets))  # fmt: skip
    jac = timed(f"Jacobian norms, k = {PROBES}, float64", lambda: jacobian_estimates(
        config, weights, trace, probes=PROBES, seed=0))  # fmt: skip
    jac32 = timed(f"Jacobian norms, k = {PROBES}, float32", lambda: jacobian_estimates(
        config, weights, trace, probes=PROBES, seed=0, precision="float32"))  # fmt: skip

    print(f"  {'stage':40s} {'wall s':>8s} {'CPU s':>8s}  load before, after")
    for name, (wall, cpu) in stages.items():
        print(f"  {name:40s} {wall:8.2f} {cpu:8.2f}  {loads[name][0]:.2f}, {loads[name][1]:.2f}")
    names = list(stages)
    for label, probe_stage in (("float64", names[2]), ("float32", names[3])):
        wall = sum(stages[k][0] for k in (names[0], names[1], probe_stage))
        cpu = sum(stages[k][1] for k in (names[0], names[1], probe_stage))
        verdict = "meets" if wall < 60.0 else "MISSES"
        print(f"analysis total, probes in {label}: {wall:.2f} s wall ({verdict} the 60 s target),"
              f" {cpu:.2f} s CPU")  # fmt: skip
    worst = max(
        float(np.max(np.abs(a[k]["h"].frobenius.log10 - b[k]["h"].frobenius.log10)))
        for d in jac
        for a, b in [(jac[d], jac32[d])]
        for k in range(len(jac[d]))
    )
    print(f"float32 vs float64 estimates (same probes): largest |log10 difference| {worst:.1e}")
    print(f"peak RSS {rss_mib():.0f} MiB (after loading the model: {rss_loaded:.0f} MiB)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"layer-time map (exact): {', '.join(f'{k} {v.shape}' for k, v in lt.items())}, "
          f"log10 ||dL/dh_t|| from {min(v.min() for v in lt.values()):.2f} to "
          f"{max(v.max() for v in lt.values()):.2f}")  # fmt: skip
    se = probe_standard_error(PROBES)
    for direction, layers in jac.items():
        for layer, entry in enumerate(layers):
            e = entry["h"]
            print(f"  {direction} layer {layer}: log10 ||dh_T/dh_T-l||_F (estimate +- {se:.3f})"
                  f" l=1 {e.frobenius.log10[1]:.2f}, l=10 {e.frobenius.log10[10]:.2f}, "
                  f"l=T {e.frobenius.log10[-1]:.2f}; spectral lower bound l=T "
                  f"{e.spectral.log10[-1]:.2f}")  # fmt: skip
    print(f"inputs {origin['inputs']}, targets {origin['targets']}")
    if ARGS.torch_python:
        engine_time = [stages[names[0]][i] + stages[names[1]][i] for i in (0, 1)]
        against_torch(model, problem, lt, engine_time, trace.loss, ARGS.torch_python)


def against_torch(model, problem, lt, engine_time, engine_loss: float, python: str) -> None:
    """The layer-time map by PyTorch autograd (model_scale_torch.py) under ``python``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.npz"
        np.savez(path, inputs=problem.inputs, targets=problem.targets, **model.weights)
        before = load()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        done = subprocess.run(
            [python, str(TORCH_SCRIPT), str(path), *(["--fused"] if ARGS.torch_fused else [])],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        after = load()
    if done.returncode != 0:
        raise SystemExit(f"the torch run failed:\n{done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\nPyTorch {out['torch']} autograd, {out['threads']} thread, the same weights, inputs "
          f"and targets (load average before {before}, after {after}; peak RSS of its process "
          f"{out['peak_rss_mib']:.0f} MiB)")  # fmt: skip
    print(f"  {'layer-time map (forward + backward)':40s} {'wall s':>8s} {'CPU s':>8s}"
          f"  {'engine / torch (wall, CPU)':>26s}  largest |log10 diff|")  # fmt: skip
    print(f"  {'engine, float64':40s} {engine_time[0]:8.2f} {engine_time[1]:8.2f}")
    names = list(lt)
    for dtype in ("float64", "float32"):
        r = out[dtype]
        wall = r["forward"][0] + r["backward"][0]
        cpu = r["forward"][1] + r["backward"][1]
        diff = max(
            float(np.max(np.abs(lt[name][k] - np.asarray(r["map"][d][k]))))
            for d, name in enumerate(names)
            for k in range(len(lt[name]))
        )
        ratio = f"{engine_time[0] / wall:12.2f} {engine_time[1] / cpu:12.2f}"
        label = f"torch unrolled autograd, {dtype}"
        print(f"  {label:40s} {wall:8.2f} {cpu:8.2f}  {ratio}  {diff:.1e}")
    for dtype in ("float64", "float32"):
        r = out[dtype]
        print(f"  torch {dtype}: forward {r['forward'][0]:.2f} s, backward {r['backward'][0]:.2f}"
              f" s wall; loss {r['loss']:.6f} (engine {engine_loss:.6f}); the unrolled output vs"
              f" torch.nn.LSTM's: largest |difference| {r['unrolled_vs_fused']:.1e}")  # fmt: skip
        if "fused" in r:
            wall, cpu = r["fused"]
            print(f"    torch.nn.LSTM's own forward + backward (all parameter gradients, no "
                  f"layer-time map): {wall:.2f} s wall, {cpu:.2f} s CPU")  # fmt: skip


if __name__ == "__main__":
    main()
