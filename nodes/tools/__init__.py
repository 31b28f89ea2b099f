"""Tools a graph spec can call from a `tool` node."""

from __future__ import annotations

from nodes.tools.base import SpecTool, ToolError
from nodes.tools.calculator import CalculatorTool
from nodes.tools.http import HttpTool

__all__ = ["CalculatorTool", "HttpTool", "SpecTool", "ToolError", "default_tools"]


def default_tools() -> dict[str, SpecTool]:
    """The tools every spec may use, by name."""
    tools: list[SpecTool] = [CalculatorTool(), HttpTool()]
    return {tool.name: tool for tool in tools}
