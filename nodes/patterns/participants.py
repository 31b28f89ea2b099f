"""Who takes part in a pattern, how its calls are keyed and labelled, and how it reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.gateway.types import CallContext
from app.routing.policy import Auto, Cascade, FixedModel, FixedTier, Policy
from nodes.context import NodeCalls

# The node's LangGraph custom-stream writer: every decision goes through it as an event.
Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Participant:
    """A named seat in a pattern (a debater, the judge, the verifier) and who fills it."""

    name: str
    policy: Policy

    @property
    def label(self) -> str:
        policy = self.policy
        if isinstance(policy, FixedTier):
            return f"{policy.tier} tier"
        if isinstance(policy, FixedModel):
            return f"model {policy.model}"
        if isinstance(policy, Auto):
            return "auto policy"
        if isinstance(policy, Cascade):
            return f"cascade {'>'.join(policy.tiers)}"
        return type(policy).__name__


def call_context(calls: NodeCalls, purpose: str) -> CallContext:
    """The next deterministic call key, labelled with why the call is made (the gateway
    appends the purpose to the ledger's routing reason)."""
    ctx = calls.next_context()
    ctx.purpose = purpose
    return ctx


def decision(emit: Emit, node: str, name: str, **details: Any) -> dict[str, Any]:
    """Report a decision (judge's pick, escalation, acceptance, fallback) as an event."""
    event = {"kind": "decision", "decision": name, "node": node, **details}
    emit(event)
    return event


def brief(text: str | None, limit: int = 160) -> str:
    """An answer shortened for events and ledger reasons."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
