"""The `mcp` spec tool: call a tool of an operator-configured MCP server.

    call_weather:
      kind: tool
      tool: mcp
      config: {server: calc, tool: add}
      args: {a: "{{ x }}", b: "2"}
      output: total

At push time the server's tools are listed (`with_listings`): an unknown server or tool,
one the tenant may not use, an argument the tool's input schema does not have, a missing
required one, or a literal value of the wrong type is a 422 with its JSON pointer. At run
time the arguments are rendered, converted to the schema's types and validated; the call
and its result are a `mcp_call` event of the run (its timeline shows it), and a replay
answers the call from that recording without contacting the server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

from nodes.tools.base import SpecTool, ToolCall, ToolError
from nodes.tools.mcp_servers import ListedTool, McpHub

MCP_CALL_EVENT = "mcp_call"
_JSON_TYPES = ("number", "integer", "boolean", "object", "array", "null")


class McpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: str = Field(
        min_length=1, max_length=100, description="a server of ROUTEGRAPH_MCP_SERVERS_PATH"
    )
    tool: str = Field(min_length=1, max_length=200, description="a tool the server lists")


def _types(schema: Mapping[str, Any]) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, list):
        return {str(k) for k in kind}
    return {str(kind)} if kind else set()


def convert(name: str, value: str, schema: Mapping[str, Any]) -> Any:
    """A rendered argument as the JSON type its schema asks for (strings stay strings)."""
    types = _types(schema)
    if not types or "string" in types or not types & set(_JSON_TYPES):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ToolError(
            f"argument {name!r} should be {'/'.join(sorted(types))}: {value!r}"
        ) from exc


def _schema_error(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> str | None:
    try:
        jsonschema.validate(dict(arguments), dict(schema))
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        return f"{where + ': ' if where else ''}{exc.message}"
    except jsonschema.SchemaError as exc:
        return f"the tool's input schema is invalid: {exc.message}"
    return None


async def call_mcp(
    hub: McpHub,
    call: ToolCall,
    server: str,
    tool: str,
    arguments: Callable[[], Awaitable[dict[str, Any]]],
) -> Any:
    """One recorded MCP call of a run: refused outside the tenant's allow-list, answered
    from the recording in a replay (the server is not asked, nothing is paid), else made
    and recorded as an `mcp_call` event (in the run's timeline)."""
    if call.recorded is not None:
        if call.key not in call.recorded:
            raise ToolError(f"mcp {server}/{tool}: call {call.key} is not in the recording")
        return call.recorded[call.key]
    refusal = hub.refusal(call.tenant_id, server, tool)
    if refusal:
        raise ToolError(refusal)
    given = await arguments()
    started = time.perf_counter()
    result = await hub.call(server, tool, given)
    call.emit(
        {
            "kind": MCP_CALL_EVENT,
            "node": call.node,
            "key": call.key,
            "server": server,
            "tool": tool,
            "arguments": given,
            "result": result,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    )
    return result


class McpTool(SpecTool):
    name: ClassVar[str] = "mcp"
    description: ClassVar[str] = "Call a tool of an MCP server the operator configured."
    config_model: ClassVar[type[BaseModel]] = McpConfig
    dynamic_args: ClassVar[bool] = True

    def __init__(
        self,
        hub: McpHub,
        *,
        tenant_id: str | None = None,
        listings: Mapping[str, dict[str, ListedTool] | str] | None = None,
    ) -> None:
        self.hub = hub
        # Set for a push: the tenant and each server's tools listed now (or why not).
        self.tenant_id = tenant_id
        self.listings = listings

    def with_listings(
        self, tenant_id: str, listings: Mapping[str, dict[str, ListedTool] | str]
    ) -> McpTool:
        return McpTool(self.hub, tenant_id=tenant_id, listings=listings)

    def _listed(self, config: McpConfig) -> ListedTool | str | None:
        """The tool as listed at push time, or why it cannot be used (None: not checked)."""
        if self.listings is None or self.tenant_id is None:
            return None
        refusal = self.hub.refusal(self.tenant_id, config.server)
        if refusal:
            return refusal
        listing = self.listings.get(config.server)
        if listing is None:
            return None
        if isinstance(listing, str):
            return f"cannot list the tools of MCP server {config.server!r}: {listing}"
        tool = listing.get(config.tool)
        if tool is None:
            known = ", ".join(sorted(listing)) or "none"
            return f"MCP server {config.server!r} has no tool {config.tool!r} (it lists: {known})"
        return self.hub.refusal(self.tenant_id, config.server, config.tool) or tool

    def check_config(self, config: BaseModel) -> list[tuple[tuple[str | int, ...], str]]:
        assert isinstance(config, McpConfig)
        listed = self._listed(config)
        if isinstance(listed, str):
            return [(("tool",), listed)]
        return []

    def check_args(self, args: Mapping[str, str], config: BaseModel) -> list[tuple[str, str]]:
        assert isinstance(config, McpConfig)
        listed = self._listed(config)
        if not isinstance(listed, ListedTool):
            return []
        schema = listed.input_schema
        properties: Mapping[str, Any] = schema.get("properties") or {}
        problems: list[tuple[str, str]] = []
        for arg, source in args.items():
            if arg not in properties:
                takes = ", ".join(properties) or "no arguments"
                problems.append((arg, f"{config.tool} takes no argument {arg!r}; it takes {takes}"))
            elif "{{" not in source and "{%" not in source:
                try:
                    value = convert(arg, source, properties[arg])
                except ToolError as exc:
                    problems.append((arg, str(exc)))
                    continue
                error = _schema_error({arg: value}, {**schema, "required": []})
                if error:
                    problems.append((arg, error))
        for required in schema.get("required") or ():
            if required not in args:
                problems.append((str(required), f"missing argument {required!r} of {config.tool}"))
        return problems

    async def run(self, args: Mapping[str, str], config: BaseModel) -> Any:
        raise ToolError("the mcp tool runs only inside a run (it needs the run's tenant)")

    async def run_in(self, args: Mapping[str, str], config: BaseModel, call: ToolCall) -> Any:
        assert isinstance(config, McpConfig)
        return await call_mcp(
            self.hub, call, config.server, config.tool, lambda: self._arguments(args, config)
        )

    async def _arguments(self, args: Mapping[str, str], config: McpConfig) -> dict[str, Any]:
        """Rendered arguments converted to the tool's types and checked against its schema."""
        tool = await listed_tool(self.hub, config.server, config.tool)
        properties: Mapping[str, Any] = tool.input_schema.get("properties") or {}
        arguments = {k: convert(k, v, properties.get(k) or {}) for k, v in args.items()}
        return checked_arguments(config.server, tool, arguments)


async def listed_tool(hub: McpHub, server: str, tool: str) -> ListedTool:
    """The tool as its server lists it (a listing up to a minute old will do)."""
    found = (await hub.list_tools(server, cached=True)).get(tool)
    if found is None:
        raise ToolError(f"MCP server {server!r} does not list a tool {tool!r}")
    return found


def checked_arguments(server: str, tool: ListedTool, arguments: dict[str, Any]) -> dict[str, Any]:
    """`arguments` when they match the tool's input schema, else ToolError saying where not."""
    error = _schema_error(arguments, tool.input_schema)
    if error:
        raise ToolError(f"mcp {server}/{tool.name}: bad arguments: {error}")
    return arguments


def mcp_servers_named(document: Any) -> set[str]:
    """The servers of a spec document's `mcp` tool nodes, however malformed the rest."""
    nodes = document.get("nodes") if isinstance(document, dict) else None
    found: set[str] = set()
    for node in nodes.values() if isinstance(nodes, dict) else []:
        if isinstance(node, dict) and node.get("kind") == "tool" and node.get("tool") == "mcp":
            config = node.get("config")
            server = config.get("server") if isinstance(config, dict) else None
            if isinstance(server, str):
                found.add(server)
    return found
