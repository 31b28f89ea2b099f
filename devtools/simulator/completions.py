"""Dresses an `Answer` as OpenAI JSON: completion objects, stream chunks and usage.

Also applies what happens to an answer on its way out: the caller's max_tokens cut
(finish_reason "length") and the `malformed_json` fault.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

from devtools.simulator.answers import Answer, ToolCall
from devtools.simulator.tokens import truncate_to_tokens

SYSTEM_FINGERPRINT = "fp_routegraph_sim"
WORDS_PER_CHUNK = 3
ARGUMENT_CHARS_PER_CHUNK = 16
_WORD_WITH_SPACE = re.compile(r"\s*\S+\s*|\s+")


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    cache_write_tokens: int = 0  # reported as Anthropic does (LiteLLM's OpenAI shape)

    def to_json(self, reasoning_tokens: int = 0) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        if self.cache_write_tokens:
            usage["cache_creation_input_tokens"] = self.cache_write_tokens
            usage["prompt_tokens_details"]["cache_creation_tokens"] = self.cache_write_tokens
        return usage


@dataclass(frozen=True)
class Completion:
    """Everything needed to write the response, streamed or not."""

    model: str
    answer: Answer
    finish_reason: str
    usage: Usage
    id: str = ""
    created: int = 0
    n: int = 1  # choices (each the same deterministic answer)
    top_logprobs: int | None = None  # None: logprobs not asked for
    reasoning_tokens: int = 0

    @classmethod
    def new(cls, model: str, answer: Answer, finish_reason: str, usage: Usage) -> Completion:
        return cls(
            model=model,
            answer=answer,
            finish_reason=finish_reason,
            usage=usage,
            id=f"chatcmpl-{secrets.token_hex(12)}",
            created=int(time.time()),
        )


def limit_output(answer: Answer, max_tokens: int | None) -> tuple[Answer, str]:
    """Cut text that would exceed the caller's max_tokens, as providers do."""
    if max_tokens is None or answer.tool_calls or answer.content is None:
        return answer, answer.finish_reason
    cut = truncate_to_tokens(answer.content, max_tokens)
    if cut == answer.content:
        return answer, answer.finish_reason
    return replace(answer, content=cut), "length"


def corrupt(answer: Answer) -> Answer:
    """The `malformed_json` fault: valid JSON with its tail cut off (never parseable)."""
    if answer.tool_calls:
        calls = tuple(
            replace(call, arguments=call.arguments[: max(1, len(call.arguments) * 2 // 3)])
            for call in answer.tool_calls
        )
        return replace(answer, tool_calls=calls)
    text = answer.content or ""
    document = text if text.lstrip().startswith(("{", "[")) else json.dumps({"answer": text})
    return replace(answer, content=document[: max(1, len(document) * 2 // 3)])


def _tool_call_json(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def completion_json(completion: Completion) -> dict[str, Any]:
    """A `chat.completion` object."""
    answer = completion.answer
    message: dict[str, Any] = {
        "role": "assistant",
        "content": answer.content,
        "refusal": None,
        "annotations": [],
    }
    if answer.tool_calls:
        message["tool_calls"] = [_tool_call_json(call) for call in answer.tool_calls]
    logprobs = None
    if completion.top_logprobs is not None:
        logprobs = {
            "content": token_logprobs(answer.content, completion.top_logprobs),
            "refusal": None,
        }
    return {
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "service_tier": "default",
        "choices": [
            {
                "index": index,
                "message": message,
                "logprobs": logprobs,
                "finish_reason": completion.finish_reason,
            }
            for index in range(completion.n)
        ],
        "usage": completion.usage.to_json(completion.reasoning_tokens),
    }


def token_logprobs(text: str | None, top: int) -> list[dict[str, Any]]:
    """Deterministic log probabilities, one entry per word piece of the answer."""
    entries = []
    for piece in _WORD_WITH_SPACE.findall(text or ""):
        logprob = -round(0.01 * (1 + len(piece) % 7), 4)
        entry = {"token": piece, "logprob": logprob, "bytes": list(piece.encode())}
        alternatives = [
            {"token": piece, "logprob": logprob, "bytes": entry["bytes"]},
            *(
                {"token": f"{piece}~{rank}", "logprob": logprob - rank, "bytes": None}
                for rank in range(1, top)
            ),
        ]
        entries.append({**entry, "top_logprobs": alternatives[:top]})
    return entries


def chunk_json(
    completion: Completion,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    with_usage_field: bool = False,
) -> dict[str, Any]:
    """One `chat.completion.chunk` carrying a delta of the single choice (with the log
    probabilities of its text when they were asked for)."""
    logprobs = None
    if completion.top_logprobs is not None and delta.get("content"):
        logprobs = {
            "content": token_logprobs(delta["content"], completion.top_logprobs),
            "refusal": None,
        }
    chunk: dict[str, Any] = {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "service_tier": "default",
        "choices": [
            {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
        ],
    }
    if with_usage_field:
        chunk["usage"] = None  # OpenAI sends null on every chunk but the last
    return chunk


def usage_chunk_json(completion: Completion) -> dict[str, Any]:
    """The extra last chunk sent when `stream_options.include_usage` is true."""
    chunk = chunk_json(completion, {})
    chunk["choices"] = []
    chunk["usage"] = completion.usage.to_json(completion.reasoning_tokens)
    return chunk


def stream_deltas(answer: Answer) -> list[dict[str, Any]]:
    """The answer cut into the deltas a streaming provider would send, in order."""
    deltas: list[dict[str, Any]] = []
    if answer.content:
        words = _WORD_WITH_SPACE.findall(answer.content)
        for start in range(0, len(words), WORDS_PER_CHUNK):
            deltas.append({"content": "".join(words[start : start + WORDS_PER_CHUNK])})
    for index, call in enumerate(answer.tool_calls):
        head = {"index": index, "id": call.id, "type": "function"}
        deltas.append({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        arguments = call.arguments
        for start in range(0, len(arguments), ARGUMENT_CHARS_PER_CHUNK):
            piece = arguments[start : start + ARGUMENT_CHARS_PER_CHUNK]
            deltas.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    return deltas
