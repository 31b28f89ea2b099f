"""Token by token: `RoutegraphChatModel`'s stream over the gateway's streamed calls.

LangChain streams a chat model when a caller listens for tokens (LangGraph's `messages`
stream mode does); each text delta the gateway forwards becomes a chunk as it arrives.
Calls the gateway cannot stream (a cascade, an `auto` route that verifies a cheap answer,
a replay's tape) are made whole and given as one chunk.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk

from app.gateway.gateway import Gateway
from app.gateway.streaming import StreamEnd, TextDelta, ToolCalls
from app.gateway.types import CallContext, ModelRequest, ModelResult
from app.routing.policy import Cascade, Policy
from nodes.context import RunContext


async def stream_chunks(
    context: RunContext,
    request: ModelRequest,
    policy: Policy,
    ctx: CallContext,
    to_message: Callable[[ModelResult], AIMessage],
) -> AsyncIterator[ChatGenerationChunk]:
    gateway = context.gateway
    route = None
    if isinstance(gateway, Gateway) and not isinstance(policy, Cascade):
        route = await gateway.plan_route(request, policy, ctx)
    if route is None or route.verify is not None or not isinstance(gateway, Gateway):
        result = await gateway.complete(request, policy, ctx)
        yield _final_chunk(to_message(result), content=result.content or "")
        return
    async for event in gateway.stream(request, route, ctx):
        if isinstance(event, TextDelta):
            yield ChatGenerationChunk(message=AIMessageChunk(content=event.text))
        elif isinstance(event, ToolCalls):
            continue  # they come whole with the end of the stream
        elif isinstance(event, StreamEnd):
            yield _final_chunk(to_message(event.result), content="")


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
