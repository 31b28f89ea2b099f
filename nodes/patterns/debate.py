"""Debate: N debaters answer in parallel for K rounds, each seeing the others' last answers,
then a judge picks a winner or merges and says why."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from app.gateway.learning import CallFeedback
from app.gateway.types import ModelRequest, ModelResult
from nodes.context import NodeCalls
from nodes.patterns.judge import FinalAnswer, JudgeVerdict, judge_answers
from nodes.patterns.participants import Emit, Participant, brief, call_context, decision
from nodes.patterns.prompts import DEBATER_PROMPT, sections, with_instructions


@dataclass(frozen=True)
class DebaterAnswer:
    debater: str
    round: int
    text: str
    model: str
    tier: str
    call_id: str = ""


@dataclass(frozen=True)
class DebateOutcome:
    verdict: JudgeVerdict
    rounds: list[list[DebaterAnswer]]
    judge_model: str
    judge_tier: str

    def to_json(self) -> dict[str, Any]:
        """What a debate node writes to the state."""
        last = self.rounds[-1]
        winner = next((a for a in last if a.debater == self.verdict.winner), None)
        return {
            "answer": self.verdict.answer,
            "winner": self.verdict.winner,
            "reason": self.verdict.reason,
            "winner_model": winner.model if winner else None,
            "winner_tier": winner.tier if winner else None,
            "judge_model": self.judge_model,
            "rounds": len(self.rounds),
            "answers": {a.debater: a.text for a in last},
        }


async def run_debate(
    calls: NodeCalls,
    *,
    question: str,
    debaters: Sequence[Participant],
    judge: Participant,
    rounds: int,
    emit: Emit,
    instructions: str | None = None,
    max_tokens: int = 800,
) -> DebateOutcome:
    """Run the rounds (debaters' calls of a round overlap in time), then the judge."""
    count = len(debaters)
    conversations: dict[str, list[dict[str, Any]]] = {
        d.name: [
            {
                "role": "system",
                "content": with_instructions(
                    DEBATER_PROMPT.format(name=d.name, count=count), instructions
                ),
            },
            {"role": "user", "content": question},
        ]
        for d in debaters
    }
    history: list[list[DebaterAnswer]] = []
    for number in range(1, rounds + 1):
        if history:
            for debater in debaters:
                others = [a for a in history[-1] if a.debater != debater.name]
                conversations[debater.name].append(
                    {"role": "user", "content": _others_message(question, others)}
                )
        # Keys first, in debater order, so a resumed run finds the same calls in the ledger.
        contexts = [
            call_context(
                calls,
                f"debate round {number}/{rounds}: debater {d.name} ({d.label}), "
                f"{count} debaters in parallel",
            )
            for d in debaters
        ]
        results = await _in_parallel(
            [
                calls.gateway.complete(
                    ModelRequest(messages=conversations[d.name], max_tokens=max_tokens),
                    d.policy,
                    ctx,
                )
                for d, ctx in zip(debaters, contexts, strict=True)
            ]
        )
        answers = []
        for debater, result in zip(debaters, results, strict=True):
            text = (result.content or "").strip()
            conversations[debater.name].append({"role": "assistant", "content": text})
            answers.append(
                DebaterAnswer(debater.name, number, text, result.model, result.tier, result.call_id)
            )
        history.append(answers)
        emit(
            {
                "kind": "debate_round",
                "node": calls.node,
                "round": number,
                "answers": [
                    {
                        "debater": a.debater,
                        "model": a.model,
                        "tier": a.tier,
                        "answer": brief(a.text),
                    }
                    for a in answers
                ],
            }
        )
    labels = {d.name: d.label for d in debaters}
    finals = [FinalAnswer(a.debater, labels[a.debater], a.text) for a in history[-1]]
    verdict, judged = await judge_answers(
        calls, judge, question, finals, rounds=rounds, max_tokens=max_tokens
    )
    winner = next((a for a in history[-1] if a.debater == verdict.winner), None)
    if winner is not None:  # a merge names no better answer: nothing to learn
        await calls.gateway.record_feedback(
            [CallFeedback(a.call_id, "judge", 1.0 if a is winner else 0.0) for a in history[-1]]
        )
    decision(
        emit,
        calls.node,
        "judge_pick",
        winner=verdict.winner,
        winner_model=winner.model if winner else None,
        winner_tier=winner.tier if winner else None,
        reason=verdict.reason,
        judge_model=judged.model,
        judge_tier=judged.tier,
        debaters=len(debaters),
        rounds=rounds,
    )
    return DebateOutcome(verdict, history, judged.model, judged.tier)


async def _in_parallel(calls: list[Coroutine[Any, Any, ModelResult]]) -> list[ModelResult]:
    """Run the calls together; when one fails the others are cancelled (not paid for
    further) and its own error is raised, e.g. BudgetExceeded, not an ExceptionGroup."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(call) for call in calls]
    except BaseExceptionGroup as failed:
        error: BaseException = failed
        while isinstance(error, BaseExceptionGroup):
            error = error.exceptions[0]
        raise error from None
    return [task.result() for task in tasks]


def _others_message(question: str, others: Sequence[DebaterAnswer]) -> str:
    parts = [("Question", question)]
    parts.extend((f"Answer of {a.debater}", a.text) for a in others)
    parts.append(("Your turn", "Reconsider your answer in the light of theirs and answer again."))
    return sections(*parts)
