"""One error shape: every 4xx names the field and the bound that was violated."""

import pytest

from .conftest import strict_json

BAD = [
    ("seq_len", "0", "greater_than_equal", {"ge": 1}),
    ("seq_len", "1001", "less_than_equal", {"le": 1000}),
    ("seq_len", "abc", "int_parsing", {}),
    ("seq_len", "1.5", "int_parsing", {}),
    ("hidden_size", "257", "less_than_equal", {"le": 256}),
    ("input_size", "65", "less_than_equal", {"le": 64}),
    ("scale", "-1", "greater_than_equal", {"ge": 0}),
    ("scale", "101", "less_than_equal", {"le": 100}),
    ("scale", "nan", "finite_number", {}),
    ("scale", "inf", "finite_number", {}),
    ("input_scale", "-inf", "finite_number", {}),
    ("clip_threshold", "0", "greater_than", {"gt": 0}),
    ("clip_threshold", "1e7", "less_than_equal", {"le": 1e6}),
    ("seed", "-1", "greater_than_equal", {"ge": 0}),
    ("seed", str(2**32), "less_than_equal", {"le": 2**32 - 1}),
    ("forget_bias", "51", "less_than_equal", {"le": 50}),
    ("cell", "transformer", "literal_error", {"expected": "'rnn', 'lstm' or 'gru'"}),
    ("nonlinearity", "gelu", "literal_error", None),
    ("clip", "both", "literal_error", {"expected": "'none', 'norm' or 'value'"}),
    ("peephole", "maybe", "bool_parsing", {}),
    ("include", "weights,secrets", "value_error", {}),
    ("colour", "red", "extra_forbidden", {}),
]


@pytest.mark.parametrize("path", ["/api/v1/gradient-flow", "/api/v1/gradient-flow/figures"])
@pytest.mark.parametrize(("field", "value", "kind", "limit"), BAD)
def test_bad_input_is_a_422_naming_field_and_bound(client, path, field, value, kind, limit):
    r = client.get(path, params={field: value})
    assert r.status_code == 422
    body = strict_json(r.text)
    assert body["status"] == 422
    [error] = body["errors"]
    assert error["field"] == field
    assert error["type"] == kind
    if limit is not None:
        assert error["limit"] == limit
    assert body["message"].startswith(f"{field}: ")
    assert error["input"] == value


def test_several_errors_are_all_reported(client):
    r = client.get("/api/v1/gradient-flow", params={"seq_len": 0, "hidden_size": 999})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"seq_len", "hidden_size"}


def test_unknown_path_has_the_same_shape(client):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    body = r.json()
    assert body["status"] == 404 and body["errors"][0]["type"] == "not_found"


def test_long_hostile_input_is_echoed_truncated_as_data(client):
    value = "<script>alert(1)</script>" * 20
    r = client.get("/api/v1/gradient-flow", params={"cell": value})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/json"
    assert len(r.json()["errors"][0]["input"]) <= 203
