"""Cascade: the cheapest tier answers first; a verifier (a rule or a model) accepts the
answer or escalates to the next tier. Each stage is its own call, so the ledger shows
every tier tried and why the next one was asked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.gateway.learning import CallFeedback
from app.gateway.types import ModelRequest, ModelResult
from app.routing.catalog import TierName
from app.routing.policy import FixedTier
from app.routing.verifiers import get_verifier
from nodes.context import NodeCalls
from nodes.patterns.participants import Emit, Participant, call_context, decision
from nodes.patterns.prompts import SOLVER_PROMPT, with_instructions
from nodes.patterns.verifier import verify_with_model


@dataclass(frozen=True)
class CascadeVerifier:
    """Either a rule (`arithmetic`, `json`, `nonempty`) or a model that verifies."""

    check: str | None = None
    model: Participant | None = None

    @property
    def label(self) -> str:
        if self.check is not None:
            return f"{self.check} check"
        assert self.model is not None
        return f"verifier on {self.model.label}"


@dataclass
class CascadeOutcome:
    answer: str
    tier: str
    model: str
    accepted: bool  # False when the last tier answered without the verifier's approval
    stages: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "tier": self.tier,
            "model": self.model,
            "accepted": self.accepted,
            "escalations": len(self.stages) - 1,
            "stages": self.stages,
        }


async def run_cascade(
    calls: NodeCalls,
    *,
    question: str,
    tiers: Sequence[TierName],
    verifier: CascadeVerifier,
    emit: Emit,
    instructions: str | None = None,
    max_tokens: int = 800,
) -> CascadeOutcome:
    messages = [
        {"role": "system", "content": with_instructions(SOLVER_PROMPT, instructions)},
        {"role": "user", "content": question},
    ]
    request = ModelRequest(messages=messages, max_tokens=max_tokens)
    why = "cheapest tier first"
    stages: list[dict[str, Any]] = []
    result: ModelResult | None = None
    for index, tier in enumerate(tiers):
        purpose = f"cascade stage {index + 1}/{len(tiers)} on {tier}: {why}"
        result = await calls.gateway.complete(
            request, FixedTier(tier), call_context(calls, purpose)
        )
        if index == len(tiers) - 1:
            stages.append({"tier": tier, "model": result.model, "verdict": "final tier"})
            decision(
                emit,
                calls.node,
                "cascade_final",
                tier=tier,
                model=result.model,
                reason=f"last tier answers without verification after: {why}",
            )
            return CascadeOutcome(result.content or "", tier, result.model, False, stages)
        accepted, reason = await _verify(calls, verifier, question, result, index)
        verdict = CallFeedback(result.call_id, "cascade_verifier", 1.0 if accepted else 0.0)
        await calls.gateway.record_feedback([verdict])
        stages.append(
            {
                "tier": tier,
                "model": result.model,
                "verdict": "accept" if accepted else "reject",
                "reason": reason,
            }
        )
        if accepted:
            decision(
                emit,
                calls.node,
                "cascade_accept",
                tier=tier,
                model=result.model,
                verifier=verifier.label,
                reason=reason,
            )
            return CascadeOutcome(result.content or "", tier, result.model, True, stages)
        why = f"{verifier.label} rejected {result.model}'s answer ({reason})"
        decision(
            emit,
            calls.node,
            "cascade_escalation",
            from_tier=tier,
            to_tier=tiers[index + 1],
            model=result.model,
            verifier=verifier.label,
            reason=reason,
        )
    raise AssertionError("a cascade has at least one tier")


async def _verify(
    calls: NodeCalls, verifier: CascadeVerifier, question: str, result: ModelResult, index: int
) -> tuple[bool, str]:
    if verifier.check is not None:
        verdict = get_verifier(verifier.check)(
            [{"role": "user", "content": question}], result.content
        )
        return verdict.accepted, verdict.reason
    assert verifier.model is not None
    verification, _ = await verify_with_model(
        calls,
        verifier.model,
        question,
        result.content or "",
        purpose=f"cascade check of stage {index + 1} ({result.model}'s answer)",
    )
    return verification.accepted, verification.reason
