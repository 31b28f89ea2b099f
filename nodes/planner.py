"""Planner node (frontier tier): turns the question into a validated, executable plan."""

from __future__ import annotations

import re
from typing import Any, Literal

from langgraph.runtime import Runtime
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.gateway.types import ModelRequest
from app.routing.policy import FixedTier
from nodes.calculator import CalculatorError, check_syntax
from nodes.context import NodeCalls, RunContext

REFERENCE = re.compile(r"#(\d+)")

PLANNER_PROMPT = """ROLE: planner
You plan how to answer the user's question in small steps that a cheaper model executes.
Reply with only a JSON object: {"steps": [{"id": 1, "description": "...",
"tool": "calculator" or null, "expression": "arithmetic or null"}]}.
Use the calculator for every computation; "#n" in an expression stands for the result of
step n. Ids start at 1 and increase by one; a step may only refer to earlier steps."""


MAX_PLAN_STEPS = 20


class PlanStep(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int = Field(ge=1)
    description: str = Field(min_length=1, max_length=500)
    tool: Literal["calculator"] | None = None
    expression: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _calculator_needs_expression(self) -> PlanStep:
        if self.tool == "calculator" and not (self.expression or "").strip():
            raise ValueError(f"step {self.id} uses the calculator without an expression")
        if self.expression and self.expression.strip():
            # "#n" stands for a number: the executor could never evaluate anything else.
            try:
                check_syntax(REFERENCE.sub("1", self.expression))
            except CalculatorError as exc:
                raise ValueError(f"step {self.id}: expression is not arithmetic: {exc}") from exc
        return self


class Plan(BaseModel):
    """The planner's answer; invalid plans are fed back to the model by the gateway."""

    model_config = ConfigDict(extra="ignore")

    steps: list[PlanStep] = Field(min_length=1, max_length=MAX_PLAN_STEPS)

    @model_validator(mode="after")
    def _ids_and_references(self) -> Plan:
        for position, step in enumerate(self.steps, start=1):
            if step.id != position:
                raise ValueError(f"step ids must be 1..n in order; found {step.id} at {position}")
            for ref in REFERENCE.findall(step.expression or ""):
                if not 1 <= int(ref) < step.id:
                    raise ValueError(f"step {step.id} refers to #{ref}, not an earlier step")
        return self


async def plan(state: dict[str, Any], runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Ask the frontier tier for a plan, validated against `Plan`."""
    calls = NodeCalls(runtime, "plan")
    request = ModelRequest(
        messages=[{"role": "system", "content": PLANNER_PROMPT}, *state["messages"]],
        response_format={"type": "json_object"},
        max_tokens=600,
    )
    parsed, result = await calls.gateway.complete_structured(
        request, Plan, calls.policy(FixedTier("frontier")), calls.next_context()
    )
    return {
        "plan": [step.model_dump() for step in parsed.steps],
        "messages": [{"role": "assistant", "content": result.content, "name": "planner"}],
    }
