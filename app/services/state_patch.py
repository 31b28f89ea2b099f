"""Does a fork's `state_patch` fit the graph's state? Checked before anything is queued.

Each key is checked against the type the graph's state schema gives it (its TypedDict,
pydantic model or dataclass annotations): a key with a reducer (`Annotated[list, add]`)
must be something the reducer accepts on top of the checkpoint's value, and the result
must have the key's type; a plain key's value must have the type as JSON (strict: no
`"5"` for an int). A key whose type pydantic cannot read is not checked.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import PydanticSchemaGenerationError, PydanticUserError, TypeAdapter, ValidationError

from graphs.registry import Compiled

Problem = dict[str, Any]


def _state_types(compiled: Compiled) -> dict[str, Any]:
    builder = getattr(compiled, "builder", None)
    schema = getattr(builder, "state_schema", None)
    if schema is None:
        return {}
    try:
        return typing.get_type_hints(schema, include_extras=True)
    except (NameError, TypeError):
        return {}


def _split(hint: Any) -> tuple[Any, Callable[[Any, Any], Any] | None]:
    """(the value type, with its constraints, and the reducer LangGraph would use or None).

    LangGraph takes the last `Annotated` item as the reducer when it is callable; other
    items (pydantic `Field(max_length=...)`) are constraints on the value.
    """
    if typing.get_origin(hint) is not typing.Annotated:
        return hint, None
    base, *metadata = typing.get_args(hint)
    if not metadata or not callable(metadata[-1]):
        return hint, None
    constraints = metadata[:-1]
    return (typing.Annotated[(base, *constraints)] if constraints else base), metadata[-1]


def _adapter(hint: Any) -> TypeAdapter[Any] | None:
    try:
        return TypeAdapter(hint)
    except (PydanticUserError, PydanticSchemaGenerationError, TypeError):
        return None


def _empty(base: Any) -> Any:
    """What a reducer channel holds before its first write (LangGraph starts it at `T()`)."""
    origin = typing.get_origin(base) or base
    try:
        return origin()
    except TypeError:
        return None


def _messages(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where + ': ' if where else ''}{first['msg']}"


def _problem(key: str, message: str) -> Problem:
    return {"loc": ["body", "state_patch", key], "msg": message, "type": "state_type"}


def state_patch_problems(
    compiled: Compiled, patch: Mapping[str, Any], current: Mapping[str, Any]
) -> list[Problem]:
    """One problem per key of `patch` that does not fit the state (`current`: the values
    of the checkpoint the patch is applied to)."""
    types = _state_types(compiled)
    problems: list[Problem] = []
    for key, value in patch.items():
        if key not in types:
            continue
        base, reducer = _split(types[key])
        adapter = _adapter(base)
        if reducer is not None:
            before = current.get(key)
            try:
                value = reducer(before if before is not None else _empty(base), value)
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                problems.append(_problem(key, f"cannot be added to the state's {key!r}: {exc}"))
                continue
            if adapter is not None:
                try:
                    adapter.validate_python(value)
                except ValidationError as exc:
                    problems.append(_problem(key, f"does not fit the state: {_messages(exc)}"))
            continue
        if adapter is None:
            continue
        try:
            adapter.validate_json(json.dumps(value), strict=True)
        except ValidationError as exc:
            problems.append(_problem(key, f"does not fit the state: {_messages(exc)}"))
    return problems
