from __future__ import annotations

import pytest
from pydantic import ValidationError

from nodes.calculator import CalculatorError
from nodes.executor import resolve_references, run_tool_call
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


def test_tool_call_errors_come_back_as_text() -> None:
    def call(name: str, arguments: str) -> dict[str, object]:
        return {"id": "c1", "function": {"name": name, "arguments": arguments}}

    assert run_tool_call(call("calculator", '{"expression": "6 * 7"}')) == "42"
    assert run_tool_call(call("calculator", '{"expression": "1/0"}')) == "error: division by zero"
    assert run_tool_call(call("calculator", "not json")).startswith("error:")
    assert run_tool_call(call("shell", "{}")) == "error: unknown tool 'shell'"
