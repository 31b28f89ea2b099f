"""Tools a graph spec can call from a `tool` node."""

from __future__ import annotations

from nodes.tools.base import SpecTool, ToolError
from nodes.tools.calculator import CalculatorTool
from nodes.tools.egress import EgressPolicy
from nodes.tools.http import HttpTool

__all__ = ["CalculatorTool", "EgressPolicy", "HttpTool", "SpecTool", "ToolError", "default_tools"]


def default_tools(egress: EgressPolicy | None = None) -> dict[str, SpecTool]:
    """The tools every spec may use, by name; tools that connect obey `egress` (by
    default: public addresses only)."""
    tools: list[SpecTool] = [CalculatorTool(), HttpTool(egress or EgressPolicy())]
    return {tool.name: tool for tool in tools}
