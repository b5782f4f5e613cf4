"""Which cell learns ``recall`` at which dependency length L, and how fast, with the default and
with the +3 gate biases (issue 19's measured claims).

Every run is engine.training with hidden 32, batch 64, Adam (lr 0.01), norm clipping at 1,
seed 0, float64, one BLAS thread (pinned here before NumPy is imported). A run stops when its
held-out accuracy (256 sequences, checked every CHECK steps) reaches SOLVED, or when its
training time reaches the budget (the checks' own time is not counted), or at --max-steps.
The steps to solve are deterministic (seeded); the seconds depend on the machine's load, so
the load average is printed and a step budget (--max-steps with a large --budget) gives a
verdict that does not. Variants:

  rnn            tanh RNN (no gates)
  lstm           forget_bias = input_bias = 0 (PyTorch's default)
  lstm f+3 i-3   forget_bias = +3, input_bias = -3
  gru            update_bias = 0
  gru z+3        update_bias = +3

Run: .venv/bin/python benchmarks/train.py [--budget SECONDS] [--lengths 20 50 100 200]
"""

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before NumPy: threaded BLAS is 10-30x slower here
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from bpttlab.engine.training import MAX_STEPS, TrainConfig, train  # noqa: E402

SOLVED, CHECK = 0.99, 25
VARIANTS = {
    "rnn": {"cell": "rnn"},
    "lstm": {"cell": "lstm"},
    "lstm f+3 i-3": {"cell": "lstm", "forget_bias": 3.0, "input_bias": -3.0},
    "gru": {"cell": "gru"},
    "gru z+3": {"cell": "gru", "update_bias": 3.0},
}


def run(length: int, variant: dict, budget: float, seed: int, max_steps: int) -> dict:
    config = TrainConfig(
        task="recall", length=length, hidden_size=32, batch_size=64, optimizer="adam",
        learning_rate=0.01, clip="norm", clip_threshold=1.0, steps=max_steps,
        profile_every=max_steps, seed=seed, **variant,
    )  # fmt: skip
    state = {"checks": 0.0, "solved_at": None, "best": 0.0, "steps": 0, "train_time": 0.0}

    def callback(event):
        train_time = event.elapsed - state["checks"]
        state["steps"], state["train_time"] = event.steps_done, train_time
        if event.steps_done % CHECK == 0:
            start = time.perf_counter()
            accuracy = event.run.evaluate().accuracy
            state["checks"] += time.perf_counter() - start
            state["best"] = max(state["best"], accuracy)
            state["last"] = accuracy
            if accuracy >= SOLVED:
                state["solved_at"] = train_time
                return False
        return train_time < budget

    result = train(config, callback)
    state["status"] = result.status
    state["final"] = result.final.accuracy if result.final is not None else None
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0, help="training seconds per run")
    parser.add_argument("--lengths", type=int, nargs="+", default=[20, 50, 100, 200])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=MAX_STEPS, help="step budget per run")
    args = parser.parse_args()
    print(describe())
    print(f"load average at start: {os.getloadavg()}")
    print(
        f"recall, hidden 32, batch 64, Adam lr 0.01, clip norm 1, seed {args.seed}; solved = "
        f"held-out accuracy >= {SOLVED} (checked every {CHECK} steps); budget {args.budget} s"
        f" or {args.max_steps} steps"
    )
    print(f"{'L':>4}  {'variant':<13} {'result':<22} {'steps':>6} {'s/step':>8}  held-out acc")
    for length in args.lengths:
        for name in args.variants:
            s = run(length, VARIANTS[name], args.budget, args.seed, args.max_steps)
            per_step = s["train_time"] / max(s["steps"], 1)
            if s["solved_at"] is not None:
                verdict = f"solved in {s['solved_at']:.1f} s"
            else:
                verdict = f"not solved in {s['train_time']:.0f} s"
                if s["steps"] >= args.max_steps:
                    verdict = f"not solved in {s['steps']} steps"
            print(
                f"{length:>4}  {name:<13} {verdict:<22} {s['steps']:>6} {per_step * 1e3:>6.1f}ms"
                f"  final {s['final']:.3f} (best check {s['best']:.3f})",
                flush=True,
            )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
