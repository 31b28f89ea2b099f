"""A provider's answer in one shape, whichever client fetched it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.gateway.provider_http import ProviderError
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
    # What the provider said beyond the answer, passed on to an OpenAI client as given.
    passthrough: dict[str, Any] | None = None


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
            cache_write_tokens=cache_write_tokens(usage),
        ),
        raw=raw,
        finish_reason=first["finish_reason"],
        choices=tuple(choices) if len(choices) > 1 else (),
        passthrough=passthrough_fields(raw),
    )


def cache_write_tokens(usage: dict[str, Any]) -> int:
    """Prompt tokens the provider wrote to its cache: Anthropic's `cache_creation_input_tokens`
    (LiteLLM also puts it in `prompt_tokens_details.cache_creation_tokens`); OpenAI bills no
    writes and reports none."""
    details = usage.get("prompt_tokens_details") or {}
    written = usage.get("cache_creation_input_tokens") or details.get("cache_creation_tokens")
    try:
        return max(0, int(written or 0))
    except (TypeError, ValueError):
        return 0


# Top-level members of a completion passed to the client as the provider sent them.
TOP_LEVEL = ("system_fingerprint", "service_tier")
# Members of each choice's message beyond role, content and tool calls.
MESSAGE_EXTRAS = ("annotations", "refusal", "audio", "reasoning_content")


def passthrough_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """`system_fingerprint`, `service_tier`, the usage details (cached and reasoning
    tokens) and, per choice, `logprobs` and the message's `annotations`/`refusal`."""
    fields: dict[str, Any] = {key: raw[key] for key in TOP_LEVEL if raw.get(key) is not None}
    usage = raw.get("usage") or {}
    details = {
        key: usage[key]
        for key in ("prompt_tokens_details", "completion_tokens_details")
        if isinstance(usage.get(key), dict)
    }
    if details:
        fields["usage_details"] = details
    choices = []
    for choice in raw.get("choices") or []:
        message = choice.get("message") or {}
        extra = {key: message[key] for key in MESSAGE_EXTRAS if message.get(key) is not None}
        choices.append({"logprobs": choice.get("logprobs"), "message": extra})
    if any(choice["logprobs"] is not None or choice["message"] for choice in choices):
        fields["choices"] = choices
    return fields


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
