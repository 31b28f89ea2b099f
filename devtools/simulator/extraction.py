"""The simulated extractor: fills a JSON Schema's properties from `name: value` text."""

from __future__ import annotations

import json
import re
from typing import Any

_SCHEMA_MARK = "JSON Schema:"


def schema_in(system_prompt: str) -> dict[str, Any] | None:
    """The JSON object that follows "JSON Schema:" in a system prompt."""
    at = system_prompt.find(_SCHEMA_MARK)
    start = system_prompt.find("{", at) if at >= 0 else -1
    if start < 0:
        return None
    try:
        schema, _ = json.JSONDecoder().raw_decode(system_prompt[start:])
    except json.JSONDecodeError:
        return None
    return schema if isinstance(schema, dict) else None


def _label(name: str) -> str:
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).replace("_", " ").split()
    return r"[\s_-]*".join(re.escape(word) for word in words)


def _find(name: str, schema: dict[str, Any], text: str) -> Any:
    kind = schema.get("type")
    enum = schema.get("enum")
    label = rf"\b{_label(name)}\b\s*(?:[:=]|\bis\b|\bof\b)?\s*"
    if enum:
        for value in enum:
            if re.search(rf"\b{re.escape(str(value))}\b", text, re.IGNORECASE):
                return value
        return None
    if kind in ("number", "integer"):
        match = re.search(label + r"\$?(-?\d[\d,]*(?:\.\d+)?)", text, re.IGNORECASE)
        if match is None:
            return None
        number = float(match.group(1).replace(",", ""))
        return int(number) if kind == "integer" or number.is_integer() else number
    if kind == "boolean":
        match = re.search(label + r"(yes|no|true|false)\b", text, re.IGNORECASE)
        return None if match is None else match.group(1).lower() in ("yes", "true")
    if kind == "array":
        match = re.search(label + r"([^;\n]+)", text, re.IGNORECASE)
        if match is None:
            return None
        return [
            part.strip(" .") for part in re.split(r",|\band\b", match.group(1)) if part.strip(" .")
        ]
    match = re.search(label + r"([^;,\n]+)", text, re.IGNORECASE)
    return None if match is None else match.group(1).strip().rstrip(".")


_PLACEHOLDERS: dict[str, Any] = {
    "string": "unknown",
    "number": 0,
    "integer": 0,
    "boolean": False,
    "array": [],
    "object": {},
}


def extract_for_schema(schema: dict[str, Any], text: str) -> dict[str, Any]:
    """Every property found in the text; required ones missing get a typed placeholder."""
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    result: dict[str, Any] = {}
    for name, sub in properties.items():
        if not isinstance(sub, dict):
            continue
        value = _find(name, sub, text)
        if value is None and name in required:
            value = _PLACEHOLDERS.get(str(sub.get("type")), "unknown")
        if value is not None:
            result[name] = value
    return result
