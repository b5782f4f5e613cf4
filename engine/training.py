"""Training a recurrent network on a task with a controlled dependency length, step by step.

The model is one recurrent layer (rnn | lstm | gru, drawn through the cell's ``draw_params``,
run a batch at a time by engine.batch_cells) from zero states, and a linear readout
``output.weight`` (V, n), ``output.bias`` (V,) (nn.Linear's U(-1/sqrt(n), 1/sqrt(n))) applied to
h_t at the task's loss steps. The loss is the cross-entropy averaged over the batch and the loss
steps (``recall``, ``copy``) or the squared error averaged over the batch (``adding``), so it is
directly comparable with the task's baseline (engine.tasks).

Each step s = 0, 1, ..., steps - 1 draws a batch, computes the loss and its gradient at the
current parameters, records them, clips the gradient (none | norm | value, PyTorch's
clip_grad_norm_ / clip_grad_value_ over all parameters together, engine.clipping) and takes one
optimiser step (engine.optim). Every ``profile_every`` steps, and at step 0 (the initialisation),
the record carries the profile ||dL/dh_t|| for t = 0..T (the Frobenius norm over the batch of the
gradient of the batch's loss with respect to h_t, through all later steps; Arjovsky et al.'s
gradient-norm figure). After the last step the model is scored on a held-out batch.

Determinism: every random draw comes from ``numpy.random.SeedSequence(seed)``'s children (the
parameters, the training batches, the held-out batch), so the same configuration gives the
same numbers, bit for bit, in the same process and BLAS setting (one BLAS thread: the
benchmarks and the workers pin it).

Observation and cancellation: ``TrainingRun.step()`` takes one step and returns its record;
``train(config, callback)`` calls callback(event) after every step and stops (status
``cancelled``) when it returns False. A step whose loss or gradient is not finite ends the run
with status ``diverged`` (that step is recorded with nulls). ``TrainResult.to_json()`` holds no
NaN or Infinity: a value that is not finite, or the log10 of an exact zero, is None.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from . import batch_cells
from .cells import get_cell
from .clipping import CLIP_MODES, clip_gradients
from .init import INITS
from .logdomain import ScaledTensors
from .nonlinearity import NONLINEARITIES
from .optim import OPTIMIZERS, Optimizer
from .tasks import MIN_LENGTH, TASKS, Task, make_task

CELLS = ("rnn", "lstm", "gru")
HIDDEN_RANGE = (4, 256)
MAX_LENGTH = 1000
MAX_STEPS = 20_000
MAX_BATCH = 256
MAX_SYMBOLS = 32
BIAS_LIMIT = 10.0
MAX_EVAL = 1024
# the forward cache holds batch x seq_len x (gate rows x hidden) floats, twice over for the
# backward pass's deltas: bounded so one run stays within a few hundred MB
MAX_CACHE_FLOATS = 16_000_000
OUTPUT = "output"  # readout parameters: output.weight, output.bias


@dataclass(frozen=True)
class TrainConfig:
    """Every control of a training run, validated on construction (ValueError naming the field
    and its limit).

    task : recall | copy | adding; length : the dependency length L (recall, adding >= 2:
    MIN_LENGTH) up to 1000; symbols : recall's vocabulary K, 2..32;
    cell : rnn | lstm | gru; hidden_size : 4..256;
    nonlinearity : the RNN's phi (tanh | sigmoid | relu | identity);
    init, init_scale : each n x n block of W_hh (engine.init: gaussian | orthogonal |
    identity | pytorch), scale in (0, 10];
    forget_bias, input_bias : added to the LSTM's f and i rows of bias_ih; update_bias : added
    to the GRU's update (z) rows; each in [-10, 10] (cells that lack the gate ignore them);
    optimizer : sgd | momentum | adam | rmsprop; learning_rate in (0, 10];
    batch_size : 1..256; steps : 1..20000;
    clip : none | norm | value; clip_threshold in (0, 1e6];
    profile_every : the ||dL/dh_t|| profile every this many steps (and at step 0), 1..20000;
    eval_size : the held-out batch scored at the end, 1..1024; seed : 0..2**32 - 1.
    """

    task: str = "recall"
    length: int = 20
    symbols: int = 8
    cell: str = "gru"
    hidden_size: int = 32
    nonlinearity: str = "tanh"
    init: str = "pytorch"
    init_scale: float = 1.0
    forget_bias: float = 0.0
    input_bias: float = 0.0
    update_bias: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 0.01
    batch_size: int = 64
    steps: int = 500
    clip: str = "norm"
    clip_threshold: float = 1.0
    profile_every: int = 50
    eval_size: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        choices = {
            "task": TASKS,
            "cell": CELLS,
            "nonlinearity": tuple(NONLINEARITIES),
            "init": INITS,
            "optimizer": OPTIMIZERS,
            "clip": CLIP_MODES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}")
        ints = {
            "length": (MIN_LENGTH[self.task], MAX_LENGTH),
            "symbols": (2, MAX_SYMBOLS),
            "hidden_size": HIDDEN_RANGE,
            "batch_size": (1, MAX_BATCH),
            "steps": (1, MAX_STEPS),
            "profile_every": (1, MAX_STEPS),
            "eval_size": (1, MAX_EVAL),
            "seed": (0, 2**32 - 1),
        }
        for name, (lo, hi) in ints.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"{name} must be an integer")
            if not lo <= value <= hi:
                raise ValueError(f"{name} must be in {lo}..{hi}")
        floats = {
            "init_scale": (0.0, 10.0, False),
            "learning_rate": (0.0, 10.0, False),
            "clip_threshold": (0.0, 1e6, False),
            "forget_bias": (-BIAS_LIMIT, BIAS_LIMIT, True),
            "input_bias": (-BIAS_LIMIT, BIAS_LIMIT, True),
            "update_bias": (-BIAS_LIMIT, BIAS_LIMIT, True),
        }
        for name, (lo, hi, closed) in floats.items():
            value = getattr(self, name)
            ok = math.isfinite(value) and (lo <= value if closed else lo < value) and value <= hi
            if not ok:
                raise ValueError(f"{name} must be in {'[' if closed else '('}{lo}, {hi}]")
        rows = get_cell(self.cell).gate_rows * self.hidden_size
        seq = self.task_spec().seq_len
        if self.batch_size * seq * rows > MAX_CACHE_FLOATS:
            raise ValueError(
                f"batch_size x sequence length ({seq}) x {rows} gate rows must be <= "
                f"{MAX_CACHE_FLOATS}: lower batch_size, length or hidden_size"
            )

    def task_spec(self) -> Task:
        return make_task(self.task, self.length, self.symbols)


@dataclass(frozen=True)
class StepRecord:
    """One training step, measured before its update.

    loss : the batch's loss; accuracy : the fraction of scored outputs right (None for
    ``adding``); mse : the squared error (``adding``; None otherwise); grad_norm, clipped_norm :
    ||gradient|| over all parameters before and after clipping; clipped : whether clipping
    changed the gradient; log10_dh : (T + 1,) log10 ||dL/dh_t|| for t = 0..T on profile steps
    (-inf where exactly zero), else None. Non-finite values (a diverged step) are NaN here and
    None in to_json().
    """

    step: int
    loss: float
    accuracy: float | None
    mse: float | None
    grad_norm: float
    clipped_norm: float
    clipped: bool
    log10_dh: np.ndarray | None = None

    def to_json(self) -> dict:
        return {
            "step": self.step,
            "loss": finite_or_none(self.loss),
            "accuracy": finite_or_none(self.accuracy),
            "mse": finite_or_none(self.mse),
            "grad_norm": finite_or_none(self.grad_norm),
            "clipped_norm": finite_or_none(self.clipped_norm),
            "clipped": self.clipped,
        }

    def profile_json(self) -> list[float | None] | None:
        """log10 ||dL/dh_t|| for t = 0..T with None for an exact zero; None off profile steps."""
        if self.log10_dh is None:
            return None
        return [finite_or_none(v) for v in self.log10_dh.tolist()]


@dataclass(frozen=True)
class Evaluation:
    """The model on the held-out batch: loss, accuracy (classification) or mse (adding)."""

    loss: float
    accuracy: float | None
    mse: float | None

    def to_json(self) -> dict:
        return {k: finite_or_none(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class StepEvent:
    """What the callback sees after each step: the record, how many steps of how many, and
    the wall time so far (not part of the deterministic result)."""

    record: StepRecord
    steps_done: int
    steps: int
    elapsed: float
    run: TrainingRun


@dataclass
class TrainResult:
    """A finished (or cancelled / diverged) run. status : finished | cancelled | diverged;
    records : one per step taken; final : the held-out evaluation (None when diverged)."""

    config: TrainConfig
    status: str
    records: list[StepRecord]
    final: Evaluation | None
    baseline_loss: float
    chance_accuracy: float | None
    elapsed: float = field(default=0.0, compare=False)

    def to_json(self) -> dict:
        """Columns per step, the profiles, the baseline and the final evaluation; JSON-safe
        (json.dumps(..., allow_nan=False) accepts it)."""
        recs = [r.to_json() for r in self.records]
        columns = {k: [r[k] for r in recs] for k in recs[0]} if recs else {}
        profiles = [
            {"step": r.step, "log10_dh": r.profile_json()}
            for r in self.records
            if r.log10_dh is not None
        ]
        return {
            "config": asdict(self.config),
            "status": self.status,
            "steps_done": len(self.records),
            "records": columns,
            "profiles": profiles,
            "baseline_loss": self.baseline_loss,
            "chance_accuracy": self.chance_accuracy,
            "final": None if self.final is None else self.final.to_json(),
        }


def finite_or_none(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def init_params(config: TrainConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The cell's four weights (its draw_params: W_hh blocks from init and init_scale, the rest
    PyTorch's U(-1/sqrt(n), 1/sqrt(n))) with the gate biases added to bias_ih's gate rows
    (LSTM i | f | g | o: input_bias to i, forget_bias to f; GRU r | z | n: update_bias to z),
    and the readout output.weight (V, n), output.bias (V,) from U(-1/sqrt(n), 1/sqrt(n))."""
    task = config.task_spec()
    cell = get_cell(config.cell)
    n, d, v = config.hidden_size, task.input_size, task.output_size
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "peep", OUTPUT)
    streams = dict(zip(names, rng.spawn(len(names)), strict=True))
    options = {
        "nonlinearity": config.nonlinearity,
        "forget_bias": config.forget_bias,
        "update_bias": config.update_bias,
        "peephole": False,
        "gru_form": "pytorch",
    }
    drawn = cell.draw_params(
        streams, n=n, d=d, init=config.init, scale=config.init_scale, options=options
    )
    params = {k: np.array(v, dtype=float) for k, v in batch_cells.cell_weights(drawn).items()}
    if config.cell == "lstm":
        params["bias_ih"][:n] += config.input_bias
    k = 1.0 / math.sqrt(n)
    params["output.weight"] = streams[OUTPUT].uniform(-k, k, size=(v, n))
    params["output.bias"] = streams[OUTPUT].uniform(-k, k, size=v)
    return params


