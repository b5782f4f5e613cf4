"""Issue 19's speed target: the NumPy trainer's steps per second against PyTorch's, one thread.

For each cell (rnn, lstm, gru) and hidden size (32, 64, 128): the same model (one recurrent
layer and a linear readout of h_T, the same initial parameters), the same batches (recall with
8 symbols at L = 99, so T = 100 steps; batch 64), Adam (lr 0.01) and norm clipping at 1 (the
/train defaults), trained

- by engine.training.train in this process (float64, BLAS pinned to one thread before NumPy is
  imported): everything the trainer does per step is timed, from drawing the batch to its
  StepRecord and the callback, with the ||dL/dh_t|| profile kept every ``--profile-every``
  steps (TrainConfig's default 50; the backward pass computes the norms at every step, the
  setting only decides which are kept);
- by PyTorch (nn.RNN/LSTM/GRU + nn.Linear, cross-entropy, loss.backward(),
  clip_grad_norm_, Adam.step(); torch.set_num_threads(1) and set_num_interop_threads(1)) in
  float64 and in float32, in a subprocess under ``--torch-python`` (benchmarks/
  train_speed_torch.py; torch is not a dependency of BPTT Lab: ``pip install '.[bench]'``
  or a separate venv). The torch loop reads the trainer's batches from a file instead of
  drawing them, so the torch figures include no sampling.

Each side runs ``--warmup`` steps (not timed), then ``--repeats`` blocks of ``--steps`` steps;
the figure is the median block's steps/s (wall; CPU steps/s beside it, which moves less with
the load of the shared machine). The headline ratio is NumPy / torch float64, like with like
(the trainer is float64); NumPy / torch float32 is printed too. The target (issue 19): at
least torch's speed at hidden <= 64, at most 2x slower at 128. As a check that both sides
compute the same thing, the largest relative difference of the float64 losses and gradient
norms over all steps is printed.

Run: .venv/bin/python benchmarks/train_speed.py [--torch-python /tmp/torchvenv/bin/python]
     [--cells rnn lstm gru] [--hidden 32 64 128] [--warmup 5] [--steps 20] [--repeats 5]
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy: threaded BLAS is 10-30x slower on this machine

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from machine import describe  # noqa: E402

from bpttlab.engine.training import TrainConfig, TrainingRun, train  # noqa: E402

LENGTH = 99  # recall: T = L + 1 = 100 steps
TORCH_SCRIPT = HERE / "train_speed_torch.py"
AGREE = 1e-6


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def config(cell: str, hidden: int, steps: int, profile_every: int) -> TrainConfig:
    return TrainConfig(
        task="recall", length=LENGTH, symbols=8, cell=cell, hidden_size=hidden,
        batch_size=64, optimizer="adam", learning_rate=0.01, clip="norm", clip_threshold=1.0,
        steps=steps, profile_every=profile_every, seed=0,
    )  # fmt: skip


def numpy_run(cfg: TrainConfig, warmup: int, steps: int, repeats: int) -> dict:
    """engine.training.train with a callback that stamps every step (wall and CPU)."""
    stamps = [(time.perf_counter(), time.process_time())]

    def callback(event):
        stamps.append((time.perf_counter(), time.process_time()))

    result = train(cfg, callback)
    wall, cpu = [], []
    for r in range(repeats):
        a, b = stamps[warmup + r * steps], stamps[warmup + (r + 1) * steps]
        wall.append(steps / (b[0] - a[0]))
        cpu.append(steps / max(b[1] - a[1], 1e-9))
    records = result.records
    return {
        "steps_per_s": wall,
        "cpu_steps_per_s": cpu,
        "loss": [r.loss for r in records],
        "grad_norm": [r.grad_norm for r in records],
        "profiles": sum(r.log10_dh is not None for r in records),
    }


def torch_data(cfg: TrainConfig, total: int, path: Path) -> None:
    """The initial parameters and the ``total`` batches the trainer draws, in its order."""
    run = TrainingRun(cfg)  # the same seeds as train(cfg): parameters, then data
    batches = [run.task.sample(run.data_rng, cfg.batch_size) for _ in range(total)]
    arrays = {f"param.{k}": v for k, v in run.params.items()}
    arrays["inputs"] = np.stack([b.inputs for b in batches])
    arrays["targets"] = np.stack([b.targets for b in batches])
    np.savez(path, **arrays)


def torch_run(python: str, path: Path, cfg: TrainConfig, args) -> dict:
    cmd = [
        python, str(TORCH_SCRIPT), str(path), cfg.cell, str(cfg.hidden_size),
        "--warmup", str(args.warmup), "--steps", str(args.steps),
        "--repeats", str(args.repeats), "--lr", str(cfg.learning_rate),
        "--clip", str(cfg.clip_threshold), "--nonlinearity", cfg.nonlinearity,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"the torch run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def find_torch_python(given: str | None) -> str:
    python = given or sys.executable
    probe = subprocess.run(
        [python, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True
    )  # fmt: skip
    if probe.returncode != 0:
        raise SystemExit(
            f"{python} cannot import torch. torch is not a dependency of BPTT Lab: install the "
            "bench extra (pip install -e '.[bench]') or give a Python that has it, e.g. "
            "--torch-python /tmp/torchvenv/bin/python (python3 -m venv /tmp/torchvenv && "
            "/tmp/torchvenv/bin/pip install torch numpy)"
        )
    return python


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def largest_relative_difference(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-300)))


def agreeing_steps(a: dict, b: dict) -> int:
    """How many steps from the start have loss and gradient norm within AGREE (relative)."""
    for s in range(len(a["loss"])):
        for k in ("loss", "grad_norm"):
            if abs(a[k][s] - b[k][s]) > AGREE * abs(b[k][s]):
                return s
    return len(a["loss"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-python", default=None, help="a Python that imports torch")
    parser.add_argument("--cells", nargs="+", default=["rnn", "lstm", "gru"])
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks (median kept)")
    parser.add_argument("--profile-every", type=int, default=TrainConfig.profile_every)
    parser.add_argument("--numpy-only", action="store_true", help="skip the torch side")
    args = parser.parse_args()
    python = None if args.numpy_only else find_torch_python(args.torch_python)
    total = args.warmup + args.steps * args.repeats
    print(describe())
    print(f"BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}; load average at start {load()}")
    print(
        f"recall L = {LENGTH} (T = {LENGTH + 1}), batch 64, Adam lr 0.01, clip norm 1; "
        f"{args.warmup} warm-up steps, median of {args.repeats} blocks of {args.steps} steps; "
        f"profile snapshots every {args.profile_every} steps (norms computed every step)"
    )
    if python:
        version = subprocess.run(
            [python, "-c", "import torch; print(torch.__version__)"], capture_output=True,
            text=True,
        ).stdout.strip()  # fmt: skip
        print(f"torch {version} under {python}, one thread")
    head = (
        f"{'':9}{'steps/s, wall (CPU)':^50}  {'ratio, wall (CPU)':^25}\n"
        f"{'cell':<5}{'n':>4}  {'numpy f64':>14}  {'torch f64':>14}  {'torch f32':>14}"
        f"  {'vs torch f64':>12} {'vs f32':>12}  {'target':<14} {'load':>11}"
        f"  {'f64 agree: step 0, steps':>24}"
    )
    print(head)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cell in args.cells:
            for hidden in args.hidden:
                cfg = config(cell, hidden, total, args.profile_every)
                before = os.getloadavg()[0]
                npy = numpy_run(cfg, args.warmup, args.steps, args.repeats)
                row = {"cell": cell, "hidden": hidden, "numpy": npy, "load_before": before}
                if python:
                    path = Path(tmp) / f"{cell}-{hidden}.npz"
                    torch_data(cfg, total, path)
                    row["torch"] = torch_run(python, path, cfg, args)
                row["load_after"] = os.getloadavg()[0]
                rows.append(row)
                print(format_row(row), flush=True)
    print(f"load average at end {load()}")
    print(
        "ratio = NumPy steps/s / torch steps/s (>= 1: the NumPy trainer is at least as fast); "
        "target: ratio >= 1 at n <= 64, >= 0.5 at n = 128, against torch float64 (headline: "
        "like with like), judged on wall and on CPU time (CPU time moves less with the load); "
        "load: 1-minute load average before and after the row; agree = the largest relative "
        "difference of the float64 loss and gradient norm, NumPy vs torch, at step 0 (same "
        "parameters and batch), and the number of steps before they first differ by more "
        f"than {AGREE:g} (rounding differences grow "
        "as training goes on)"
    )


def pair(r: dict) -> tuple[float, float]:
    """(median wall steps/s, median CPU steps/s) of one run's timed blocks."""
    return median(r["steps_per_s"]), median(r["cpu_steps_per_s"])


