"""Executor node (edge tier): runs one plan step, calling the calculator tool for real.

A step with an expression is done only when the model's calculator call computes it: a
call with malformed or different arguments, or none at all, is an invalid output of that
attempt (fed back, then the next model), never a result. An expression the calculator
itself refuses fails the step with a tool error the run reports.
"""

from __future__ import annotations

import json
import math
from typing import Any

from langgraph.runtime import Runtime

from app.gateway.errors import AllModelsFailed, StepFailed
from app.gateway.types import ModelRequest, ModelResult
from app.gateway.validation import TOOL_INSTRUCTION, InvalidOutput
from app.routing.policy import FixedTier
from nodes.calculator import CALCULATOR_TOOL, CalculatorError, evaluate, format_number
from nodes.context import NodeCalls, RunContext
from nodes.planner import REFERENCE
from nodes.synthesizer import SYNTHESIS_MAX_TOKENS

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
    """Execute one calculator tool call; raises CalculatorError for arguments it refuses."""
    function = call.get("function", {})
    if function.get("name") != "calculator":
        raise CalculatorError(f"unknown tool {function.get('name')!r}")
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except json.JSONDecodeError as exc:
        raise CalculatorError(f"arguments are malformed JSON: {exc.msg}") from exc
    if not isinstance(arguments, dict):
        raise CalculatorError("arguments are not a JSON object")
    return format_number(evaluate(str(arguments.get("expression", ""))))


class ToolCheck:
    """The gateway's `validate` for a step with an expression: the answer must call the
    calculator and the (last) call must come out at the expression's value."""

    def __init__(self, step_id: int, expression: str, expected: float | int) -> None:
        self.step_id = step_id
        self.expression = expression
        self.expected = expected

    def __call__(self, result: ModelResult) -> list[str]:
        instruction = f"Call the calculator tool with the expression {self.expression}."
        if not result.tool_calls:
            raise InvalidOutput(
                f"step {self.step_id} has an expression but the calculator was not called",
                instruction=instruction,
            )
        outputs = []
        for call in result.tool_calls:
            try:
                outputs.append(run_tool_call(call))
            except CalculatorError as exc:
                raise InvalidOutput(
                    f"calculator error on the model's arguments: {exc}",
                    instruction=TOOL_INSTRUCTION,
                ) from exc
        if not _same_number(outputs[-1], self.expected):
            raise InvalidOutput(
                f"calculator result {outputs[-1]} is not the value of step {self.step_id}'s "
                f"expression {self.expression!r} ({format_number(self.expected)})",
                instruction=instruction,
            )
        return outputs


def _same_number(text: str, expected: float | int) -> bool:
    try:
        return math.isclose(float(text), float(expected), rel_tol=1e-9, abs_tol=1e-12)
    except ValueError:
        return False


def _step_expression(step: dict[str, Any], results: dict[str, str]) -> ToolCheck | None:
    """The check for a step with an expression; StepFailed when the tool cannot do it."""
    if not step.get("expression"):
        return None
    try:
        expression = resolve_references(step["expression"], results)
        expected = evaluate(expression)
    except CalculatorError as exc:
        raise StepFailed(
            f"step {step['id']} ({step['description']}): the calculator refuses "
            f"{step['expression']!r}: {exc}"
        ) from exc
    return ToolCheck(int(step["id"]), expression, expected)


async def _reserve_for_the_rest(calls: NodeCalls, request: ModelRequest, steps_left: int) -> float:
    """The budget the steps after this one and the synthesis are expected to need: a run
    that could not finish stops before this step instead of paying for it."""
    step = await calls.expected_cost_usd("edge", request, "execute") if steps_left else 0.0
    synthesis = await calls.expected_cost_usd(
        "mid",
        ModelRequest(messages=request.messages, max_tokens=SYNTHESIS_MAX_TOKENS),
        "synthesize",
    )
    return steps_left * step + synthesis


async def execute_step(state: dict[str, Any], runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Execute the next pending step on the edge tier and record its result."""
    calls = NodeCalls(runtime, "execute")
    results: dict[str, str] = dict(state.get("step_results") or {})
    step = state["plan"][len(results)]
    check = _step_expression(step, results)
    instruction = f"Step {step['id']}: {step['description']}"
    if check is not None:
        instruction += f"\nExpression: {check.expression}"
    messages = [
        {"role": "system", "content": EXECUTOR_PROMPT},
        *state["messages"],
        {"role": "user", "content": instruction},
    ]
    request = ModelRequest(messages=messages, tools=[CALCULATOR_TOOL], max_tokens=300)
    reserve = await _reserve_for_the_rest(calls, request, len(state["plan"]) - len(results) - 1)
    try:
        result = await calls.gateway.complete(
            request,
            calls.policy(FixedTier("edge")),
            calls.next_context(reserve_usd=reserve),
            validate=check,
        )
    except AllModelsFailed as exc:
        raise StepFailed(f"step {step['id']} ({step['description']}): {exc}") from exc
    transcript: list[dict[str, Any]] = [{"role": "user", "content": instruction}]
    transcript.append(result.assistant_message())
    if check is not None:
        outputs = check(result)
        for call, output in zip(result.tool_calls, outputs, strict=True):
            transcript.append({"role": "tool", "tool_call_id": call["id"], "content": output})
        value = outputs[-1]
    else:
        value = (result.content or "").strip()
    return {"step_results": {str(step["id"]): value}, "messages": transcript}
