"""Page controls derived from a query model: label, bound and default come from the schema,
so the page, the API and its OpenAPI description always agree."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from .errors import validation_items


@dataclass(frozen=True)
class Control:
    """One labelled control. kind: select | checkbox | range (slider + number box) | number."""

    name: str
    label: str
    description: str
    kind: str
    value: Any
    default: Any
    options: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | str = "any"
    slider: dict | None = None
    cells: tuple[str, ...] = ()  # the cells it applies to; () means every cell


def _bounds(info: FieldInfo) -> tuple[float | None, float | None, bool]:
    lo = hi = None
    exclusive_lo = False
    for m in info.metadata:
        if getattr(m, "ge", None) is not None:
            lo = m.ge
        if getattr(m, "gt", None) is not None:
            lo, exclusive_lo = m.gt, True
        if getattr(m, "le", None) is not None:
            hi = m.le
    return lo, hi, exclusive_lo


def control(model: type[BaseModel], name: str, value: Any, cells: tuple[str, ...] = ()) -> Control:
    info = model.model_fields[name]
    annotation = info.annotation
    common = {
        "name": name,
        "label": info.title or name,
        "description": info.description or "",
        "value": value,
        "default": info.default,
        "cells": cells,
    }
    if typing.get_origin(annotation) is typing.Literal:
        return Control(kind="select", options=typing.get_args(annotation), **common)
    if annotation is bool:
        return Control(kind="checkbox", **common)
    lo, hi, exclusive_lo = _bounds(info)
    step: float | str = 1 if annotation is int else "any"
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    slider = extra.get("x-slider")
    return Control(
        kind="range" if slider else "number",
        minimum=None if exclusive_lo else lo,
        maximum=hi,
        step=step,
        slider=slider,
        **common,
    )


def lenient(model: type[BaseModel], params: dict[str, str]) -> tuple[BaseModel, list[dict]]:
    """Validate a page's query: fields that fail (or are unknown) fall back to their defaults,
    and the errors are returned so the page can say what it ignored."""
    kept, problems = dict(params), []
    while True:
        try:
            return model.model_validate(kept), problems
        except ValidationError as exc:
            if not kept:
                raise  # the defaults themselves do not validate: a bug, not bad input
            items = validation_items(exc.errors())
        problems += items
        bad = {item["field"] for item in items}
        fewer = {k: v for k, v in kept.items() if k in model.model_fields and k not in bad}
        # a value that is wrong only next to another field's default (w_min above the default
        # w_max) cannot be singled out: then every field falls back to its default
        kept = fewer if fewer != kept else {}
