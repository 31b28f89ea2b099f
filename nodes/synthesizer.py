"""Synthesizer node (mid tier): writes the final answer from the step results.

The answer must have a "Final answer:" line, and when the last step computed a
number, that line must state it: a cut, malformed or unfaithful answer is an invalid
output of that attempt (fed back, then the next model), never the run's result.
"""

from __future__ import annotations

import math
import re
from typing import Any

from langgraph.runtime import Runtime

from app.gateway.errors import AllModelsFailed, StepFailed
from app.gateway.types import ModelRequest, ModelResult
from app.gateway.validation import InvalidOutput
from app.routing.policy import FixedTier
from nodes.context import NodeCalls, RunContext

SYNTHESIZER_PROMPT = """ROLE: synthesizer
Write the final answer to the user's question from the step results below. Be brief,
show each step's result, and end with a line "Final answer: <value>"."""


def step_summary(question: str, plan: list[dict[str, Any]], results: dict[str, str]) -> str:
    lines = [f"Question: {question}"]
    for step in plan:
        lines.append(f"Step {step['id']} ({step['description']}): {results.get(str(step['id']))}")
    return "\n".join(lines)


SYNTHESIS_MAX_TOKENS = 1200
FINAL_LINE = re.compile(r"^\W*final answer\W*:\s*(?P<value>.+?)\s*$", re.IGNORECASE | re.MULTILINE)
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
FINAL_INSTRUCTION = 'Write the whole answer again, ending with the line "Final answer: <value>".'


class FinalAnswerCheck:
    """The gateway's `validate` for the synthesis: a "Final answer:" line that states the
    last step's number (when it has one)."""

    def __init__(self, expected: str | None) -> None:
        self.expected = _number(expected) if expected else None

    def __call__(self, result: ModelResult) -> None:
        lines = FINAL_LINE.findall(result.content or "")
        if not lines:
            raise InvalidOutput('answer has no "Final answer:" line', instruction=FINAL_INSTRUCTION)
        if self.expected is None:
            return
        stated = [_number(match.group()) for match in NUMBER.finditer(lines[-1])]
        if not any(v is not None and math.isclose(v, self.expected) for v in stated):
            raise InvalidOutput(
                f"final answer {lines[-1][:80]!r} does not state the last step's result "
                f"{self.expected:g}",
                instruction=FINAL_INSTRUCTION,
            )


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


async def synthesize(state: dict[str, Any], runtime: Runtime[RunContext]) -> dict[str, Any]:
    calls = NodeCalls(runtime, "synthesize")
    summary = step_summary(state["question"], state["plan"], state.get("step_results") or {})
    messages = [
        {"role": "system", "content": SYNTHESIZER_PROMPT},
        *state["messages"],
        {"role": "user", "content": summary},
    ]
    plan = state["plan"]
    last = (state.get("step_results") or {}).get(str(plan[-1]["id"])) if plan else None
    try:
        result = await calls.gateway.complete(
            ModelRequest(messages=messages, max_tokens=SYNTHESIS_MAX_TOKENS),
            calls.policy(FixedTier("mid")),
            calls.next_context(),
            validate=FinalAnswerCheck(last if plan and plan[-1].get("expression") else None),
        )
    except AllModelsFailed as exc:
        raise StepFailed(f"synthesis: {exc}") from exc
    answer = (result.content or "").strip()
    return {"answer": answer, "messages": [{"role": "assistant", "content": answer}]}
