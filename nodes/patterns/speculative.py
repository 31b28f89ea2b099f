"""Speculative draft and verify: a cheap model drafts, a strong model verifies it and only
when it rejects the draft is a fix written (by the strong model). Whether the draft was
accepted is a decision event, and the fix call's ledger reason says why it was rejected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.gateway.types import ModelRequest
from nodes.context import NodeCalls
from nodes.patterns.participants import Emit, Participant, brief, call_context, decision
from nodes.patterns.prompts import FIXER_PROMPT, SOLVER_PROMPT, sections, with_instructions
from nodes.patterns.verifier import verify_with_model


@dataclass(frozen=True)
class SpeculativeOutcome:
    answer: str
    accepted: bool
    reason: str
    draft: str
    draft_model: str
    verifier_model: str
    fixer_model: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "accepted": self.accepted,
            "reason": self.reason,
            "draft": self.draft,
            "draft_model": self.draft_model,
            "verifier_model": self.verifier_model,
            "fixer_model": self.fixer_model,
        }


async def run_speculative(
    calls: NodeCalls,
    *,
    question: str,
    drafter: Participant,
    verifier: Participant,
    emit: Emit,
    instructions: str | None = None,
    max_tokens: int = 800,
) -> SpeculativeOutcome:
    draft_request = ModelRequest(
        messages=[
            {"role": "system", "content": with_instructions(SOLVER_PROMPT, instructions)},
            {"role": "user", "content": question},
        ],
        max_tokens=max_tokens,
    )
    drafted = await calls.gateway.complete(
        draft_request,
        drafter.policy,
        call_context(calls, f"speculative draft on {drafter.label}, to be verified"),
    )
    draft = (drafted.content or "").strip()
    verification, checked = await verify_with_model(
        calls,
        verifier,
        question,
        draft,
        purpose=f"speculative verify of {drafted.model}'s draft on {verifier.label}",
    )
    if verification.accepted:
        decision(
            emit,
            calls.node,
            "speculative_accept",
            accepted=True,
            draft_model=drafted.model,
            verifier_model=checked.model,
            reason=verification.reason,
        )
        return SpeculativeOutcome(
            draft, True, verification.reason, draft, drafted.model, checked.model, None
        )
    fix_request = ModelRequest(
        messages=[
            {"role": "system", "content": with_instructions(FIXER_PROMPT, instructions)},
            {
                "role": "user",
                "content": sections(
                    ("Question", question),
                    ("Draft answer", draft),
                    ("Objection", verification.reason),
                ),
            },
        ],
        max_tokens=max_tokens,
    )
    purpose = (
        f"speculative fix: {checked.model} rejected {drafted.model}'s draft "
        f"({brief(verification.reason, 200)})"
    )
    fixed = await calls.gateway.complete(fix_request, verifier.policy, call_context(calls, purpose))
    decision(
        emit,
        calls.node,
        "speculative_reject",
        accepted=False,
        draft_model=drafted.model,
        verifier_model=checked.model,
        fixer_model=fixed.model,
        reason=verification.reason,
    )
    return SpeculativeOutcome(
        (fixed.content or "").strip(),
        False,
        verification.reason,
        draft,
        drafted.model,
        checked.model,
        fixed.model,
    )
