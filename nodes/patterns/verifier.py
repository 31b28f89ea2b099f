"""A model that verifies a draft answer: accept or reject, with its reason, as JSON."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.gateway.types import ModelRequest, ModelResult
from nodes.context import NodeCalls
from nodes.patterns.participants import Participant, call_context
from nodes.patterns.prompts import VERIFIER_PROMPT, sections


class Verification(BaseModel):
    verdict: Literal["accept", "reject"]
    reason: str = Field(min_length=1)

    @property
    def accepted(self) -> bool:
        return self.verdict == "accept"


async def verify_with_model(
    calls: NodeCalls,
    verifier: Participant,
    question: str,
    draft: str,
    *,
    purpose: str,
    max_tokens: int = 400,
) -> tuple[Verification, ModelResult]:
    """One structured call; an unparseable verdict is fed back, then the next model tries."""
    request = ModelRequest(
        messages=[
            {"role": "system", "content": VERIFIER_PROMPT},
            {"role": "user", "content": sections(("Question", question), ("Draft answer", draft))},
        ],
        response_format={"type": "json_object"},
        max_tokens=max_tokens,
    )
    return await calls.gateway.complete_structured(
        request, Verification, verifier.policy, call_context(calls, purpose)
    )
