"""Ledger rows and the answers they hold: what an attempt's completion writes, and the
answer of a call a run already paid for (read back after a crash)."""

from __future__ import annotations

from typing import Any

from app.db.models import ModelCall
from app.gateway.ledger import Completion
from app.gateway.provider_answer import ProviderAnswer
from app.gateway.types import ModelResult, Usage


def completion_of(
    status: str,
    answer: ProviderAnswer,
    latency: float,
    cost: float,
    estimate: float,
    error: str | None,
) -> Completion:
    return Completion(
        status=status,
        latency_ms=latency,
        cost_usd=cost,
        estimate_usd=estimate,
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
        cached_tokens=answer.usage.cached_tokens,
        cache_write_tokens=answer.usage.cache_write_tokens,
        response=response_json(answer),
        error=error,
        finish_reason=answer.finish_reason,
    )


def recorded_result(row: ModelCall) -> ModelResult:
    """A call this run already paid for (before a crash): its answer, at no new cost."""
    message = (row.response or {}).get("message", {})
    return ModelResult(
        content=message.get("content"),
        tool_calls=message.get("tool_calls") or [],
        model=row.model,
        tier=row.tier,
        usage=Usage(
            row.prompt_tokens, row.completion_tokens, row.cached_tokens, row.cache_write_tokens
        ),
        cost_usd=0.0,
        latency_ms=0.0,
        call_id=row.id,
        from_ledger=True,
        finish_reason=row.finish_reason,
    )


def response_json(answer: ProviderAnswer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    return {"message": message, "raw": answer.raw}
