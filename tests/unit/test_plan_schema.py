from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.gateway.types import ModelResult, Usage
from app.gateway.validation import InvalidOutput
from nodes.calculator import CalculatorError
from nodes.executor import ToolCheck, resolve_references, run_tool_call
from nodes.planner import Plan


def test_valid_plan_with_references() -> None:
    plan = Plan.model_validate_json(
        '{"steps": [{"id": 1, "description": "a", "tool": "calculator", "expression": "2 * 3"},'
        '{"id": 2, "description": "b", "tool": "calculator", "expression": "#1 + 4"}]}'
    )
    assert [s.id for s in plan.steps] == [1, 2]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "at least 1"),
        ([{"id": 2, "description": "x"}], "1..n"),
        (
            [{"id": 1, "description": "x", "tool": "calculator", "expression": "#1 + 1"}],
            "not an earlier step",
        ),
        ([{"id": 1, "description": "x", "tool": "calculator"}], "without an expression"),
        ([{"id": 1, "description": "x", "tool": "shell", "expression": "rm"}], "calculator"),
    ],
)
def test_invalid_plans_are_rejected(steps: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Plan.model_validate({"steps": steps})


def test_references_resolve_to_parenthesised_results() -> None:
    assert resolve_references("#1 + #2 * 2", {"1": "10", "2": "-3"}) == "(10) + (-3) * 2"
    with pytest.raises(CalculatorError, match="#3"):
        resolve_references("#3", {"1": "1"})


def _call(name: str, arguments: str) -> dict[str, object]:
    return {"id": "c1", "function": {"name": name, "arguments": arguments}}


def _answer(*calls: dict[str, object], content: str | None = None) -> ModelResult:
    return ModelResult(
        content=content,
        tool_calls=list(calls),  # type: ignore[arg-type]
        model="edge-a",
        tier="edge",
        usage=Usage(),
        cost_usd=0.0,
        latency_ms=0.0,
        call_id="c",
    )


def test_tool_calls_the_calculator_refuses_raise() -> None:
    assert run_tool_call(_call("calculator", '{"expression": "6 * 7"}')) == "42"
    with pytest.raises(CalculatorError, match="division by zero"):
        run_tool_call(_call("calculator", '{"expression": "1/0"}'))
    with pytest.raises(CalculatorError, match="malformed JSON"):
        run_tool_call(_call("calculator", '{"expression": "6 *'))
    with pytest.raises(CalculatorError, match="unknown tool 'shell'"):
        run_tool_call(_call("shell", "{}"))


def test_a_step_is_done_only_when_the_tool_call_computes_its_expression() -> None:
    check = ToolCheck(2, "(4 * 340) + 1", 1361)
    assert check(_answer(_call("calculator", '{"expression": "4*340 + 1"}'))) == ["1361"]
    with pytest.raises(InvalidOutput, match="calculator was not called"):
        check(_answer(content="1361"))
    with pytest.raises(InvalidOutput, match="malformed JSON"):
        check(_answer(_call("calculator", '{"expression": "(4 * 340')))
    with pytest.raises(InvalidOutput, match=r"result 1360 is not the value of step 2"):
        check(_answer(_call("calculator", '{"expression": "4 * 340"}')))


def test_a_plan_expression_must_be_arithmetic() -> None:
    step = {"id": 1, "description": "x", "tool": "calculator", "expression": "import os"}
    with pytest.raises(ValidationError, match="not arithmetic"):
        Plan.model_validate({"steps": [step]})
    Plan.model_validate({"steps": [{**step, "expression": "2 ** 3 / 4"}]})
