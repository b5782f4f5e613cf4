"""The robust outcome measures of a descent, against hand-built paths and closed forms."""

import numpy as np
import pytest

from bpttlab.engine.cliff import (
    PLATEAU_LOSS,
    STALL_DISTANCE,
    TAIL,
    THROW_FACTOR,
    THROW_WINDOW,
    CliffConfig,
    DescentPath,
    descend,
    descent_outcome,
    first_throw,
)


def _path(points, loss) -> DescentPath:
    points = np.asarray(points, dtype=float)
    return DescentPath(
        mode="none",
        points=points,
        loss=np.asarray(loss, dtype=float),
        log10_grad_norm=np.zeros(len(points)),
        step_length=np.linalg.norm(np.diff(points, axis=0), axis=1),
        diverged_at=None,
    )


def test_the_stated_constants():
    assert (TAIL, THROW_FACTOR, THROW_WINDOW) == (20, 10.0, 5)
    assert (STALL_DISTANCE, PLATEAU_LOSS) == (1e-3, 0.01)


@pytest.mark.parametrize(
    ("steps", "bound", "expected"),
    [
        ([1, 1, 1, 1, 1, 50], 10.0, 6),  # 50 > 10 x median 1 and > the bound
        ([1, 1, 1, 1, 1, 50], 100.0, None),  # not longer than a clipped step can be
        ([1, 1, 1, 1, 1, 9.9], 1.0, None),  # 9.9 < 10 x 1
        ([1, 1, 1, 1, 1, 10.0], 1.0, None),  # exactly 10 x: not longer
        ([500, 1, 1], 1.0, None),  # step 1 has nothing before it: never a throw
        ([100, 1, 1, 1, 1, 1, 20], 1.0, 7),  # the window is the 5 steps before: median 1
        ([100, 100, 100, 1, 1, 20], 1.0, None),  # window (100, 100, 100, 1, 1): median 100
        ([1, 2, 3, 400, 5000], 1.0, 4),  # the first throw, not the longest step
        ([0, 0, 3], 1.0, 3),  # after standing still, any step above the bound
        ([], 1.0, None),
    ],
)
def test_first_throw_on_hand_built_steps(steps, bound, expected):
    assert first_throw(np.array(steps, dtype=float), bound) == expected


def test_outcome_of_a_hand_built_run_thrown_onto_a_plateau():
    # 10 steps of 0.1 along w, one step of 30 along b, then 29 steps of 1e-6 along w
    pts = [(0.1 * i, 0.0) for i in range(11)]
    pts.append((1.0, 30.0))
    pts += [(1.0 + 1e-6 * (i + 1), 30.0) for i in range(29)]
    loss = list(np.linspace(0.3, 0.2, 11)) + [0.09] * 30
    o = descent_outcome(_path(pts, loss), step_bound=1.0)
    assert o.tail == 20
    assert o.median_loss == pytest.approx(0.09) and o.best_loss == pytest.approx(0.09)
    assert o.thrown_at == 11
    assert o.throw_length == pytest.approx(30.0)
    assert o.throw_ratio == pytest.approx(300.0)
    assert o.landing == pytest.approx((1.0, 30.0))
    assert o.moved == pytest.approx(19e-6)  # the 19 steps between the last 20 iterates
    assert o.stalled and o.plateau


def test_median_and_best_of_the_last_iterations():
    loss = np.arange(30) / 100.0  # the last 20 are 0.10 .. 0.29
    pts = [(float(i), 0.0) for i in range(30)]  # steps of 1: moving
    o = descent_outcome(_path(pts, loss), step_bound=10.0)
    assert o.median_loss == pytest.approx(0.195) and o.best_loss == pytest.approx(0.10)
    assert o.moved == pytest.approx(19.0) and not o.stalled and not o.plateau
    assert o.thrown_at is None and o.landing is None and o.throw_ratio is None


def test_a_run_that_stops_at_low_loss_has_settled_not_plateaued():
    pts = [(0.0, 0.0)] * 25
    o = descent_outcome(_path(pts, [PLATEAU_LOSS / 2] * 25), step_bound=1.0)
    assert o.stalled and not o.plateau


def test_short_runs_use_every_iterate():
    o = descent_outcome(_path([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)], [0.4, 0.1, 0.3]), 1.0)
    assert o.tail == 3 and o.median_loss == pytest.approx(0.3) and o.best_loss == 0.1
    assert o.moved == pytest.approx(2.0)
    o = descent_outcome(_path([(0.0, 0.0)], [0.4]), 1.0)
    assert o.tail == 1 and o.moved == 0.0 and not o.stalled  # no step: not stalled


def test_clipped_runs_are_never_thrown_and_their_steps_are_bounded():
    c = CliffConfig(seq_len=50, b_max=1.0)
    d = descend(c, (5.0, -2.6), learning_rate=0.5, steps=80, clip_threshold=0.2)
    assert d.clipped_step_max == pytest.approx(np.sqrt(2) * 0.5 * 0.2)
    out = d.outcomes
    assert out["norm"].thrown_at is None and out["value"].thrown_at is None
    assert d.paths["norm"].step_length.max() <= d.step_bound
    assert d.paths["value"].step_length.max() <= d.clipped_step_max * (1 + 1e-12)


def test_the_clip_point_is_where_the_unclipped_run_was_thrown():
    d = descend(CliffConfig())  # the defaults: thrown
    k = d.outcomes["none"].thrown_at
    assert k is not None
    np.testing.assert_array_equal(d.clip_point, d.paths["none"].points[k - 1])
    flat = descend(CliffConfig(), (2.0, 0.5), learning_rate=0.01, steps=10)
    assert flat.outcomes["none"].thrown_at is None and flat.clip_point == (2.0, 0.5)
