"""Hands each ledger completion to telemetry: the metrics and the trace span of an attempt
come from exactly what its ledger row records."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.observability.calls import CallObservation
from app.observability.telemetry import Telemetry

if TYPE_CHECKING:
    from app.gateway.ledger import AttemptRecord, Completion
    from app.gateway.types import CallContext

FALLBACK_REASONS = ("fallback after", "continuation of the answer")


def observe_call(
    telemetry: Telemetry | None,
    ctx: CallContext,
    call_id: str,
    attempt: AttemptRecord,
    done: Completion,
) -> None:
    if telemetry is None:
        return
    model = attempt.model
    telemetry.model_call(
        CallObservation(
            call_id=call_id,
            model=model.name,
            tier=model.tier,
            provider=model.provider,
            policy=attempt.policy or "none",
            requested=attempt.requested,
            task_class=attempt.task_class,
            outcome=done.status,
            latency_ms=done.latency_ms,
            cost_usd=done.cost_usd,
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
            cached_tokens=done.cached_tokens,
            fallback=attempt.reason.startswith(FALLBACK_REASONS),
            finish_reason=done.finish_reason,
            error=done.error,
            first_token_ms=done.ttft_ms,
            run_id=ctx.run_id,
            node=ctx.node,
            stream=done.stream,
        )
    )
