"""`call_mcp_tool` from a Python LangGraph graph against the real MCP test server over
streamable HTTP: the call is recorded as a custom `mcp_call` event, a replay context
answers it from the recording (the server is not reachable then), the tenant's allow-list
and the tool's input schema are enforced, and the egress policy refuses a loopback
server unless the operator allows that network."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any, TypedDict

import pytest
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime

from nodes.context import RunContext
from nodes.mcp_calls import call_mcp_tool
from nodes.tools.base import ToolError
from nodes.tools.egress import EgressPolicy, EgressRefused
from nodes.tools.mcp_servers import McpHub, McpServerConfig
from tests.support.mcp_server import http_server

LOOPBACK = EgressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))


class Sums(TypedDict, total=False):
    x: Any
    total: Any


async def adder(state: Sums, runtime: Runtime[RunContext]) -> Sums:
    total = await call_mcp_tool(runtime, "adder", "remote", "add", {"a": state["x"], "b": 1})
    return {"total": total}


def hub(url: str, egress: EgressPolicy = LOOPBACK) -> McpHub:
    config = McpServerConfig(transport="http", url=url, tenants={"acme": ("add",)})
    return McpHub({"remote": config}, egress)


async def run(context: RunContext, x: Any) -> tuple[Any, list[dict[str, Any]]]:
    graph = StateGraph(Sums, context_schema=RunContext)
    graph.add_node("adder", adder)
    graph.add_edge(START, "adder")
    compiled = graph.compile()
    total, events = None, []
    async for mode, chunk in compiled.astream(
        {"x": x}, context=context, stream_mode=["values", "custom"]
    ):
        if mode == "custom":
            events.append(chunk)
        else:
            total = chunk.get("total")
    return total, events


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with http_server() as url:
        yield url


def context(mcp: McpHub, tenant: str = "acme", tape: dict[str, Any] | None = None) -> RunContext:
    return RunContext(gateway=None, run_id="r1", tenant_id=tenant, mcp=mcp, tool_tape=tape)  # type: ignore[arg-type]


async def test_a_python_graph_calls_a_tool_and_its_replay_answers_from_the_recording(
    mcp_url: str,
) -> None:
    total, events = await run(context(hub(mcp_url)), 41)
    assert total == 42
    [event] = events
    assert event["kind"] == "mcp_call" and event["result"] == 42
    assert event["arguments"] == {"a": 41, "b": 1} and event["node"] == "adder"

    # The replay's context holds the recording; its server is gone: nothing is asked of it.
    gone = hub("http://127.0.0.1:9/mcp")
    replayed, replay_events = await run(context(gone, tape={event["key"]: 42}), 41)
    assert replayed == 42 and replay_events == []
    with pytest.raises(ToolError, match="not in the recording"):
        await run(context(gone, tape={}), 41)


async def test_allow_lists_schemas_and_egress_are_enforced(mcp_url: str) -> None:
    with pytest.raises(ToolError, match="tenant 'globex' may not use MCP server 'remote'"):
        await run(context(hub(mcp_url), tenant="globex"), 1)
    with pytest.raises(ToolError, match="bad arguments: a: 'forty' is not of type 'number'"):
        await run(context(hub(mcp_url)), "forty")
    with pytest.raises(EgressRefused, match="loopback"):
        await hub(mcp_url, EgressPolicy()).list_tools("remote")
    assert "add" in await hub(mcp_url).list_tools("remote")
