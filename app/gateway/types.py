"""What nodes hand the gateway and what they get back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelRequest:
    """One logical model call; the gateway decides which model(s) actually serve it."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    max_tokens: int | None = None
    temperature: float | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": self.messages}
        for key in ("tools", "tool_choice", "response_format", "max_tokens", "temperature"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        return body


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0


@dataclass(frozen=True)
class ModelResult:
    """The answer of the model that finally served a call."""

    content: str | None
    tool_calls: list[dict[str, Any]]
    model: str
    tier: str
    usage: Usage
    cost_usd: float
    latency_ms: float
    call_id: str
    from_ledger: bool = False  # True when a previous attempt of this run already paid for it
    attempts: int = 1

    def assistant_message(self) -> dict[str, Any]:
        """The answer as a chat message, to append to the conversation."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return message


@dataclass
class CallContext:
    """Who is calling: ties ledger rows to a run, a node and a deterministic call key."""

    call_key: str
    run_id: str | None = None
    node: str | None = None
    # Why the node makes this call (e.g. "judge of 3 debaters"): appended to the ledger's
    # routing reason, so a pattern's decisions can be read from the ledger.
    purpose: str | None = None
