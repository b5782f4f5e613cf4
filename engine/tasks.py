"""Tasks with a controlled dependency length L, their seeded generators and chance levels.

- ``recall``: a token from K symbols, then L distractors drawn from the same K symbols; after
  the last one the network outputs the first token (the lecture's "tickets" dependency).
  T = L + 1 steps, inputs one-hot (K), the loss read at step T only. Chance: accuracy 1/K,
  cross-entropy ln K.
- ``copy``: Arjovsky, Shah and Bengio 2016's copy task with T = L: 10 symbols drawn from 8
  (1..8), L - 1 blanks (0), a delimiter (9), 10 blanks; the target is L + 10 blanks then the
  10 symbols. L + 20 steps, inputs one-hot (10), outputs 9 classes (blank, 1..8), the loss the
  cross-entropy averaged over all L + 20 steps. The memoryless baseline (blank for the first
  L + 10 steps, then uniform over the 8 symbols) scores 10 ln 8 / (L + 20); accuracy is taken
  over the 10 recalled symbols (chance 1/8).
- ``adding``: Hochreiter and Schmidhuber's adding problem as Arjovsky et al. state it: T = L
  steps of (value in U[0, 1], marker), one marker in each half (steps 0..floor(L/2) - 1 and
  floor(L/2)..L - 1), the target the sum of the two marked values, read at the last step with
  the squared error. Predicting 1 always gives MSE = Var(U + U') = 1/6 (0.167).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TASKS = ("recall", "copy", "adding")
COPY_SYMBOLS = 8
COPY_LENGTH = 10  # symbols to copy
COPY_BLANK, COPY_DELIMITER = 0, 9
MIN_LENGTH = {"recall": 1, "copy": 1, "adding": 2}


@dataclass(frozen=True)
class Batch:
    """inputs : (B, T, input_size); targets : (B, len(loss_steps)) int class labels for a
    classification task, (B, 1) floats for ``adding``."""

    inputs: np.ndarray
    targets: np.ndarray


@dataclass(frozen=True)
class Task:
    """A task at dependency length ``length``.

    loss_steps : the steps t (1..seq_len) whose hidden state h_t the loss reads, in order;
    scored : the positions in loss_steps over which accuracy is counted (classification);
    baseline_loss : the loss of the task's chance / memoryless predictor;
    chance_accuracy : its accuracy (None for ``adding``, which reports the MSE).
    """

    name: str
    length: int
    symbols: int
    seq_len: int
    input_size: int
    output_size: int
    kind: str  # "classification" | "regression"
    loss_steps: tuple[int, ...]
    scored: tuple[int, ...]
    baseline_loss: float
    chance_accuracy: float | None

    def sample(self, rng: np.random.Generator, batch: int) -> Batch:
        """``batch`` sequences drawn from rng (the same rng state gives the same batch)."""
        if self.name == "recall":
            return _recall(rng, batch, self.length, self.symbols)
        if self.name == "copy":
            return _copy(rng, batch, self.length)
        return _adding(rng, batch, self.length)


def make_task(name: str, length: int, symbols: int = 8) -> Task:
    """The task ``name`` at dependency length ``length``; ``symbols`` (K) is recall's vocabulary
    (copy always uses 8, as Arjovsky et al.). ValueError naming the field and its limit."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}")
    if length < MIN_LENGTH[name]:
        raise ValueError(f"length must be >= {MIN_LENGTH[name]} for {name}")
    if name == "recall":
        if symbols < 2:
            raise ValueError("symbols must be >= 2")
        t = length + 1
        return Task(name, length, symbols, t, symbols, symbols, "classification", (t,), (0,),
                    math.log(symbols), 1.0 / symbols)  # fmt: skip
    if name == "copy":
        t = length + 2 * COPY_LENGTH
        return Task(
            name, length, COPY_SYMBOLS, t, COPY_SYMBOLS + 2, COPY_SYMBOLS + 1, "classification",
            tuple(range(1, t + 1)), tuple(range(t - COPY_LENGTH, t)),
            COPY_LENGTH * math.log(COPY_SYMBOLS) / t, 1.0 / COPY_SYMBOLS,
        )  # fmt: skip
    return Task(name, length, 0, length, 2, 1, "regression", (length,), (0,), 1.0 / 6.0, None)


def _one_hot(tokens: np.ndarray, size: int) -> np.ndarray:
    return (tokens[..., None] == np.arange(size)).astype(float)


def _recall(rng, batch, length, symbols) -> Batch:
    tokens = rng.integers(0, symbols, size=(batch, length + 1))
    return Batch(_one_hot(tokens, symbols), tokens[:, :1].copy())


def _copy(rng, batch, length) -> Batch:
    t = length + 2 * COPY_LENGTH
    data = rng.integers(1, COPY_SYMBOLS + 1, size=(batch, COPY_LENGTH))
    tokens = np.full((batch, t), COPY_BLANK)
    tokens[:, :COPY_LENGTH] = data
    tokens[:, COPY_LENGTH + length - 1] = COPY_DELIMITER
    targets = np.full((batch, t), COPY_BLANK)
    targets[:, t - COPY_LENGTH :] = data
    return Batch(_one_hot(tokens, COPY_SYMBOLS + 2), targets)


def _adding(rng, batch, length) -> Batch:
    half = length // 2
    values = rng.uniform(0.0, 1.0, size=(batch, length))
    first = rng.integers(0, half, size=batch)
    second = rng.integers(half, length, size=batch)
    markers = np.zeros((batch, length))
    rows = np.arange(batch)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    target = values[rows, first] + values[rows, second]
    return Batch(np.stack([values, markers], axis=-1), target[:, None])
