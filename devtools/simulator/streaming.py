"""Response bodies that take time: simulated latency, SSE streams and cut connections."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from app.routing.catalog import ModelSpec
from devtools.simulator.completions import (
    Completion,
    chunk_json,
    completion_json,
    stream_deltas,
    usage_chunk_json,
)
from devtools.simulator.errors import SimulatedDisconnect
from devtools.simulator.tokens import count_completion_tokens


@dataclass(frozen=True)
class Latency:
    """Seconds to the first token and per output token, already scaled."""

    first_token: float
    per_token: float

    @classmethod
    def of(cls, model: ModelSpec, scale: float) -> Latency:
        spec = model.latency_ms
        return cls(spec.first_token * scale / 1000, spec.per_output_token * scale / 1000)

    def total(self, completion_tokens: int) -> float:
        return self.first_token + self.per_token * completion_tokens


async def wait_unless_disconnected(request: Request, seconds: float) -> bool:
    """Sleep, but stop as soon as the client goes away (False), so a hung call frees up."""
    if seconds <= 0:
        return True

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            continue

    try:
        await asyncio.wait_for(disconnected(), timeout=seconds)
    except TimeoutError:
        return True
    return False


def _event(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _delta_tokens(delta: dict[str, Any]) -> int:
    calls = [
        (call.get("function", {}).get("name", ""), call.get("function", {}).get("arguments", ""))
        for call in delta.get("tool_calls", [])
    ]
    return count_completion_tokens(delta.get("content"), calls)


async def sse_events(
    completion: Completion, include_usage: bool, latency: Latency, cut: bool
) -> AsyncIterator[bytes]:
    """The chunk stream of one completion; with `cut`, the connection drops halfway."""
    opening: dict[str, Any] = {"role": "assistant", "content": ""}
    if completion.answer.tool_calls:
        opening["content"] = None
    yield _event(chunk_json(completion, opening, with_usage_field=include_usage))
    await asyncio.sleep(latency.first_token)
    deltas = stream_deltas(completion.answer)
    cut_after = max(1, len(deltas) // 2)
    for sent, delta in enumerate(deltas, start=1):
        yield _event(chunk_json(completion, delta, with_usage_field=include_usage))
        await asyncio.sleep(latency.per_token * _delta_tokens(delta))
        if cut and sent >= cut_after:
            raise SimulatedDisconnect("cut_stream fault: connection dropped mid-stream")
    if cut:
        raise SimulatedDisconnect("cut_stream fault: connection dropped mid-stream")
    final = chunk_json(completion, {}, completion.finish_reason, with_usage_field=include_usage)
    yield _event(final)
    if include_usage:
        yield _event(usage_chunk_json(completion))
    yield b"data: [DONE]\n\n"


def full_body(completion: Completion) -> bytes:
    return json.dumps(completion_json(completion)).encode()


async def cut_body(body: bytes, latency: Latency) -> AsyncIterator[bytes]:
    """The first half of a JSON response, then a dropped connection (non-streaming cut)."""
    await asyncio.sleep(latency.first_token)
    yield body[: len(body) // 2]
    raise SimulatedDisconnect("cut_stream fault: connection dropped mid-response")
