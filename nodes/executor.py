"""Executor node (edge tier): runs one plan step, calling the calculator tool for real."""

from __future__ import annotations

import json
from typing import Any

from langgraph.runtime import Runtime

from app.gateway.types import ModelRequest
from app.routing.policy import FixedTier
from nodes.calculator import CALCULATOR_TOOL, CalculatorError, evaluate, format_number
from nodes.context import NodeCalls, RunContext
from nodes.planner import REFERENCE

EXECUTOR_PROMPT = """ROLE: executor
You carry out one step of a plan. When the step has an expression, call the calculator
tool with exactly that expression; otherwise answer the step in one short sentence."""


def resolve_references(expression: str, results: dict[str, str]) -> str:
    """Replace `#n` by step n's result (parenthesised, so precedence is kept)."""

    def substitute(match: Any) -> str:
        value = results.get(match.group(1))
        if value is None:
            raise CalculatorError(f"step result #{match.group(1)} is not available")
        return f"({value})"

    return REFERENCE.sub(substitute, expression)


def run_tool_call(call: dict[str, Any]) -> str:
    """Execute one calculator tool call; errors come back as text the model can read."""
    function = call.get("function", {})
    if function.get("name") != "calculator":
        return f"error: unknown tool {function.get('name')!r}"
    try:
        arguments = json.loads(function.get("arguments") or "{}")
        return format_number(evaluate(str(arguments.get("expression", ""))))
    except (json.JSONDecodeError, CalculatorError) as exc:
        return f"error: {exc}"


async def execute_step(state: dict[str, Any], runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Execute the next pending step on the edge tier and record its result."""
    calls = NodeCalls(runtime, "execute")
    results: dict[str, str] = dict(state.get("step_results") or {})
    step = state["plan"][len(results)]
    instruction = f"Step {step['id']}: {step['description']}"
    if step.get("expression"):
        instruction += f"\nExpression: {resolve_references(step['expression'], results)}"
    messages = [
        {"role": "system", "content": EXECUTOR_PROMPT},
        *state["messages"],
        {"role": "user", "content": instruction},
    ]
    result = await calls.gateway.complete(
        ModelRequest(messages=messages, tools=[CALCULATOR_TOOL], max_tokens=300),
        calls.policy(FixedTier("edge")),
        calls.next_context(),
    )
    transcript: list[dict[str, Any]] = [{"role": "user", "content": instruction}]
    transcript.append(result.assistant_message())
    if result.tool_calls:
        outputs = [run_tool_call(call) for call in result.tool_calls]
        for call, output in zip(result.tool_calls, outputs, strict=True):
            transcript.append({"role": "tool", "tool_call_id": call["id"], "content": output})
        value = outputs[-1]
    else:
        value = (result.content or "").strip()
    return {"step_results": {str(step["id"]): value}, "messages": transcript}
