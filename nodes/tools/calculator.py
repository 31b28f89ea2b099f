"""The calculator as a spec tool: plain arithmetic from `nodes.calculator`, never `eval`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from nodes.calculator import CalculatorError, evaluate
from nodes.tools.base import SpecTool, ToolError


class CalculatorTool(SpecTool):
    name: ClassVar[str] = "calculator"
    description: ClassVar[str] = "Evaluate arithmetic with + - * / // % ** and parentheses."
    result_type: ClassVar[str] = "number"
    required_args: ClassVar[tuple[str, ...]] = ("expression",)

    async def run(self, args: Mapping[str, str], config: BaseModel) -> Any:
        try:
            value = evaluate(args["expression"])
        except CalculatorError as exc:
            raise ToolError(f"calculator: {exc}") from exc
        return int(value) if isinstance(value, float) and value.is_integer() else value
