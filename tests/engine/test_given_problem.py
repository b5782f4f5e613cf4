"""gradient_flow on a given problem: the user's tensors in place of the drawn ones."""

from dataclasses import replace

import numpy as np
import pytest

from bpttlab.engine import GradientFlowConfig, gradient_flow
from bpttlab.engine.gradient_flow import (
    TensorShapeError,
    check_problem,
    draw_config_problem,
    given_problem,
    tensor_shapes,
)

SMALL = dict(hidden_size=4, input_size=3, seq_len=9, h0="random")
CONFIGS = [
    GradientFlowConfig(**SMALL),
    GradientFlowConfig(**SMALL, cell="lstm", forget_bias=1.5),
    GradientFlowConfig(**SMALL, cell="lstm", peephole=True),
    GradientFlowConfig(**SMALL, cell="gru", gru_form="lecture", update_bias=-2.0),
]


def all_tensors(config):
    p = draw_config_problem(config)
    out = {k: getattr(p.params, k) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    if config.peephole and config.cell == "lstm":
        out["peephole"] = p.params.peephole
    out.update(inputs=p.inputs, h0=p.h0, target=p.target)
    if p.c0 is not None:
        out["c0"] = p.c0
    return out


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.cell}-{c.peephole}")
def test_the_drawn_tensors_given_back_reproduce_the_run(config):
    tensors = all_tensors(config)
    assert {k: v.shape for k, v in tensors.items()} == tensor_shapes(config)
    a = gradient_flow(config)
    b = gradient_flow(config, problem=given_problem(config, tensors))
    np.testing.assert_array_equal(a.profile.spectral, b.profile.spectral)
    np.testing.assert_array_equal(a.profile.frobenius, b.profile.frobenius)
    np.testing.assert_array_equal(a.gradient.log10_dh, b.gradient.log10_dh)


def test_nothing_given_is_the_drawn_problem():
    config = CONFIGS[1]
    given, drawn = given_problem(config, {}), draw_config_problem(config)
    np.testing.assert_array_equal(given.params.weight_hh, drawn.params.weight_hh)
    np.testing.assert_array_equal(given.c0, drawn.c0)


def test_given_states_keep_the_drawn_weights():
    config = CONFIGS[0]
    p = given_problem(config, {"h0": np.ones(4)})
    np.testing.assert_array_equal(p.h0, np.ones(4))
    np.testing.assert_array_equal(p.params.weight_hh, draw_config_problem(config).params.weight_hh)


def test_a_wrong_shape_carries_name_expected_and_got():
    config = GradientFlowConfig(cell="lstm")
    tensors = {**all_tensors(config), "weight_hh": np.zeros((3, 3))}
    with pytest.raises(TensorShapeError) as e:
        given_problem(config, tensors)
    assert (e.value.name, e.value.expected, e.value.got) == ("weight_hh", (128, 32), (3, 3))
    assert str(e.value) == "expected shape (128, 32), got (3, 3)"


def test_missing_unused_and_unknown_tensors():
    config = CONFIGS[2]
    tensors = all_tensors(config)
    del tensors["peephole"]
    with pytest.raises(TensorShapeError) as e:
        given_problem(config, tensors)
    assert (e.value.name, e.value.expected, e.value.got) == ("peephole", (3, 4), None)
    with pytest.raises(TensorShapeError, match="c0 is for cell=lstm only") as e:
        given_problem(CONFIGS[0], {"c0": np.zeros(4)})
    assert e.value.expected is None and e.value.got == (4,)
    with pytest.raises(TensorShapeError, match="unknown tensor 'weight_hh_l0'"):
        given_problem(CONFIGS[0], {"weight_hh_l0": np.zeros((4, 4))})


def test_non_finite_tensors_are_refused():
    with pytest.raises(ValueError, match="not finite"):
        given_problem(CONFIGS[0], {"target": np.array([0.0, np.nan, 0.0, 0.0])})


def test_a_problem_that_does_not_fit_the_config_is_refused():
    config = CONFIGS[0]
    problem = draw_config_problem(replace(config, seq_len=10))
    with pytest.raises(TensorShapeError) as e:
        gradient_flow(config, problem=problem)
    assert e.value.name == "inputs"
    with pytest.raises(TensorShapeError):
        check_problem(replace(config, cell="gru"), draw_config_problem(config))
    gru = replace(config, cell="gru")
    with pytest.raises(ValueError, match="gru_form"):
        check_problem(replace(gru, gru_form="lecture"), draw_config_problem(gru))


def test_half_identity_closed_form():
    n, t_len = 6, 40
    config = GradientFlowConfig(nonlinearity="identity", hidden_size=n, input_size=2, seq_len=t_len)
    p = draw_config_problem(config)
    problem = replace(p, params=replace(p.params, weight_hh=0.5 * np.eye(n)))
    r = gradient_flow(config, problem=problem)
    np.testing.assert_allclose(r.profile.spectral, np.arange(t_len + 1) * np.log10(0.5), atol=1e-12)
