"""A provider's answer in one shape, whichever client fetched it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.gateway.openai_compat import ProviderError
from app.gateway.types import Usage


@dataclass(frozen=True)
class ProviderAnswer:
    content: str | None
    tool_calls: list[dict[str, Any]]
    usage: Usage
    raw: dict[str, Any]
    finish_reason: str | None = None
    # Every choice ({"message", "finish_reason"}) when the request asked for n > 1.
    choices: tuple[dict[str, Any], ...] = ()


def answer_from_json(raw: dict[str, Any]) -> ProviderAnswer:
    """A chat completion body (any OpenAI-shaped provider) as the gateway's answer."""
    choices = [_choice(choice) for choice in raw.get("choices") or []]
    if not choices:
        raise ProviderError("the provider answered without choices")
    first = choices[0]
    usage = raw.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    return ProviderAnswer(
        content=first["message"].get("content"),
        tool_calls=first["message"].get("tool_calls") or [],
        usage=Usage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cached_tokens=int(details.get("cached_tokens") or 0),
        ),
        raw=raw,
        finish_reason=first["finish_reason"],
        choices=tuple(choices) if len(choices) > 1 else (),
    )


def _choice(choice: dict[str, Any]) -> dict[str, Any]:
    message = choice.get("message") or {}
    tool_calls = [
        {
            "id": call.get("id"),
            "type": "function",
            "function": {
                "name": (call.get("function") or {}).get("name"),
                "arguments": (call.get("function") or {}).get("arguments"),
            },
        }
        for call in message.get("tool_calls") or []
    ]
    out: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    if tool_calls:
        out["tool_calls"] = tool_calls
    return {"message": out, "finish_reason": choice.get("finish_reason")}
