"""A spec's state schema for LangGraph, its input model, and the initial and output states."""

from __future__ import annotations

import copy
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, create_model

from graphs.spec.errors import SpecInputInvalid
from graphs.spec.model import GraphSpec, MapNode, StateField

RESET = "$reset"  # {"$reset": [...]} replaces an appended list instead of extending it


def append_reducer(left: list[Any] | None, right: Any) -> list[Any]:
    """`append`: a list extends, any other value is added; {"$reset": x} starts over."""
    if isinstance(right, dict) and set(right) == {RESET}:
        return list(right[RESET] or [])
    if isinstance(right, list):
        return [*(left or []), *right]
    return [*(left or []), right]


def map_channel(name: str) -> str:
    """The hidden channel where a map node's items land before its join."""
    return f"__map_{name}"


def state_schema(spec: GraphSpec) -> type:
    """A TypedDict LangGraph reads channels and reducers from (built per compile); the
    field types are the spec's (a fork's state patch is checked against them)."""
    fields: dict[str, Any] = {}
    for name, spec_field in spec.state.items():
        if spec_field.reducer == "append":
            # `list` (not Any) so the channel starts empty and the reducer sees every write.
            item = _PYTHON_TYPES[spec_field.items or "any"]
            fields[name] = Annotated[list[item], append_reducer]  # type: ignore[valid-type]
        else:
            constraints = Field(**_constraints(spec_field))
            fields[name] = Annotated[_annotation(spec_field), constraints] | None
    for name, node in spec.nodes.items():
        if isinstance(node, MapNode):
            fields[map_channel(name)] = Annotated[list[Any], append_reducer]
    return TypedDict("SpecState", fields, total=False)  # type: ignore[operator]


_PYTHON_TYPES: dict[str, Any] = {
    "string": str,
    "number": float,
    "integer": int,
    "boolean": bool,
    "object": dict[str, JsonValue],
    "any": JsonValue,
}


def _annotation(spec_field: StateField) -> Any:
    if spec_field.enum is not None and all(
        isinstance(value, str | int | float | bool) for value in spec_field.enum
    ):
        return Literal[tuple(spec_field.enum)]
    if spec_field.type == "array":
        return list[_PYTHON_TYPES[spec_field.items or "any"]]  # type: ignore[misc]
    return _PYTHON_TYPES[spec_field.type]


def _constraints(spec_field: StateField) -> dict[str, Any]:
    """The field's bounds as pydantic `Field` arguments."""
    constraints: dict[str, Any] = {}
    if spec_field.type in ("string", "array"):
        constraints["min_length"] = spec_field.min_length
        constraints["max_length"] = spec_field.max_length
    if spec_field.type in ("number", "integer"):
        constraints["ge"] = spec_field.minimum
        constraints["le"] = spec_field.maximum
    return {key: value for key, value in constraints.items() if value is not None}


def input_model(spec: GraphSpec) -> type[BaseModel]:
    """A pydantic model of the run input: input fields, their constraints and defaults.

    Python-side field names are positional (`f0`, `f1`...) with the state names as aliases,
    so no author's name can clash with pydantic's own attributes.
    """
    definitions: dict[str, Any] = {}
    for index, name in enumerate(spec.input):
        spec_field = spec.state[name]
        constraints: dict[str, Any] = {"alias": name, **_constraints(spec_field)}
        if spec_field.description:
            constraints["description"] = spec_field.description
        if spec_field.default is None:
            field_info = Field(..., **constraints)
        else:
            default = spec_field.default
            field_info = Field(default_factory=lambda d=default: copy.deepcopy(d), **constraints)
        definitions[f"f{index}"] = (_annotation(spec_field), field_info)
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"{spec.name.replace('-', '_')}_input",
        __config__=ConfigDict(extra="forbid", populate_by_name=False),
        **definitions,
    )
    return model


def validate_input(model: type[BaseModel], payload: Any) -> dict[str, Any]:
    """The payload with defaults filled in; SpecInputInvalid lists every problem."""
    try:
        parsed = model.model_validate(payload)
    except ValidationError as exc:
        errors = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
            for error in exc.errors()
        ]
        raise SpecInputInvalid(errors) from None
    return parsed.model_dump(by_alias=True, mode="json")


def initial_state(spec: GraphSpec, validated_input: dict[str, Any]) -> dict[str, Any]:
    """Every state field starts from the input or its default (a run starts afresh, also on
    a thread that ran before: appended lists are reset, not extended)."""
    state: dict[str, Any] = {}
    for name, spec_field in spec.state.items():
        value = validated_input.get(name, copy.deepcopy(spec_field.default))
        if spec_field.reducer == "append":
            state[name] = {RESET: value if isinstance(value, list) else []}
        else:
            state[name] = value
    for name, node in spec.nodes.items():
        if isinstance(node, MapNode):
            state[map_channel(name)] = {RESET: []}
    return state


def output_of(spec: GraphSpec, state: dict[str, Any]) -> dict[str, Any]:
    """The state fields a run returns (`output`, else every declared field)."""
    names = spec.output if spec.output is not None else list(spec.state)
    return {name: copy.deepcopy(state.get(name)) for name in names}
