"""routegraph's answers dressed as OpenAI JSON: completion objects and SSE chunk streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from app.gateway.streaming import StreamEnd, TextDelta, ToolCalls
from app.gateway.types import ModelResult, Usage

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})


def usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


def result_choices(result: ModelResult) -> list[dict[str, Any]]:
    """Every choice as {"message", "finish_reason"}."""
    if result.choices:
        return list(result.choices)
    return [{"message": result.assistant_message(), "finish_reason": result.finish_reason}]


def _finish(reason: str | None, message: dict[str, Any]) -> str:
    if reason in FINISH_REASONS:
        return reason
    return "tool_calls" if message.get("tool_calls") else "stop"


def completion_json(result: ModelResult, completion_id: str, created: int) -> dict[str, Any]:
    """A `chat.completion` object, with what the provider sent beyond the answer
    (`system_fingerprint`, `service_tier`, usage details, logprobs, annotations)."""
    extra = dict(result.passthrough or {})
    extra_choices = extra.pop("choices", None) or []
    choices = []
    for index, choice in enumerate(result_choices(result)):
        given = extra_choices[index] if index < len(extra_choices) else {}
        message = {
            "role": "assistant",
            "content": None,
            "refusal": None,
            **(given.get("message") or {}),
            **choice["message"],
        }
        choices.append(
            {
                "index": index,
                "message": message,
                "logprobs": given.get("logprobs"),
                "finish_reason": _finish(choice.get("finish_reason"), message),
            }
        )
    usage = usage_json(result.usage)
    for key, details in (extra.pop("usage_details", None) or {}).items():
        usage[key] = {**details, **usage.get(key, {})}
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": result.model,
        "choices": choices,
        "usage": usage,
        **extra,
    }


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


async def sse_stream(
    events: AsyncIterator[Any],
    *,
    completion_id: str,
    created: int,
    model: str,
    include_usage: bool,
    extension: Callable[[ModelResult], dict[str, Any]],
    on_error: Callable[[BaseException], dict[str, Any]],
    on_end: Callable[[ModelResult], Awaitable[None]] | None = None,
) -> AsyncIterator[bytes]:
    """Gateway stream events as `chat.completion.chunk` SSE, ending with `[DONE]`; an
    error after the first byte is sent as an `error` event (the SDK raises it).

    Every chunk names `model`, the model that began the answer (as OpenAI's chunks all
    name one model); when a cut stream was continued by another, the last chunk's
    `routegraph.model` names the model that finished it."""

    def chunk(
        delta: dict[str, Any],
        finish: str | None = None,
        index: int = 0,
        logprobs: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": index,
                    "delta": delta,
                    "logprobs": {"content": logprobs} if logprobs is not None else None,
                    "finish_reason": finish,
                }
            ],
        }

    yield _event(chunk({"role": "assistant", "content": ""}))
    streamed = False
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                streamed = True
                yield _event(chunk({"content": event.text}, logprobs=event.logprobs))
            elif isinstance(event, ToolCalls):
                streamed = True
                yield _event(chunk({"tool_calls": _indexed(event.tool_calls)}))
            elif isinstance(event, StreamEnd):
                result = event.result
                extra = dict(result.passthrough or {})
                given = extra.pop("choices", None) or []
                details = extra.pop("usage_details", None) or {}
                for index, choice in enumerate(result_choices(result)):
                    message = choice["message"]
                    if not streamed:  # a cached or non-streamed answer: send it whole
                        if index > 0:
                            yield _event(chunk({"role": "assistant", "content": ""}, index=index))
                        if message.get("content"):
                            delta = {"content": message["content"]}
                            whole = (given[index] if index < len(given) else {}).get("logprobs")
                            content = (whole or {}).get("content")
                            yield _event(chunk(delta, index=index, logprobs=content))
                        if message.get("tool_calls"):
                            delta = {"tool_calls": _indexed(message["tool_calls"])}
                            yield _event(chunk(delta, index=index))
                    final = chunk({}, _finish(choice.get("finish_reason"), message), index)
                    final.update(extra)  # system_fingerprint, service_tier
                    final["routegraph"] = extension(result)
                    yield _event(final)
                if include_usage:
                    last = {**chunk({}), **extra}
                    last["choices"] = []
                    usage = usage_json(result.usage)
                    for key, counts in details.items():
                        usage[key] = {**counts, **usage.get(key, {})}
                    last["usage"] = usage
                    yield _event(last)
                if on_end is not None:
                    await on_end(result)
                yield b"data: [DONE]\n\n"
                return
    except Exception as exc:  # the answer broke after its first byte: tell the client
        yield _event(on_error(exc))


def _indexed(tool_calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "index": index,
            "id": call.get("id"),
            "type": "function",
            "function": dict(call.get("function") or {}),
        }
        for index, call in enumerate(tool_calls)
    ]
