"""The task generators' structure, seeding, and chance / baseline levels computed here from
the generated data (not taken from the module's constants)."""

import math

import numpy as np
import pytest

from bpttlab.engine.tasks import make_task


def _ce(probs: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy of predicted distributions probs (..., V) at integer targets."""
    return float(-np.mean(np.log(np.take_along_axis(probs, targets[..., None], -1))))


@pytest.mark.parametrize("name", ["recall", "copy", "adding"])
def test_the_same_seed_gives_the_same_batch_and_another_seed_another(name):
    task = make_task(name, 7, 5)
    a = task.sample(np.random.default_rng(4), 16)
    b = task.sample(np.random.default_rng(4), 16)
    c = task.sample(np.random.default_rng(5), 16)
    assert np.array_equal(a.inputs, b.inputs) and np.array_equal(a.targets, b.targets)
    assert not np.array_equal(a.inputs, c.inputs)
    assert a.inputs.shape == (16, task.seq_len, task.input_size)


def test_recall_target_is_the_first_token_after_l_distractors():
    k, length = 5, 9
    task = make_task("recall", length, k)
    batch = task.sample(np.random.default_rng(0), 4000)
    assert task.seq_len == length + 1 and task.loss_steps == (length + 1,)
    assert np.all(batch.inputs.sum(axis=-1) == 1.0)  # one-hot
    tokens = batch.inputs.argmax(axis=-1)
    assert np.array_equal(batch.targets[:, 0], tokens[:, 0])
    # distractors are drawn from the same symbols, independently of the target
    assert set(np.unique(tokens[:, 1:])) == set(range(k))
    # chance: a uniform guess scores ln K, and any fixed answer is right 1/K of the time
    uniform = np.full((len(batch.targets), 1, k), 1.0 / k)
    assert _ce(uniform, batch.targets) == pytest.approx(task.baseline_loss, rel=1e-12)
    assert task.baseline_loss == pytest.approx(math.log(k))
    hit = np.mean(batch.targets[:, 0] == 2)
    assert abs(hit - task.chance_accuracy) < 4 * math.sqrt(0.2 * 0.8 / 4000)
    assert task.chance_accuracy == pytest.approx(1 / k)


@pytest.mark.parametrize("length", [1, 5, 30])
def test_copy_follows_arjovsky_and_its_memoryless_baseline(length):
    task = make_task("copy", length)
    batch = task.sample(np.random.default_rng(1), 500)
    t = length + 20
    tokens = batch.inputs.argmax(axis=-1)
    assert tokens.shape == (500, t) and task.loss_steps == tuple(range(1, t + 1))
    data = tokens[:, :10]
    assert data.min() >= 1 and data.max() <= 8
    assert np.all(tokens[:, 10 : 10 + length - 1] == 0)  # T - 1 blanks
    assert np.all(tokens[:, 10 + length - 1] == 9)  # the delimiter
    assert np.all(tokens[:, -10:] == 0)
    assert np.all(batch.targets[:, : t - 10] == 0)
    assert np.array_equal(batch.targets[:, -10:], data)
    # the memoryless predictor: blank for sure until the delimiter's echo, then uniform on 1..8
    probs = np.zeros((500, t, 9))
    probs[:, : t - 10, 0] = 1.0
    probs[:, t - 10 :, 1:] = 1.0 / 8
    with np.errstate(divide="ignore"):
        memoryless = _ce(probs, batch.targets)
    assert memoryless == pytest.approx(10 * math.log(8) / (length + 20), rel=1e-12)
    assert task.baseline_loss == pytest.approx(memoryless, rel=1e-12)
    assert task.scored == tuple(range(t - 10, t)) and task.chance_accuracy == 1 / 8


@pytest.mark.parametrize("length", [2, 9, 50])
def test_adding_has_one_marker_per_half_and_baseline_one_sixth(length):
    task = make_task("adding", length)
    n = 100_000 if length == 50 else 2000
    batch = task.sample(np.random.default_rng(2), n)
    values, markers = batch.inputs[..., 0], batch.inputs[..., 1]
    half = length // 2
    assert np.all(markers[:, :half].sum(axis=1) == 1) and np.all(markers[:, half:].sum(axis=1) == 1)
    assert values.min() >= 0.0 and values.max() < 1.0
    np.testing.assert_allclose(batch.targets[:, 0], (values * markers).sum(axis=1), rtol=1e-15)
    if length == 50:  # predicting 1 always: MSE = Var(U + U') = 2 / 12
        mse = np.mean((batch.targets[:, 0] - 1.0) ** 2)
        # the squared error's standard deviation is below 0.25: 5 standard errors
        assert abs(mse - 2 / 12) < 5 * 0.25 / math.sqrt(n)
    assert task.baseline_loss == pytest.approx(0.167, abs=5e-4)


@pytest.mark.parametrize(("name", "length"), [("recall", 0), ("copy", 0), ("adding", 1)])
def test_too_short_is_refused_naming_the_field(name, length):
    with pytest.raises(ValueError, match="length"):
        make_task(name, length)
