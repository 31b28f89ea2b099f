"""Streamed calls: each attempt a ledger row, and a cut stream continued on the next model.

Text is forwarded as it arrives. Tool calls are held until their attempt completes (a
half-sent tool call cannot be taken back), so a failed tool-call stream falls back like a
failed request. When a stream breaks after some text, the next model of the route gets
the conversation plus that text with an instruction to continue; its output goes through
a `RepeatFilter`, so the client reads one answer. The broken attempt's row says
`stream cut after N tokens`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from app.gateway.chain import FallbackChain
from app.gateway.continuation import RepeatFilter, continuation_request
from app.gateway.ledger import Completion
from app.gateway.ledger_rows import recorded_result
from app.gateway.provider_answer import TOP_LEVEL
from app.gateway.provider_faults import request_fault
from app.gateway.provider_http import StreamCut
from app.gateway.providers import provider_errors
from app.gateway.retry_prompts import describe_provider_error
from app.gateway.types import CallContext, ModelRequest, ModelResult, Usage
from app.routing.catalog import ModelSpec
from app.routing.features import estimate_tokens
from app.routing.policy import Route

if TYPE_CHECKING:
    from app.db.models import ModelCall
    from app.gateway.gateway import Gateway

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextDelta:
    text: str
    model: str
    # The provider's log probabilities of exactly this text (None: not asked, or the text
    # continues a cut answer and was filtered, so they would not match).
    logprobs: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class ToolCalls:
    tool_calls: list[dict[str, Any]]
    model: str


@dataclass(frozen=True)
class StreamEnd:
    """The call is over: the answer as the client received it, with every attempt's cost."""

    result: ModelResult


StreamEvent = TextDelta | ToolCalls | StreamEnd


@dataclass
class _Attempt:
    """What one streamed attempt produced."""

    text: str = ""
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: Usage | None = None
    logprobs: list[dict[str, Any]] | None = None  # of the last chunk's text
    # What the provider sent beyond the answer (fingerprint, service tier, usage details).
    extras: dict[str, Any] = field(default_factory=dict)

    def add(self, chunk: dict[str, Any]) -> str:
        """Take one chunk; return its text."""
        for key in TOP_LEVEL:
            if chunk.get(key) is not None:
                self.extras[key] = chunk[key]
        usage = chunk.get("usage")
        if usage:
            details = usage.get("prompt_tokens_details") or {}
            self.usage = Usage(
                int(usage.get("prompt_tokens") or 0),
                int(usage.get("completion_tokens") or 0),
                int(details.get("cached_tokens") or 0),
            )
            usage_details = {
                key: usage[key]
                for key in ("prompt_tokens_details", "completion_tokens_details")
                if isinstance(usage.get(key), dict)
            }
            if usage_details:
                self.extras["usage_details"] = usage_details
        choices = chunk.get("choices") or []
        if not choices:
            return ""
        choice = choices[0]
        self.logprobs = (choice.get("logprobs") or {}).get("content")
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        delta = choice.get("delta") or {}
        for call in delta.get("tool_calls") or []:
            slot = self.tool_calls.setdefault(
                int(call.get("index", 0)),
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
            )
            if call.get("id"):
                slot["id"] = call["id"]
            function = call.get("function") or {}
            slot["function"]["name"] += function.get("name") or ""
            slot["function"]["arguments"] += function.get("arguments") or ""
        text = delta.get("content") or ""
        self.text += text
        return text

    def calls(self) -> list[dict[str, Any]]:
        return [self.tool_calls[index] for index in sorted(self.tool_calls)]


