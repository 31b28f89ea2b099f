"""Output schemas of `llm` nodes: valid JSON Schema, and nothing that could hang a worker.

`pattern`/`patternProperties` are refused: a hostile regular expression can backtrack for
hours on a short model answer. Only local `$ref`s are allowed, so validation never fetches.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for

_NO_REGEX = "regular expressions are not allowed in output schemas (they can hang a worker)"
FORBIDDEN_KEYWORDS = {
    "pattern": _NO_REGEX,
    "patternProperties": _NO_REGEX,
    "$dynamicRef": "$dynamicRef is not supported; use a local $ref",
    "$recursiveRef": "$recursiveRef is not supported; use a local $ref",
}


def _validator_class(schema: dict[str, Any]) -> Any:
    return validator_for(schema, default=Draft202012Validator)


def schema_problems(schema: dict[str, Any]) -> list[tuple[list[str | int], str]]:
    """(path inside the schema, message) for every problem; empty when usable."""
    problems: list[tuple[list[str | int], str]] = []
    if schema.get("type") != "object":
        problems.append(
            (["type"], 'an output schema describes a JSON object: set "type": "object"')
        )
    cls = _validator_class(schema)
    meta = cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
    for error in sorted(meta.iter_errors(schema), key=lambda e: [str(p) for p in e.absolute_path]):
        problems.append(
            (list(error.absolute_path), f"not valid JSON Schema: {error.message[:300]}")
        )
    problems.extend(_unsafe_keywords(schema))
    return problems


# Keys under these keywords name properties or definitions, not keywords; values under the
# data keywords are example data, never schemas.
_NAMING_KEYWORDS = {"properties", "$defs", "definitions", "dependentSchemas"}
_DATA_KEYWORDS = {"enum", "const", "examples", "default", "required", "dependentRequired"}


def _unsafe_keywords(schema: dict[str, Any]) -> list[tuple[list[str | int], str]]:
    problems: list[tuple[list[str | int], str]] = []
    stack: list[tuple[Any, list[str | int], bool]] = [(schema, [], False)]
    while stack:
        value, path, naming = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if naming:
                    stack.append((item, [*path, key], False))
                    continue
                if key in _DATA_KEYWORDS:
                    continue
                if key in FORBIDDEN_KEYWORDS:
                    problems.append(([*path, key], FORBIDDEN_KEYWORDS[key]))
                elif key == "$ref" and not (isinstance(item, str) and item.startswith("#")):
                    problems.append(
                        ([*path, key], "only local references ($ref: '#/...') are allowed")
                    )
                stack.append((item, [*path, key], key in _NAMING_KEYWORDS))
        elif isinstance(value, list):
            stack.extend((item, [*path, index], False) for index, item in enumerate(value))
    return problems
