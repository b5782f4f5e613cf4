"""What every view's query shares: one base model and the field helpers.

A query model lists every control with its default, its bound and a plain-words title (the
page uses the title as the control's label, OpenAPI as the parameter's name). Choices come
from the engine's own tuples, so the two cannot drift apart. A query is turned into its
engine config one way for every view: ``QueryModel.to_config()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

MAX_HIDDEN = 256
MAX_INPUT = 64
MAX_SEQ_LEN = 1000
MAX_SEED = 2**32 - 1


def choice(values: Iterable[str]) -> Any:
    """One of ``values`` (a select on the page, an enum in OpenAPI)."""
    return Literal[tuple(values)]


def slider(lo: float, hi: float, step: float) -> dict[str, Any]:
    """The page's range slider covers [lo, hi]; the number box next to it takes the full bound."""
    return {"x-slider": {"min": lo, "max": hi, "step": step}}


def bounded(
    kind: type,
    title: str,
    description: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    slide: tuple[float, float, float] | None = None,
) -> Any:
    """A number of ``kind`` (int or float) within its bounds, with its label and description;
    ``slide`` = (lo, hi, step) gives it a slider on the page."""
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le)) if v is not None}
    extra = {"json_schema_extra": slider(*slide)} if slide else {}
    return Annotated[kind, Field(**bounds, title=title, description=description, **extra)]


def _comma_items(value: Any) -> Any:
    """A comma list as a list of entries: "64, 32" (a URL query) -> ["64", "32"], and so are
    ["64,32"] (FastAPI hands a sequence field's query values over as a list) and ["64", "32"]
    (``?layers=64&layers=32``); a JSON list of numbers is taken as it is."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return value
    items: list[Any] = []
    for v in value:
        if isinstance(v, str):
            items += [part.strip() for part in v.split(",") if part.strip()]
        else:
            items.append(v)
    return items


def int_list(
    title: str,
    description: str,
    *,
    ge: int,
    le: int,
    min_items: int = 1,
    max_items: int,
) -> Any:
    """A comma list of integers (``layers=64,32``), each within [ge, le], of min_items to
    max_items entries, as a tuple. A bad entry is reported as ``<field>.<index>`` with its
    bound; too many or too few entries on the field itself."""
    item = Annotated[int, Field(ge=ge, le=le)]
    schema = {
        "type": "string",
        "pattern": r"^\s*-?\d+\s*(,\s*-?\d+\s*)*$",
        "title": title,
        "description": description,
    }
    return Annotated[
        tuple[item, ...],
        BeforeValidator(_comma_items),
        Field(title=title, description=description, min_length=min_items, max_length=max_items),
        WithJsonSchema(schema),
    ]


def query_value(value: Any) -> str:
    """A value as the URL query spells it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    if isinstance(value, tuple | list):
        return ",".join(query_value(v) for v in value)
    return str(value)


def cross_field_error(field: str, message: str, **limit) -> PydanticCustomError:
    """An error about a combination of fields, reported on ``field`` (see errors.py)."""
    return PydanticCustomError("cross_field", message, {"field": field, **limit})


class QueryModel(BaseModel):
    """The base of every view's query: unknown fields are refused, numbers are finite, a
    validated query is frozen (hashable, a cache key). ``engine_config`` is the engine's
    config dataclass the query becomes (``to_config``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    engine_config: ClassVar[Any] = None

    def engine_values(self) -> dict[str, Any]:
        """The values the engine config is made from, by the config's names (a view whose
        fields do not map one to one onto its config overrides this)."""
        return self.model_dump()

    def engine_fields(self) -> dict[str, Any]:
        """The engine config's fields, in the query's order; fields of the query the config
        does not have (response shaping, the descent of /cliff, ...) are left out."""
        names = set(self.engine_config.field_names())
        return {k: v for k, v in self.engine_values().items() if k in names}

    def to_config(self) -> Any:
        """The engine config of this query."""
        return self.engine_config(**self.engine_fields())

    def query_string(self) -> str:
        """The canonical query: only non-default values, in field order."""
        pairs = [
            (name, query_value(value))
            for name, value in self.model_dump().items()
            if value != type(self).model_fields[name].default
        ]
        return urlencode(pairs)
