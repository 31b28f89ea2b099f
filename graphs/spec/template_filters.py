"""Template filters (`{{ x | join(", ") }}`) and how JSON values read in a prompt."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def to_text(value: Any) -> str:
    """How a JSON value reads in a prompt: strings as-is, null empty, the rest as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


def _join(value: Any, separator: str = ", ") -> str:
    if not isinstance(value, list):
        return to_text(value)
    return str(separator).join(to_text(item) for item in value)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list | dict) else 0


def _truncate(value: Any, limit: int = 200) -> str:
    text = to_text(value)
    size = max(int(limit), 0)
    return text if len(text) <= size else text[:size] + "..."


FILTERS: dict[str, tuple[Callable[..., Any], int]] = {
    # name: (function(value, *args), max args)
    "join": (_join, 1),
    "json": (lambda value: json.dumps(value, ensure_ascii=False), 0),
    "default": (
        lambda value, fallback="": value if value not in (None, "", [], {}) else fallback,
        1,
    ),
    "length": (_length, 0),
    "upper": (lambda value: to_text(value).upper(), 0),
    "lower": (lambda value: to_text(value).lower(), 0),
    "trim": (lambda value: to_text(value).strip(), 0),
    "truncate": (_truncate, 1),
    "first": (lambda value: value[0] if isinstance(value, list) and value else None, 0),
    "last": (lambda value: value[-1] if isinstance(value, list) and value else None, 0),
}
