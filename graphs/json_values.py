"""Graph state values as JSON: what a run's stored output and the timeline's diffs hold."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import BaseMessage, convert_to_openai_messages
from pydantic import BaseModel

MAX_DEPTH = 64


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """Plain JSON values for anything a LangGraph state holds (messages become OpenAI-style
    chat messages, pydantic models and dataclasses their fields); unknown objects become
    their repr rather than failing the run at the very end."""
    if _depth > MAX_DEPTH:
        return "…"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, BaseMessage):
        return convert_to_openai_messages(value)
    if isinstance(value, BaseModel):
        return to_jsonable(value.model_dump(mode="json"), _depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), _depth + 1)
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item, _depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(item, _depth + 1) for item in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, enum.Enum)):
        return str(value.value if isinstance(value, enum.Enum) else value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return repr(value)


def state_output(state: dict[str, Any]) -> dict[str, Any]:
    """A whole graph state as a run's JSON output."""
    converted = to_jsonable(state)
    return converted if isinstance(converted, dict) else {"value": converted}
