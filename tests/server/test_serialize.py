"""serialize.dumps: the same JSON values as one json.dumps call, made piece by piece."""

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpttlab.server.serialize import dumps

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=40,
)
number_lists = st.lists(
    st.none() | st.integers() | st.floats(allow_nan=False, allow_infinity=False), min_size=1
)


def _strict(text: bytes):
    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def _same(a, b) -> bool:
    """Equal values of equal types, floats bit for bit (so -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@given(values)
def test_dumps_reads_back_as_json_dumps_does(value):
    expected = json.loads(json.dumps(value, allow_nan=False, separators=(",", ":")))
    assert _same(_strict(dumps(value)), expected)


@given(number_lists)
def test_lists_of_numbers_read_back_exactly(value):
    assert _same(_strict(dumps(value)), value)
    assert _same(_strict(dumps({"a": [value, value]})), {"a": [value, value]})


def test_extreme_floats_read_back_exactly():
    value = [5e-324, -2.2250738585072014e-308, 1.7976931348623157e308, -0.0, 0.1, 1e-5, 1e16]
    assert _same(_strict(dumps(value)), value)
    assert b" " not in dumps({"a": value})  # compact, as separators=(",", ":")


def test_what_is_not_a_flat_list_of_numbers_is_json_byte_for_byte():
    value = {"a": [1.5, "x"], "b": ["é", 2.0], "c": [2**70, 1.0], "d": [True, 1.0], "e": "s"}
    assert dumps(value) == json.dumps(value, allow_nan=False, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "bad",
    [
        math.nan,
        [1.0, math.inf],
        [None, 2.0, math.nan],
        [1, -math.inf],
        {"a": [[0.0, -math.inf]]},
    ],
)
def test_dumps_refuses_non_finite_numbers(bad):
    with pytest.raises(ValueError):
        dumps(bad)


def test_non_string_keys_are_encoded_as_json_does():
    value = {"a": {1: [[1, 2]], 2.5: None, None: "x"}}
    assert dumps(value) == json.dumps(value, separators=(",", ":")).encode()
