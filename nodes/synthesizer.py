"""Synthesizer node (mid tier): writes the final answer from the step results."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from app.gateway.types import ModelRequest
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


async def synthesize(state: dict[str, Any], runtime: Runtime[RunContext]) -> dict[str, Any]:
    calls = NodeCalls(runtime, "synthesize")
    summary = step_summary(state["question"], state["plan"], state.get("step_results") or {})
    messages = [
        {"role": "system", "content": SYNTHESIZER_PROMPT},
        *state["messages"],
        {"role": "user", "content": summary},
    ]
    result = await calls.gateway.complete(
        ModelRequest(messages=messages, max_tokens=1200),
        calls.policy(FixedTier("mid")),
        calls.next_context(),
    )
    answer = (result.content or "").strip()
    return {"answer": answer, "messages": [{"role": "assistant", "content": answer}]}
