"""A bounded log of received chat requests, so tests can see exactly what a model was sent."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import Any


class RequestLog:
    """Oldest first; the oldest entries drop out once `size` is reached."""

    def __init__(self, size: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)

    def record(self, model: str, body: dict[str, Any], stream: bool) -> dict[str, Any]:
        """Store the request as received; the returned entry is updated with the fault."""
        entry = {
            "model": model,
            "messages": body.get("messages"),
            "tools": body.get("tools"),
            "tool_choice": body.get("tool_choice"),
            "response_format": body.get("response_format"),
            "max_tokens": body.get("max_completion_tokens", body.get("max_tokens")),
            "stream": stream,
            "fault": None,
            "at": datetime.now(UTC).isoformat(),
        }
        self._entries.append(entry)
        return entry

    def entries(self, model: str | None = None) -> list[dict[str, Any]]:
        return [entry for entry in self._entries if model is None or entry["model"] == model]

    def clear(self) -> int:
        count = len(self._entries)
        self._entries.clear()
        return count
