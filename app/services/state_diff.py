"""Graph state as comparable, readable JSON: normalise, diff and cap it.

Normalising keeps what a state means and drops what changes on every execution without
meaning anything: LangChain message ids (random per call) and their response/usage
metadata (a ledger row id, a cost). Capping bounds what a timeline carries: strings keep
their first `max_chars` characters and say how long they were, lists their first
`MAX_ITEMS` items, nesting `MAX_DEPTH` levels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

MAX_ITEMS = 100
MAX_DEPTH = 12
MISSING = "<absent>"


def normalize(value: Any) -> Any:
    """A JSON tree for `value` that compares equal across executions of the same step."""
    message = _message(value)
    if message is not None:
        return message
    if isinstance(value, BaseModel):
        return normalize(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return normalize(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(key): normalize(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((normalize(item) for item in value), key=repr)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def _message(value: Any) -> dict[str, Any] | None:
    try:
        from langchain_core.messages import BaseMessage
    except ImportError:  # pragma: no cover - langchain_core ships with langgraph
        return None
    if not isinstance(value, BaseMessage):
        return None
    out: dict[str, Any] = {"type": value.type, "content": normalize(value.content)}
    if value.name:
        out["name"] = value.name
    tool_calls = getattr(value, "tool_calls", None)
    if tool_calls:
        out["tool_calls"] = [
            {"name": c.get("name"), "args": normalize(c.get("args"))} for c in tool_calls
        ]
    tool_call_id = getattr(value, "tool_call_id", None)
    if tool_call_id:
        out["tool_call_id"] = tool_call_id
    return out


def diff_states(before: Any, after: Any, max_chars: int) -> dict[str, Any]:
    """Per top-level key that changed: its value before and after (capped)."""
    old, new = normalize(before), normalize(after)
    if not isinstance(old, dict) or not isinstance(new, dict):
        return (
            {}
            if old == new
            else {"": {"before": cap(old, max_chars), "after": cap(new, max_chars)}}
        )
    changed: dict[str, Any] = {}
    for key in [*old, *(k for k in new if k not in old)]:
        if old.get(key, MISSING) != new.get(key, MISSING):
            changed[key] = {
                "before": cap(old.get(key, MISSING), max_chars),
                "after": cap(new.get(key, MISSING), max_chars),
            }
    return changed


def cap(value: Any, max_chars: int, depth: int = 0) -> Any:
    """`value` (normalised) cut to a readable size."""
    if depth > MAX_DEPTH:
        return "..."
    if isinstance(value, str):
        if len(value) <= max_chars:
            return value
        return f"{value[:max_chars]}... [{len(value)} chars]"
    if isinstance(value, dict):
        return {key: cap(item, max_chars, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        kept = [cap(item, max_chars, depth + 1) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            kept.append(f"... {len(value) - MAX_ITEMS} more items")
        return kept
    return value


def shown(value: Any, max_chars: int) -> Any:
    return cap(normalize(value), max_chars)
