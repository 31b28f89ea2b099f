"""The input schema of a user's LangGraph graph, as JSON Schema and a validator.

LangGraph derives it with pydantic, which refuses `typing.TypedDict` states on Python
< 3.12 (the form LangGraph's own docs use). Then the state's fields are rebuilt as a
`typing_extensions.TypedDict`, reducers stripped, every key optional (a run's input may
set any subset of the state, as LangGraph's server accepts).
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import typing_extensions
from langchain_core.messages import convert_to_messages
from langgraph.graph.state import CompiledStateGraph
from pydantic import PydanticUserError, TypeAdapter, ValidationError

from graphs.registry import GraphInputInvalid, pydantic_errors

Validator = Callable[[dict[str, Any]], dict[str, Any]]


def input_contract(
    name: str, graph: CompiledStateGraph[Any, Any, Any, Any]
) -> tuple[dict[str, Any], Validator]:
    """(JSON Schema, validator) of `graph`'s input."""
    try:
        schema = graph.get_input_jsonschema()
        model = graph.get_input_schema()
        adapter: TypeAdapter[Any] = TypeAdapter(model)
    except PydanticUserError:
        state = getattr(graph.builder, "input_schema", None) or graph.builder.state_schema
        adapter = TypeAdapter(_as_extensions_typeddict(state))
        schema = adapter.json_schema()

    def validate(payload: dict[str, Any]) -> dict[str, Any]:
        try:
            adapter.validate_python(_as_langchain_messages(payload))
        except ValidationError as exc:
            raise GraphInputInvalid(name, pydantic_errors(exc)) from exc
        except (TypeError, ValueError) as exc:  # e.g. a message LangChain cannot read
            error = {"loc": [], "msg": str(exc)[:300], "type": "value_error"}
            raise GraphInputInvalid(name, [error]) from exc
        return payload

    return schema, validate


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


def _as_extensions_typeddict(state: type) -> Any:
    if not typing_extensions.is_typeddict(state):
        raise TypeError(f"cannot derive an input schema from {state!r}")
    hints = typing.get_type_hints(state, include_extras=True)
    fields = {key: _strip_annotated(value) for key, value in hints.items()}
    return typing_extensions.TypedDict(state.__name__, fields, total=False)  # type: ignore[operator]


def _strip_annotated(annotation: Any) -> Any:
    """`Annotated[list, operator.add]` (a reducer) -> `list`, recursively."""
    if typing_extensions.get_origin(annotation) is typing_extensions.Annotated:
        return _strip_annotated(typing_extensions.get_args(annotation)[0])
    if typing_extensions.is_typeddict(annotation) and type(annotation).__module__ == "typing":
        return _as_extensions_typeddict(annotation)
    return annotation
