"""Text and JSON the database can store: no NUL, no lone surrogates, finite numbers.

PostgreSQL `text` and `jsonb` reject NUL (U+0000) and cannot encode lone surrogates
(U+D800-U+DFFF, which JSON's `\\ud800` escapes can produce); `jsonb` rejects NaN and
Infinity, which Python's JSON parser accepts. Left alone, each becomes a 500 when the
value reaches a query. Every string a client sends that may reach the database is typed
with these, so it fails validation instead: a 422 whose `errors[].loc` names the field.

- `StorableStr`: a pydantic field, or a path/query/header parameter
  (`run_id: Annotated[StorableStr, Path()]`, `Annotated[StorableStr, Query(max_length=100)]`).
- `StorableJSONObject`: free-form JSON (`input: StorableJSONObject`); an error's `loc`
  names the nested path (`["body", "input", "steps", 2, "name"]`).

Both add `NO_NUL_PATTERN` to their JSON Schema, so the OpenAPI document says what is
accepted and generated clients (and schemathesis) send only storable strings.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

# JSON Schema (ECMA-262) and Python `re` both read `\u0000`.
NO_NUL_PATTERN = "^[^\\u0000]*$"
MAX_JSON_DEPTH = 32

Loc = tuple[int | str, ...]


def unstorable_reason(text: str) -> str | None:
    """Why the database cannot store `text`, or None if it can."""
    if "\x00" in text:
        return "must not contain the NUL character (U+0000)"
    try:
        text.encode("utf-8")  # fails only on a lone surrogate
    except UnicodeEncodeError:
        return "must not contain a lone surrogate (U+D800-U+DFFF)"
    return None


def _text_error(reason: str) -> PydanticCustomError:
    return PydanticCustomError("unstorable_string", "String {reason}", {"reason": reason})


def _check_text(value: str) -> str:
    reason = unstorable_reason(value)
    if reason is not None:
        raise _text_error(reason)
    return value


class _StorableText:
    """Marker: validates a `str` and advertises the no-NUL pattern in its JSON Schema."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_check_text, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        target.setdefault("pattern", NO_NUL_PATTERN)
        return json_schema


def json_tree_errors(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> list[InitErrorDetails]:
    """Every unstorable string, key or number in a decoded JSON value, each with its path."""
    errors: list[InitErrorDetails] = []
    stack: list[tuple[Any, Loc]] = [(value, ())]
    while stack:
        item, loc = stack.pop()
        if len(loc) > max_depth:
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError(
                        "json_too_deep",
                        "JSON is nested deeper than {max_depth} levels",
                        {"max_depth": max_depth},
                    ),
                    loc=loc,
                    input="...",
                )
            )
        elif isinstance(item, str):
            reason = unstorable_reason(item)
            if reason is not None:
                errors.append(InitErrorDetails(type=_text_error(reason), loc=loc, input=item))
        elif isinstance(item, float) and not math.isfinite(item):
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError("finite_number", "Number must be finite"),
                    loc=loc,
                    input=str(item),
                )
            )
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                key_reason = unstorable_reason(key) if isinstance(key, str) else None
                if key_reason is not None:
                    errors.append(
                        InitErrorDetails(
                            type=_text_error(f"key {key_reason}"), loc=(*loc, key), input=key
                        )
                    )
                else:
                    stack.append((child, (*loc, key)))
        elif isinstance(item, list):
            stack.extend((child, (*loc, index)) for index, child in reversed(list(enumerate(item))))
    return errors


def _check_json_tree(value: Any) -> Any:
    errors = json_tree_errors(value)
    if errors:
        # Raised from a validator, pydantic keeps each error's own loc under the field's.
        raise ValidationError.from_exception_data("StorableJSON", errors)
    return value


class _StorableJSON:
    """Marker: validates a decoded JSON tree and advertises storable keys and strings."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_check_json_tree, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        target.setdefault("propertyNames", {"pattern": NO_NUL_PATTERN})
        return json_schema


StorableStr = Annotated[str, _StorableText()]
StorableJSONObject = Annotated[dict[str, Any], _StorableJSON()]
StorableJSON = Annotated[Any, _StorableJSON()]
