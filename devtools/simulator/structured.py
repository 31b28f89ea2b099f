"""Answers that honour the request: a JSON document fitting `response_format`'s schema,
and text cut at the first `stop` sequence, as a provider that supports them answers."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 12


def document_for(schema: Any, text: str, *, root: Any = None, depth: int = 0) -> Any:
    """A value valid under `schema` (the common JSON Schema subset structured outputs
    use), strings filled with `text`."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return text
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return document_for(target, text, root=root, depth=depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        branches = schema.get(combinator)
        if isinstance(branches, list) and branches:
            return document_for(branches[0], text, root=root, depth=depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        return {
            name: document_for(sub, text, root=root, depth=depth + 1)
            for name, sub in properties.items()
        }
    if kind == "array":
        count = max(1, int(schema.get("minItems") or 1))
        item = document_for(schema.get("items") or {}, text, root=root, depth=depth + 1)
        return [item] * count
    if kind in ("number", "integer"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        low = low if isinstance(low, int | float) else 0
        value = low + 1 if "exclusiveMinimum" in schema else low
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    minimum = int(schema.get("minLength") or 0)
    maximum = schema.get("maxLength")
    filled = text.ljust(minimum, ".")
    return filled[:maximum] if isinstance(maximum, int) else filled


def cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """The text before the first stop sequence, and whether one was found."""
    ends = [text.find(sequence) for sequence in stop if sequence and sequence in text]
    return (text[: min(ends)], True) if ends else (text, False)
