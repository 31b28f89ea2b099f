"""The ledger row and the `model_call` event of a model call, built in one place for every
kind of call: an attempt in flight, a group-committed one, a cache hit, a replayed answer.
"""

from __future__ import annotations

from typing import Any

from app.db.events_repo import PendingEvent
from app.gateway.types import CallContext
from app.routing.catalog import ModelSpec


def call_row(
    ctx: CallContext,
    *,
    call_id: str,
    attempt: int,
    model: ModelSpec | None,
    reason: str,
    requested: str,
    request: dict[str, Any],
    status: str,
    task_class: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A `model_calls` row: who called (the context), which model, why, and `fields` (the
    outcome, or what the row carries over from another call: a cache hit, a replay)."""
    row: dict[str, Any] = {
        "id": call_id,
        "tenant_id": ctx.tenant_id or "default",
        "api_key_id": ctx.account.key_id if ctx.account is not None else None,
        "run_id": ctx.run_id,
        "graph": ctx.graph,
        "node": ctx.node,
        "call_key": ctx.call_key,
        "attempt": attempt,
        "epoch": ctx.run.epoch if ctx.run is not None else None,
        "task_class": task_class,
        "routing_reason": reason,
        "requested": requested,
        "request": request,
        "status": status,
        "experiment_id": ctx.experiment_id,
        "experiment_arm": ctx.experiment_arm,
    }
    if model is not None:
        row.update(tier=model.tier, model=model.name, provider=model.provider)
    row.update(fields)
    return row


def call_event(
    ctx: CallContext,
    *,
    call_id: str,
    attempt: int,
    model: str,
    tier: str,
    status: str,
    reason: str,
    cost_usd: float,
    latency_ms: float,
    prompt_tokens: int,
    completion_tokens: int,
    finish_reason: str | None,
    error: str | None,
    **extra: Any,
) -> PendingEvent:
    """The run event that tells the timeline and the SSE stream about a call."""
    return PendingEvent(
        "model_call",
        node=ctx.node,
        payload={
            "call_id": call_id,
            "attempt": attempt,
            "model": model,
            "tier": tier,
            "status": status,
            "reason": reason,
            "cost_usd": cost_usd,
            "latency_ms": round(latency_ms, 1),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "finish_reason": finish_reason,
            "error": error,
            **extra,
        },
    )