@dataclass(frozen=True)
class LossGradient:
    """loss, accuracy / mse, the gradients of every parameter and the log10 ||dL/dh_t||."""

    loss: float
    accuracy: float | None
    mse: float | None
    grads: dict[str, np.ndarray]
    log10_dh: np.ndarray


def loss_and_gradient(
    config: TrainConfig, params: dict[str, np.ndarray], inputs: np.ndarray, targets: np.ndarray,
    *, backward: bool = True, workspace: batch_cells.Workspace | None = None,
) -> LossGradient:  # fmt: skip
    """The batch's loss (see the module) and, when ``backward``, its gradient.

    inputs : (B, T, d); targets as engine.tasks.Batch. Overflow is not an error here: a run
    that overflows gives a non-finite loss or gradient, which the caller reports.
    workspace : buffers reused from one call to the next (a TrainingRun keeps one)."""
    task = config.task_spec()
    x = np.ascontiguousarray(inputs.transpose(1, 0, 2))  # (T, B, d)
    b = x.shape[1]
    steps = np.array(task.loss_steps)
    w_out, b_out = params["output.weight"], params["output.bias"]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        cache = batch_cells.forward(config.cell, params, x, config.nonlinearity, workspace)
        read = cache.h[steps]  # (S, B, n)
        out = read @ w_out.T + b_out  # (S, B, V)
        count = b * len(steps)
        if task.kind == "classification":
            top = out.max(axis=-1, keepdims=True)
            shifted = out - top
            log_z = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
            log_p = shifted - log_z
            tgt = targets.T  # (S, B)
            picked = np.take_along_axis(log_p, tgt[..., None], axis=-1)[..., 0]
            loss = float(-picked.sum() / count)
            scored = list(task.scored)
            right = np.argmax(out[scored], axis=-1) == tgt[scored]
            accuracy, mse = float(right.mean()), None
            d_out = np.exp(log_p)
            np.put_along_axis(
                d_out, tgt[..., None], np.take_along_axis(d_out, tgt[..., None], axis=-1) - 1.0,
                axis=-1,
            )  # fmt: skip
            d_out /= count
        else:
            err = out[..., 0] - targets.T  # (1, B)
            loss = float(np.mean(err * err))
            accuracy, mse = None, loss
            d_out = (2.0 / count) * err[..., None]
        if not backward:
            return LossGradient(loss, accuracy, mse, {}, np.empty(0))
        grads = {
            "output.weight": np.einsum("sbv,sbn->vn", d_out, read),
            "output.bias": d_out.sum(axis=(0, 1)),
        }
        d_read = d_out @ w_out  # (S, B, n)
        direct = {int(t): d_read[j] for j, t in enumerate(steps)}
        cell_grads, norms = batch_cells.backward(
            cache, params, direct, config.nonlinearity, workspace
        )  # fmt: skip
        log10_dh = np.log10(norms)
    grads.update(cell_grads)
    return LossGradient(loss, accuracy, mse, grads, log10_dh)


