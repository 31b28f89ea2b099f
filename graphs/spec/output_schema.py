"""Output schemas of `llm` nodes: valid JSON Schema, and nothing that could hang a worker.

`pattern`/`patternProperties` are refused: a hostile regular expression can backtrack for
hours on a short model answer. Only local `$ref`s are allowed, so validation never fetches,
and they must resolve without recursion: a schema whose references lead back into
themselves is refused (validating an answer would never end, or needs an infinitely deep
answer), as is one whose references expand to more than `MAX_EXPANDED_NODES` schemas.
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
    if not problems:
        problems.extend(_reference_problems(schema))
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


MAX_EXPANDED_NODES = 5000


def _resolve(schema: dict[str, Any], ref: str) -> tuple[Any, list[str | int]] | None:
    """The part of `schema` a local `$ref` points to and its path, or None (nowhere)."""
    if ref == "#":
        return schema, []
    if not ref.startswith("#/"):
        return None
    node: Any = schema
    path: list[str | int] = []
    for raw in ref[2:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
            path.append(token)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
            path.append(int(token))
        else:
            return None
    return node, path


def _reference_problems(schema: dict[str, Any]) -> list[tuple[list[str | int], str]]:
    """References that point nowhere, lead back into themselves, or expand too far.

    Walks the schema as a validator would, following each `$ref` into its target; a target
    already on the walk's current path is a cycle.
    """
    expanded = 0
    # (value, its path in the document, ids of the schemas walked through to get here)
    stack: list[tuple[Any, list[str | int], tuple[int, ...]]] = [(schema, [], ())]
    while stack:
        value, path, on_path = stack.pop()
        expanded += 1
        if expanded > MAX_EXPANDED_NODES:
            return [([], f"references expand to more than {MAX_EXPANDED_NODES} schemas")]
        if isinstance(value, list):
            stack.extend((item, [*path, i], on_path) for i, item in enumerate(value))
            continue
        if not isinstance(value, dict):
            continue
        here = (*on_path, id(value))
        for key, item in value.items():
            if key in _DATA_KEYWORDS or key in ("$defs", "definitions"):
                continue  # definitions are walked where they are referenced
            if key == "$ref" and isinstance(item, str):
                found = _resolve(schema, item)
                if found is None:
                    return [([*path, key], f"reference {item!r} points to nothing")]
                target, target_path = found
                if id(target) in here:
                    return [([*path, key], f"reference {item!r} is recursive")]
                stack.append((target, target_path, here))
            elif key in _NAMING_KEYWORDS:
                if isinstance(item, dict):
                    stack.extend((sub, [*path, key, name], here) for name, sub in item.items())
            else:
                stack.append((item, [*path, key], here))
    return []