async def serve_stream(
    gateway: Gateway, request: ModelRequest, route: Route, ctx: CallContext
) -> AsyncIterator[StreamEvent]:
    """Stream the call down the route's models; raise AllModelsFailed when none finishes."""
    sent = ""
    chain = FallbackChain.start(route, ctx)
    paid = 0.0
    delivered = 0  # completion tokens the client got from earlier (cut) attempts
    delivered_prompt = 0  # and the prompt tokens those attempts were paid for
    for index, model in enumerate(route.candidates):
        reason = chain.reason(index, continuing=bool(sent))
        attempt_request = continuation_request(request, sent) if sent else request
        attempt_request = replace(attempt_request, max_tokens=_cap(attempt_request, model))
        record = chain.record(model, attempt_request, reason)
        estimate = await gateway.estimator.estimate(
            model, attempt_request, graph=ctx.graph, node=ctx.node
        )
        await gateway.providers.ready(model)
        ledger = gateway.ledger_for(ctx)
        begun = await ledger.begin(ctx, record, estimate)
        if begun.recorded is not None:  # a resumed run's call, paid before: its answer again
            async for event in _replayed(begun.recorded):
                yield event
            return
        chain.booked(begun.call_id, begun.number)
        attempt = _Attempt()
        repeat = RepeatFilter(sent)
        started = time.perf_counter()
        try:
            continuing = bool(sent)
            async for chunk in gateway.providers.stream(model, attempt_request, gateway.timeout_s):
                raw = attempt.add(chunk)
                text = repeat.feed(raw)
                if text:
                    sent += text
                    whole = not continuing and text == raw
                    yield TextDelta(text, model.name, attempt.logprobs if whole else None)
            if attempt.finish_reason is None and not attempt.tool_calls:
                raise StreamCut("the stream ended without a finish reason")
        except provider_errors() as exc:
            error = describe_provider_error(exc, gateway.timeout_s)
            rejected = None if sent else request_fault(exc, model.name)
            if rejected is not None:  # the request's own fault: no other model would help
                latency = (time.perf_counter() - started) * 1000
                done = Completion("rejected", latency, 0.0, estimate.cost_usd, error=str(rejected))
                await ledger.complete(ctx, begun, record, done)
                raise rejected from exc
            tokens = estimate_tokens(attempt.text) if attempt.text else 0
            if tokens:
                error = f"stream cut after {tokens} tokens: {error}"
            log.warning("model %s failed for %s: %s", model.name, ctx.call_key, error)
            # A failure before any token costs nothing (as a failed plain call); a cut
            # stream's prompt and tokens were paid and the client has its text: both count
            # in the answer's usage and cost.
            prompt = estimate.prompt_tokens if tokens else 0
            cost = model.cost_usd(prompt, tokens)
            paid += cost
            delivered += tokens
            delivered_prompt += prompt
            latency = (time.perf_counter() - started) * 1000
            done = Completion(
                "error",
                latency,
                cost,
                estimate.cost_usd,
                prompt_tokens=prompt,
                completion_tokens=tokens,
                response=_response(attempt) if attempt.text else None,
                error=error,
            )
            await ledger.complete(ctx, begun, record, done)
            chain.failed(model, error)
            continue
        except BaseException:
            # The client went away (or shutdown) mid-stream: book what the provider sent.
            tokens = estimate_tokens(attempt.text) if attempt.text else 0
            done = Completion(
                "error",
                (time.perf_counter() - started) * 1000,
                model.cost_usd(estimate.prompt_tokens, tokens),
                estimate.cost_usd,
                prompt_tokens=estimate.prompt_tokens,
                completion_tokens=tokens,
                error=f"interrupted after {tokens} tokens (client went away or shutdown)",
            )
            await asyncio.shield(ledger.complete(ctx, begun, record, done))
            raise
        tail = repeat.flush()
        if tail:
            sent += tail
            yield TextDelta(tail, model.name)
        calls = attempt.calls()
        if calls:
            yield ToolCalls(calls, model.name)
        usage = attempt.usage or Usage(estimate.prompt_tokens, estimate_tokens(attempt.text))
        cost = model.cost_usd(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)
        latency = (time.perf_counter() - started) * 1000
        done = Completion(
            "ok",
            latency,
            cost,
            estimate.cost_usd,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            response=_response(attempt),
            finish_reason=attempt.finish_reason,
        )
        await ledger.complete(ctx, begun, record, done)
        total = Usage(
            usage.prompt_tokens + delivered_prompt,
            usage.completion_tokens + delivered,
            usage.cached_tokens,
        )
        yield StreamEnd(
            ModelResult(
                content=sent if sent or not calls else None,
                tool_calls=calls,
                model=model.name,
                tier=model.tier,
                usage=total,
                cost_usd=paid + cost,
                latency_ms=latency,
                call_id=begun.call_id,
                attempts=chain.attempts_failed + 1,
                finish_reason=attempt.finish_reason or ("tool_calls" if calls else "stop"),
                passthrough=attempt.extras or None,
            )
        )
        return
    raise chain.exhausted()


async def _replayed(row: ModelCall) -> AsyncIterator[StreamEvent]:
    result = recorded_result(row)
    if result.content:
        yield TextDelta(result.content, result.model)
    if result.tool_calls:
        yield ToolCalls(result.tool_calls, result.model)
    yield StreamEnd(result)


def _cap(request: ModelRequest, model: ModelSpec) -> int | None:
    limit = request.max_tokens
    return None if limit is None else min(limit, model.max_output_tokens)


def _response(attempt: _Attempt) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": attempt.text or None}
    if attempt.tool_calls:
        message["tool_calls"] = attempt.calls()
    return {"message": message, "stream": True}