class TrainingRun:
    """A run that is advanced one step at a time: ``step()`` returns the step's StepRecord;
    ``evaluate()`` scores the current model on the held-out batch; ``result(status)`` the
    TrainResult so far."""

    def __init__(self, config: TrainConfig):
        self.config = config
        self.task = config.task_spec()
        param_seq, data_seq, eval_seq = np.random.SeedSequence(config.seed).spawn(3)
        self.params = init_params(config, np.random.default_rng(param_seq))
        self.data_rng = np.random.default_rng(data_seq)
        self.eval_batch = self.task.sample(np.random.default_rng(eval_seq), config.eval_size)
        self.optimizer = Optimizer(config.optimizer, config.learning_rate)
        self.records: list[StepRecord] = []
        self.diverged = False
        self.workspace = batch_cells.Workspace()  # the training steps' buffers, reused

    @property
    def steps_done(self) -> int:
        return len(self.records)

    @property
    def finished(self) -> bool:
        return self.diverged or self.steps_done >= self.config.steps

    def step(self) -> StepRecord:
        if self.finished:
            raise RuntimeError("the run has ended")
        c, s = self.config, self.steps_done
        batch = self.task.sample(self.data_rng, c.batch_size)
        lg = loss_and_gradient(
            c, self.params, batch.inputs, batch.targets, workspace=self.workspace
        )  # fmt: skip
        profile = s % c.profile_every == 0
        grads = lg.grads
        with np.errstate(over="ignore", invalid="ignore"):
            before = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
        if not (math.isfinite(lg.loss) and math.isfinite(before)):
            self.diverged = True
            nan = float("nan")
            record = StepRecord(s, lg.loss, lg.accuracy, lg.mse, nan, nan, False, None)
            self.records.append(record)
            return record
        clip = clip_gradients(ScaledTensors(grads, 0.0), c.clip, c.clip_threshold)
        if clip.clipped is None:
            after, fired, update = before, False, grads
        else:
            update = clip.clipped
            after = math.sqrt(sum(float(np.sum(g * g)) for g in update.values()))
            fired = clip.log10_coefficient < 0.0 if c.clip == "norm" else _any_clamped(grads, c)
        self.optimizer.step(self.params, update)
        record = StepRecord(
            s, lg.loss, lg.accuracy, lg.mse, before, after, fired,
            lg.log10_dh if profile else None,
        )  # fmt: skip
        self.records.append(record)
        return record

    def evaluate(self) -> Evaluation:
        b = self.eval_batch
        lg = loss_and_gradient(self.config, self.params, b.inputs, b.targets, backward=False)
        return Evaluation(lg.loss, lg.accuracy, lg.mse)

    def result(self, status: str, elapsed: float = 0.0) -> TrainResult:
        final = None if self.diverged else self.evaluate()
        return TrainResult(
            self.config, status, list(self.records), final, self.task.baseline_loss,
            self.task.chance_accuracy, elapsed,
        )  # fmt: skip