def format_row(row: dict) -> str:
    npy = row["numpy"]
    n_w, n_c = pair(npy)
    line = f"{row['cell']:<5}{row['hidden']:>4}  {n_w:>7.1f} ({n_c:>5.1f})"
    load = f"{row['load_before']:.2f}, {row['load_after']:.2f}"
    if "torch" not in row:
        return f"{line}  load {load}"
    t64, t32 = row["torch"]["float64"], row["torch"]["float32"]
    (w64, c64), (w32, c32) = pair(t64), pair(t32)
    need = 1.0 if row["hidden"] <= 64 else 0.5
    verdict = ", ".join("met" if r >= need else "MISSED" for r in (n_w / w64, n_c / c64))
    first = max(largest_relative_difference(npy[k][:1], t64[k][:1]) for k in ("loss", "grad_norm"))
    same = agreeing_steps(npy, t64)
    return (
        f"{line}  {w64:>7.1f} ({c64:>5.1f})  {w32:>7.1f} ({c32:>5.1f})"
        f"  {n_w / w64:>5.2f} ({n_c / c64:>4.2f}) {n_w / w32:>5.2f} ({n_c / c32:>4.2f})"
        f"  {verdict:<14} {load:>11}  {first:>7.0e} {same:>4d}/{len(npy['loss'])}"
    )


if __name__ == "__main__":
    main()
