"""The schemas' shared base: one conversion of a query into its engine config for every view,
and the field helpers (the comma list of integers for `layers`-style fields)."""

from dataclasses import dataclass, fields
from urllib.parse import parse_qsl

import pytest
from pydantic import ValidationError

from bpttlab.engine import GradientFlowConfig
from bpttlab.engine.cliff import CliffConfig
from bpttlab.engine.eigen import EigenConfig
from bpttlab.server.errors import validation_items
from bpttlab.server.schemas import (
    CliffQuery,
    CompareQuery,
    EigenQuery,
    GradientFlowBody,
    GradientFlowQuery,
    QueryModel,
    bounded,
    int_list,
)


@dataclass(frozen=True)
class _Stack:
    layers: tuple[int, ...] = (64,)
    seed: int = 0

    @classmethod
    def field_names(cls):
        return tuple(f.name for f in fields(cls))


class StackQuery(QueryModel):
    engine_config = _Stack

    layers: int_list(
        "Layers", "Hidden sizes, bottom first (1..256 each).", ge=1, le=256, max_items=4
    ) = (64,)
    seed: bounded(int, "Seed", "The seed.", ge=0, le=10) = 0
    note: str = ""  # a field the engine config does not have


def _errors(params) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        StackQuery.model_validate(params)
    return validation_items(info.value.errors())


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("64,32", (64, 32)), (" 64 , 32 ,8 ", (64, 32, 8)), ("7", (7,)), ([16, 8], (16, 8))],
)
def test_a_comma_list_of_integers_from_a_query_or_a_json_list(value, parsed):
    assert StackQuery.model_validate({"layers": value}).layers == parsed


def test_a_bad_entry_is_named_by_its_index_with_its_bound():
    [error] = _errors({"layers": "64,0,32"})
    assert error["field"] == "layers.1"
    assert error["type"] == "greater_than_equal" and error["limit"] == {"ge": 1}
    [error] = _errors({"layers": "64,257"})
    assert error["field"] == "layers.1" and error["limit"] == {"le": 256}
    [error] = _errors({"layers": "64,x"})
    assert error["field"] == "layers.1" and error["type"] == "int_parsing"


def test_the_number_of_entries_is_bounded():
    [error] = _errors({"layers": "1,2,3,4,5"})
    assert error["field"] == "layers" and error["type"] == "too_long"
    assert error["limit"]["max_length"] == 4
    [error] = _errors({"layers": ""})
    assert error["field"] == "layers" and error["type"] == "too_short"
    assert error["limit"]["min_length"] == 1


def test_a_comma_list_round_trips_through_the_query_string():
    q = StackQuery(layers="128,64", seed=3)
    qs = q.query_string()
    assert dict(parse_qsl(qs)) == {"layers": "128,64", "seed": "3"}
    assert StackQuery.model_validate(dict(parse_qsl(qs))) == q
    assert StackQuery().query_string() == ""


def test_a_comma_list_is_a_string_in_the_json_schema():
    schema = StackQuery.model_json_schema()["properties"]["layers"]
    assert schema["type"] == "string" and schema["title"] == "Layers"
    assert "pattern" in schema


def test_the_engine_config_takes_the_fields_it_has():
    q = StackQuery(layers="32,16", seed=2, note="kept out")
    assert q.engine_fields() == {"layers": (32, 16), "seed": 2}
    assert q.to_config() == _Stack(layers=(32, 16), seed=2)


@pytest.mark.parametrize(
    ("query", "config"),
    [
        (GradientFlowQuery(), GradientFlowConfig()),
        (
            GradientFlowQuery(cell="lstm", seq_len=7, include="weights"),
            GradientFlowConfig(cell="lstm", seq_len=7),
        ),
        (CompareQuery(seq_len=9, forget_bias=5.0), GradientFlowConfig(seq_len=9, forget_bias=5.0)),
        (CliffQuery(seq_len=20, start_w=2.0), CliffConfig(seq_len=20, nonlinearity="sigmoid")),
        (
            EigenQuery(radius1=0.5, angle2=0.0, seed=4),
            EigenConfig(radii=(0.5, 0.9, 0.6), angles=(0.0, 0.0, 2.0), coupling=10.0, seed=4),
        ),
        (
            EigenQuery(matrix="orthogonal", hidden_size=5),
            EigenConfig(matrix="orthogonal", hidden_size=5, coupling=10.0),
        ),
    ],
)
def test_every_view_turns_its_query_into_its_engine_config_one_way(query, config):
    assert isinstance(query, QueryModel)
    assert query.to_config() == config


def test_the_post_body_leaves_its_tensors_out_of_the_config():
    body = GradientFlowBody(seq_len=5, weights={"h0": [0.0] * 32})
    assert body.to_config() == GradientFlowConfig(seq_len=5)
    assert set(body.tensors()) == {"h0"}


def test_a_comma_list_through_fastapi_as_a_query_and_in_openapi():
    from typing import Annotated

    from fastapi import FastAPI, Query
    from fastapi.testclient import TestClient

    app = FastAPI()

    @app.get("/stack")
    def stack(q: Annotated[StackQuery, Query()]) -> dict:
        return {"layers": list(q.layers)}

    with TestClient(app) as c:
        assert c.get("/stack", params={"layers": "64,32"}).json() == {"layers": [64, 32]}
        assert c.get("/stack?layers=8&layers=4").json() == {"layers": [8, 4]}
        assert c.get("/stack").json() == {"layers": [64]}
        assert c.get("/stack", params={"layers": "64,0"}).status_code == 422
        [param] = [
            p
            for p in c.get("/openapi.json").json()["paths"]["/stack"]["get"]["parameters"]
            if p["name"] == "layers"
        ]
        assert param["schema"]["type"] == "string"
