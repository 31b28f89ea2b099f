"""The input schema of a user's LangGraph graph, as JSON Schema and a validator.

What a run may set: the keys of the graph's input schema (`StateGraph(State,
input_schema=In)`), or of its state when it declares none. A key outside them is refused
(LangGraph would drop it silently, and a misspelt key then fails deep inside a node).
What a run must set: the required keys of a declared input schema (a `TypedDict`'s
required keys, a pydantic model's required fields); when the state is the input, a run
may set any subset of it, as LangGraph's server accepts — except a pydantic state, whose
required fields LangGraph itself enforces.

pydantic refuses `typing.TypedDict` on Python < 3.12 (the form LangGraph's docs use), so a
TypedDict is rebuilt as a `typing_extensions.TypedDict` with reducers stripped.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Callable
from typing import Any

import typing_extensions
from langchain_core.messages import convert_to_messages
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, PydanticUserError, TypeAdapter, ValidationError

from graphs.registry import GraphInputInvalid, pydantic_errors

Validator = Callable[[dict[str, Any]], dict[str, Any]]


def input_contract(
    name: str, graph: CompiledStateGraph[Any, Any, Any, Any]
) -> tuple[dict[str, Any], Validator]:
    """(JSON Schema, validator) of `graph`'s input."""
    adapter = _input_adapter(graph)
    schema = adapter.json_schema()
    known = sorted(schema.get("properties", {}))
    if known:  # a graph whose input is a single value has no keys to check
        schema["additionalProperties"] = False

    def validate(payload: dict[str, Any]) -> dict[str, Any]:
        unknown = [key for key in payload if known and key not in known]
        errors = [_unknown_key(key, known) for key in unknown]
        try:
            adapter.validate_python(_as_langchain_messages(payload))
        except ValidationError as exc:
            errors.extend(_named(error) for error in pydantic_errors(exc))
        except (TypeError, ValueError) as exc:  # e.g. a message LangChain cannot read
            errors.append({"loc": [], "msg": str(exc)[:300], "type": "value_error"})
        if errors:
            raise GraphInputInvalid(name, errors)
        return payload

    return schema, validate


def _input_adapter(graph: CompiledStateGraph[Any, Any, Any, Any]) -> TypeAdapter[Any]:
    builder = graph.builder
    declared = getattr(builder, "input_schema", None)
    state = builder.state_schema
    typ = declared or state
    if isinstance(typ, type) and issubclass(typ, BaseModel):
        return TypeAdapter(typ)  # LangGraph validates a pydantic input the same way
    if typing_extensions.is_typeddict(typ):
        return TypeAdapter(_as_extensions_typeddict(typ, keep_required=typ is not state))
    try:  # a dataclass or another type LangGraph reads into channels
        return TypeAdapter(graph.get_input_schema())
    except PydanticUserError as exc:
        raise TypeError(f"cannot derive an input schema from {typ!r}: {exc}") from exc


def _unknown_key(key: str, known: list[str]) -> dict[str, Any]:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else f"; the input has: {', '.join(known)}"
    return {"loc": [key], "msg": f"unknown key {key!r}{hint}", "type": "extra_forbidden"}


def _named(error: dict[str, Any]) -> dict[str, Any]:
    """pydantic's 'Field required' says which key only in `loc`; say it in the message too."""
    if error["type"] == "missing" and error["loc"]:
        return {**error, "msg": f"required key {error['loc'][-1]!r} is missing"}
    return error


def _as_langchain_messages(payload: dict[str, Any]) -> dict[str, Any]:
    """OpenAI-style chat messages (`{"role": "user", ...}`) where the state holds LangChain
    messages: LangGraph's message reducer accepts them, so validation must too."""
    converted = dict(payload)
    for key, value in payload.items():
        if (
            isinstance(value, list)
            and value
            and all(
                isinstance(item, dict) and "role" in item and "type" not in item for item in value
            )
        ):
            converted[key] = convert_to_messages(value)
    return converted


def _as_extensions_typeddict(state: type, *, keep_required: bool) -> Any:
    """`state` as a `typing_extensions.TypedDict`: every key optional unless `keep_required`,
    then the keys `state` requires stay required."""
    hints = typing.get_type_hints(state, include_extras=True)
    required = set(getattr(state, "__required_keys__", ())) if keep_required else set()
    fields = {
        key: typing_extensions.Required[_strip(value)] if key in required else _strip(value)
        for key, value in hints.items()
    }
    return typing_extensions.TypedDict(state.__name__, fields, total=False)  # type: ignore[operator]


def _strip(annotation: Any) -> Any:
    """`Annotated[list, operator.add]` (a reducer) -> `list`, `Required[str]` -> `str`,
    recursively."""
    origin = typing_extensions.get_origin(annotation)
    if origin in (
        typing_extensions.Annotated,
        typing.Required,
        typing.NotRequired,
        typing_extensions.Required,
        typing_extensions.NotRequired,
    ):
        return _strip(typing_extensions.get_args(annotation)[0])
    if typing_extensions.is_typeddict(annotation) and type(annotation).__module__ == "typing":
        return _as_extensions_typeddict(annotation, keep_required=True)
    return annotation
