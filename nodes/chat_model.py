"""A LangChain chat model backed by the gateway: swap it in for `ChatOpenAI` (or any chat
model) in an existing LangGraph graph and its calls get tiers, routing, fallbacks, budgets
and the ledger, under deterministic call keys (a resumed run does not pay again).

    from nodes.chat_model import RoutegraphChatModel
    llm = RoutegraphChatModel(tier="edge")          # was: ChatOpenAI(model="gpt-4o-mini")
    llm_with_tools = llm.bind_tools([my_tool])
    answer = await llm_with_tools.ainvoke(state["messages"])

It works inside nodes of a graph that routegraph runs (it finds the run through LangGraph's
runtime context); called anywhere else it says so instead of calling a provider.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, convert_to_openai_messages
from langchain_core.messages.tool import tool_call as make_tool_call
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.config import get_config
from pydantic import Field, model_validator

from app.gateway.types import ModelRequest, ModelResult
from app.routing.policy import Auto, Cascade, FixedModel, FixedTier, Policy
from nodes.chat_stream import stream_chunks
from nodes.context import RunContext


class RoutegraphChatModel(BaseChatModel):
    """Chat model whose calls go through routegraph's gateway."""

    tier: Literal["edge", "mid", "frontier"] | None = Field(
        None, description="a fixed tier (its models are the fallback chain)"
    )
    model: str | None = Field(None, description="a catalog model, then its tier's chain")
    policy: Literal["auto", "cascade"] | None = Field(None, description="a routing policy")
    threshold: float | None = Field(None, ge=0, le=1, description="auto's quality bar")
    max_tokens: int | None = Field(None, gt=0)
    temperature: float | None = Field(None, ge=0, le=2)

    @model_validator(mode="after")
    def _one_route(self) -> RoutegraphChatModel:
        chosen = [x for x in (self.tier, self.model, self.policy) if x is not None]
        if len(chosen) != 1:
            raise ValueError("set exactly one of tier, model or policy")
        return self

    @property
    def _llm_type(self) -> str:
        return "routegraph"

    def routing_policy(self) -> Policy:
        if self.tier is not None:
            return FixedTier(self.tier)
        if self.model is not None:
            return FixedModel(self.model)
        if self.policy == "cascade":
            return Cascade(min_p_good=self.threshold)
        return Auto() if self.threshold is None else Auto(threshold=self.threshold)

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = _tool_choice(tool_choice)
        return self.bind(tools=formatted, **kwargs)

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> ModelRequest:
        return ModelRequest(
            messages=list(convert_to_openai_messages(messages)),
            tools=kwargs.get("tools") or None,
            tool_choice=kwargs.get("tool_choice"),
            max_tokens=kwargs.get("max_tokens", self.max_tokens),
            temperature=kwargs.get("temperature", self.temperature),
            stop=stop,
        )

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        """Used when a caller listens for tokens (LangGraph's `messages` stream mode)."""
        context, node = _run_context()
        policy = context.policy_for(node, self.routing_policy())
        request = self._request(messages, stop, kwargs)
        ctx = context.call_context(node)
        async for chunk in stream_chunks(context, request, policy, ctx, _ai_message):
            yield chunk

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        context, node = _run_context()
        request = self._request(messages, stop, kwargs)
        result = await context.gateway.complete(
            request,
            context.policy_for(node, self.routing_policy()),
            context.call_context(node),
        )
        return ChatResult(generations=[ChatGeneration(message=_ai_message(result))])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """For synchronous nodes (LangGraph runs them in a thread): the call is made on the
        run's event loop."""
        context, _ = _run_context()
        loop = context.loop
        if loop is None:
            raise RuntimeError("RoutegraphChatModel needs the run's event loop (use ainvoke)")
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None  # a synchronous node, in LangGraph's thread pool
        if running is loop:
            raise RuntimeError("use `await model.ainvoke(...)` inside async nodes")
        future = asyncio.run_coroutine_threadsafe(
            self._agenerate(messages, stop=stop, **kwargs), loop
        )
        return future.result()


def _run_context() -> tuple[RunContext, str]:
    from langgraph.runtime import get_runtime

    try:
        runtime = get_runtime(RunContext)
        config = get_config()
    except RuntimeError as exc:
        raise RuntimeError(
            "RoutegraphChatModel calls models only inside a graph run by routegraph"
        ) from exc
    context = runtime.context
    if not isinstance(context, RunContext):
        raise RuntimeError("RoutegraphChatModel needs routegraph's run context")
    node = str((config.get("metadata") or {}).get("langgraph_node") or "model")
    return context, node


def _tool_choice(choice: str) -> str | dict[str, Any]:
    if choice in ("auto", "none", "required"):
        return choice
    if choice == "any":
        return "required"
    return {"type": "function", "function": {"name": choice}}


def _ai_message(result: ModelResult) -> AIMessage:
    tool_calls = []
    for call in result.tool_calls:
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except json.JSONDecodeError:
            arguments = {}  # the gateway already rejected malformed arguments
        tool_calls.append(
            make_tool_call(name=function.get("name", ""), args=arguments, id=call.get("id"))
        )
    usage = result.usage
    return AIMessage(
        content=result.content or "",
        tool_calls=tool_calls,
        usage_metadata={
            "input_tokens": usage.prompt_tokens,
            "output_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        },
        response_metadata={
            "model_name": result.model,
            "tier": result.tier,
            "cost_usd": result.cost_usd,
            "call_id": result.call_id,
            "finish_reason": result.finish_reason,
            "from_ledger": result.from_ledger,
        },
    )
