"""The judge of a debate: reads every debater's final answer, names a winner (or merges)
and says why, as JSON the gateway validates (an unknown debater name is fed back)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field, ValidationError

from app.gateway.gateway import InvalidOutput
from app.gateway.retry_prompts import short_validation_error
from app.gateway.types import ModelRequest, ModelResult
from nodes.context import NodeCalls
from nodes.patterns.participants import Participant, call_context
from nodes.patterns.prompts import judge_prompt, sections

MERGE = "merge"


class JudgeVerdict(BaseModel):
    winner: str = Field(min_length=1, description='a debater\'s name, or "merge"')
    answer: str = ""
    reason: str = Field(min_length=1)


@dataclass(frozen=True)
class FinalAnswer:
    debater: str
    label: str
    text: str


async def judge_answers(
    calls: NodeCalls,
    judge: Participant,
    question: str,
    finals: Sequence[FinalAnswer],
    *,
    rounds: int,
    max_tokens: int,
) -> tuple[JudgeVerdict, ModelResult]:
    """Ask the judge; the verdict's winner is always one of the debaters or "merge"."""
    names = [final.debater for final in finals]

    def parse(result: ModelResult) -> JudgeVerdict:
        try:
            verdict = JudgeVerdict.model_validate_json(result.content or "")
        except ValidationError as exc:
            raise InvalidOutput(short_validation_error(exc)) from exc
        if verdict.winner not in (*names, MERGE):
            raise InvalidOutput(f"winner must be one of {', '.join(names)} or {MERGE}")
        return verdict

    body = sections(
        ("Question", question),
        *((f"Answer of {final.debater} ({final.label})", final.text) for final in finals),
    )
    request = ModelRequest(
        messages=[
            {"role": "system", "content": judge_prompt(names)},
            {"role": "user", "content": body},
        ],
        response_format={"type": "json_object"},
        max_tokens=max_tokens,
    )
    who = ", ".join(f"{final.debater} on {final.label}" for final in finals)
    purpose = f"judge of {len(finals)} debaters ({who}) after {rounds} round(s)"
    result = await calls.gateway.complete(
        request, judge.policy, call_context(calls, purpose), validate=parse
    )
    verdict = parse(result)
    if verdict.winner != MERGE and not verdict.answer:
        picked = next(final for final in finals if final.debater == verdict.winner)
        verdict = verdict.model_copy(update={"answer": picked.text})
    return verdict, result
