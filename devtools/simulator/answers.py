"""What an answer source returns, and the conversation helpers every source needs."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from app.routing.catalog import ModelSpec
from devtools.simulator.schemas import ChatCompletionRequest
from devtools.simulator.tokens import content_text

_ROLE_LINE = re.compile(r"^\s*ROLE:\s*([A-Za-z_-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # a JSON string, as the OpenAI API sends it


@dataclass(frozen=True)
class Answer:
    """A model's reply before it is dressed as an OpenAI response."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    source: str = ""  # which answer source produced it, for the request log

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"


class AnswerSource(Protocol):
    """One way of answering; returns None to let the next source try."""

    def answer(self, request: ChatCompletionRequest, model: ModelSpec) -> Answer | None: ...


def conversation_role(request: ChatCompletionRequest) -> str | None:
    """The `ROLE: x` line the service puts first in its first system message, lower-cased."""
    for message in request.messages:
        if message.get("role") in ("system", "developer"):
            match = _ROLE_LINE.match(content_text(message.get("content")))
            return match.group(1).lower() if match else None
    return None


def last_index(messages: list[dict[str, Any]], role: str) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == role:
            return index
    return None


def last_user_text(request: ChatCompletionRequest) -> str:
    index = last_index(request.messages, "user")
    return "" if index is None else content_text(request.messages[index].get("content"))


def first_user_text(request: ChatCompletionRequest) -> str:
    for message in request.messages:
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def summarize(text: str, words: int = 20) -> str:
    """The first `words` words on one line, with an ellipsis when cut."""
    parts = text.split()
    summary = " ".join(parts[:words])
    return f"{summary} ..." if len(parts) > words else summary


def tool_call_id(request: ChatCompletionRequest, model: ModelSpec, index: int) -> str:
    """Deterministic, so the same request always yields the same answer."""
    seed = json.dumps([model.name, request.messages, index], sort_keys=True, default=str)
    return "call_" + hashlib.sha256(seed.encode()).hexdigest()[:24]