def _any_clamped(grads: dict[str, np.ndarray], config: TrainConfig) -> bool:
    return any(bool(np.any(np.abs(g) > config.clip_threshold)) for g in grads.values())


Callback = Callable[[StepEvent], bool | None]


def train(config: TrainConfig, callback: Callback | None = None) -> TrainResult:
    """Run ``config`` to the end (``finished``), to a non-finite step (``diverged``), or until
    callback(event) returns False (``cancelled``; checked after every step)."""
    run = TrainingRun(config)
    start = time.perf_counter()
    status = "finished"
    while not run.finished:
        record = run.step()
        if callback is not None:
            elapsed = time.perf_counter() - start
            event = StepEvent(record, run.steps_done, config.steps, elapsed, run)
            if callback(event) is False:
                status = "cancelled"
                break
    if run.diverged:
        status = "diverged"
    return run.result(status, time.perf_counter() - start)


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep: its cell, length, status, and the held-out score at the end."""

    cell: str
    length: int
    status: str
    accuracy: float | None
    mse: float | None
    loss: float | None
    chance_accuracy: float | None
    baseline_loss: float

    def to_json(self) -> dict:
        items = asdict(self).items()
        return {k: finite_or_none(v) if isinstance(v, float) else v for k, v in items}


@dataclass(frozen=True)
class SweepResult:
    """points in the order run (cells outer, lengths inner); status finished | cancelled."""

    config: TrainConfig
    cells: tuple[str, ...]
    lengths: tuple[int, ...]
    points: tuple[SweepPoint, ...]
    status: str

    def to_json(self) -> dict:
        return {
            "config": asdict(self.config),
            "cells": list(self.cells),
            "lengths": list(self.lengths),
            "status": self.status,
            "points": [p.to_json() for p in self.points],
        }


def sweep(
    config: TrainConfig, cells: Sequence[str], lengths: Sequence[int],
    callback: Callable[[int, int, StepEvent], bool | None] | None = None,
    on_point: Callable[[int, int, SweepPoint], None] | None = None,
) -> SweepResult:  # fmt: skip
    """Train every cell at every length with the rest of ``config`` (the same step budget,
    batch, optimiser and seed) and score each on its held-out batch: the accuracy-vs-L curve.

    callback(index, total, event) after every step of every run (index = the run's position);
    returning False cancels the sweep (the points finished so far are kept).
    on_point(index, total, point) as each run ends with its point (an observer only)."""
    configs = [replace(config, cell=c, length=int(n)) for c in cells for n in lengths]
    points: list[SweepPoint] = []
    for index, c in enumerate(configs):
        inner = None
        if callback is not None:

            def inner(event: StepEvent, index: int = index) -> bool | None:
                return callback(index, len(configs), event)

        result = train(c, inner)
        if result.status == "cancelled":
            return SweepResult(config, tuple(cells), tuple(lengths), tuple(points), "cancelled")
        f = result.final
        points.append(
            SweepPoint(
                c.cell,
                c.length,
                result.status,
                None if f is None else f.accuracy,
                None if f is None else f.mse,
                None if f is None else f.loss,
                result.chance_accuracy,
                result.baseline_loss,
            )  # fmt: skip
        )
        if on_point is not None:
            on_point(index, len(configs), points[-1])
    return SweepResult(config, tuple(cells), tuple(lengths), tuple(points), "finished")
