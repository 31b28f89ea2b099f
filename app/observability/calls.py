"""What the ledger tells telemetry about one finished model call attempt."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallObservation:
    """One attempt as its ledger row records it, plus what only the caller saw."""

    call_id: str
    model: str
    tier: str
    provider: str
    policy: str  # the routing policy: auto, cascade, tier, model
    requested: str  # the tier or model the route asked for
    task_class: str | None
    outcome: str  # ok | error | invalid_output | rejected
    latency_ms: float
    cost_usd: float
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    fallback: bool  # tried because the model before it failed
    finish_reason: str | None = None
    error: str | None = None
    first_token_ms: float | None = None  # streamed calls only
    run_id: str | None = None
    node: str | None = None
    stream: bool = False
