"""serialize.dumps: the same bytes as one json.dumps call, made piece by piece."""

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.serialize import dumps

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


@given(values)
def test_dumps_is_json_dumps_byte_for_byte(value):
    assert dumps(value) == json.dumps(value, allow_nan=False, separators=(",", ":")).encode()


@pytest.mark.parametrize("bad", [math.nan, [1.0, math.inf], {"a": [[0.0, -math.inf]]}])
def test_dumps_refuses_non_finite_numbers(bad):
    with pytest.raises(ValueError):
        dumps(bad)


def test_non_string_keys_are_encoded_as_json_does():
    value = {"a": {1: [[1, 2]], 2.5: None, None: "x"}}
    assert dumps(value) == json.dumps(value, separators=(",", ":")).encode()
