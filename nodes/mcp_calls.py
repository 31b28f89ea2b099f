"""MCP tools from a Python graph: `await call_mcp_tool(runtime, "node", server, tool, args)`.

The same call as a spec's `mcp` tool node: the tenant's allow-list applies, arguments are
checked against the tool's input schema, the call and its result are an `mcp_call` event
of the run, and a replay of the run answers it from that recording.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nodes.tools.base import ToolError
from nodes.tools.mcp import call_mcp, checked_arguments, listed_tool

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

    from nodes.context import RunContext


async def call_mcp_tool(
    runtime: Runtime[RunContext], node: str, server: str, tool: str, arguments: dict[str, Any]
) -> Any:
    """Call `tool` of MCP server `server` for the running node; its result (JSON)."""
    context = runtime.context
    hub = context.mcp
    if hub is None:
        raise ToolError("this service has no MCP servers (ROUTEGRAPH_MCP_SERVERS_PATH)")

    async def given() -> dict[str, Any]:
        return checked_arguments(server, await listed_tool(hub, server, tool), arguments)

    return await call_mcp(hub, context.tool_call(node, runtime.stream_writer), server, tool, given)
