"""Token by token: `RoutegraphChatModel`'s stream over the gateway's streamed calls.

LangChain streams a chat model when a caller listens for tokens (LangGraph's `messages`
stream mode does); each text delta the gateway forwards becomes a chunk as it arrives.

A cascade (or an `auto` route that verifies a cheap answer) streams only the answer that
needs no verifying: its last stage, the escalated model, streams live as any call. An
earlier stage's draft is served whole and checked first; the client sees it, as one chunk,
only once it is accepted, and never when the cascade escalates past it. A replay's tape
answers whole, as one chunk.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk

from app.gateway.gateway import Gateway
from app.gateway.streaming import StreamEnd, TextDelta, ToolCalls
from app.gateway.types import CallContext, ModelRequest, ModelResult
from app.routing.policy import Cascade, Policy, Route
from nodes.context import RunContext


async def stream_chunks(
    context: RunContext,
    request: ModelRequest,
    policy: Policy,
    ctx: CallContext,
    to_message: Callable[[ModelResult], AIMessage],
) -> AsyncIterator[ChatGenerationChunk]:
    gateway = context.gateway
    if not isinstance(gateway, Gateway):  # a replay's tape
        result = await gateway.complete(request, policy, ctx)
        yield _final_chunk(to_message(result), content=result.content or "")
        return
    cascade = policy if isinstance(policy, Cascade) else None
    route = None
    if cascade is None:
        route = await gateway.plan_route(request, policy, ctx)
        cascade = route.verify
    if cascade is not None:
        async for chunk in _cascade_chunks(gateway, request, cascade, ctx, to_message):
            yield chunk
        return
    assert route is not None
    async for event in gateway.stream(request, route, ctx):
        if isinstance(event, TextDelta):
            yield ChatGenerationChunk(message=AIMessageChunk(content=event.text))
        elif isinstance(event, ToolCalls):
            continue  # they come whole with the end of the stream
        elif isinstance(event, StreamEnd):
            yield _final_chunk(to_message(event.result), content="")


async def _cascade_chunks(
    gateway: Gateway,
    request: ModelRequest,
    cascade: Cascade,
    ctx: CallContext,
    to_message: Callable[[ModelResult], AIMessage],
) -> AsyncIterator[ChatGenerationChunk]:
    """The cascade runs in a task; its last stage's tokens come through a queue as they
    arrive (None: the cascade is over)."""
    tokens: asyncio.Queue[str | None] = asyncio.Queue()

    async def final_stage(staged: ModelRequest, route: Route, stage: CallContext) -> ModelResult:
        result = None
        async for event in gateway.stream(staged, route, stage):
            if isinstance(event, TextDelta):
                tokens.put_nowait(event.text)
            elif isinstance(event, StreamEnd):
                result = event.result
        assert result is not None  # the stream ends with StreamEnd or raises
        return result

    walk = asyncio.ensure_future(
        gateway.complete_cascade(request, cascade, ctx, final_stage=final_stage)
    )
    walk.add_done_callback(lambda _: tokens.put_nowait(None))
    streamed = False
    try:
        while (text := await tokens.get()) is not None:
            streamed = True
            yield ChatGenerationChunk(message=AIMessageChunk(content=text))
        result = walk.result()
    finally:
        if not walk.done():
            walk.cancel()
            await asyncio.gather(walk, return_exceptions=True)
    # An accepted draft was not streamed: it goes out now, whole.
    yield _final_chunk(to_message(result), content="" if streamed else result.content or "")


def _final_chunk(message: AIMessage, *, content: str) -> ChatGenerationChunk:
    """The rest of the answer: tool calls, usage and routing metadata (and, for an answer
    that was not streamed, its text)."""
    chunks = [
        tool_call_chunk(name=call["name"], args=_args(call["args"]), id=call["id"], index=index)
        for index, call in enumerate(message.tool_calls)
    ]
    return ChatGenerationChunk(
        message=AIMessageChunk(
            content=content,
            tool_call_chunks=chunks,
            usage_metadata=message.usage_metadata,
            response_metadata=message.response_metadata,
            chunk_position="last",
        )
    )


def _args(args: dict[str, object]) -> str:
    return json.dumps(args)
