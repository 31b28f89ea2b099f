"""The MCP servers the operator offers, who may use which of their tools, and the client.

`ROUTEGRAPH_MCP_SERVERS_PATH` names a YAML/JSON file:

    servers:
      calc:
        transport: stdio                 # the SDK launches the command, talks over stdin/out
        command: python
        args: [-m, my_tools.server]
        tenants: {acme: [add, shout], globex: "*"}
      search:
        transport: http                  # streamable HTTP
        url: https://tools.example.com/mcp
        tenants: {acme: "*"}

A tenant not listed under a server may not use it; `"*"` allows every tool the server
lists. HTTP servers obey the tools' egress policy (`nodes/tools/egress.py`): the host is
resolved and refused when it is loopback, private, metadata... unless the operator allows
that network, and the connection goes to the address that was checked (the Host header
and TLS name stay the URL's), never to the name resolved again. Each listing or call
opens its own connection with the official `mcp` SDK.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nodes.tools.base import ToolError
from nodes.tools.egress import EgressPolicy

ALL_TOOLS = "*"
LISTING_TTL_S = 60.0


class McpServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    transport: Literal["stdio", "http"]
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    tenants: dict[str, tuple[str, ...] | Literal["*"]] = Field(default_factory=dict)
    timeout_s: float = Field(30.0, gt=0, le=300)

    @model_validator(mode="after")
    def _endpoint(self) -> McpServerConfig:
        if self.transport == "stdio" and not self.command:
            raise ValueError("a stdio server needs `command`")
        if self.transport == "http":
            url = httpx.URL(self.url or "")
            if url.scheme not in ("http", "https") or not url.host:
                raise ValueError("an http server needs `url` (http:// or https://)")
        return self


class McpServersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    servers: dict[str, McpServerConfig] = Field(default_factory=dict)


def load_mcp_servers(path: str | Path | None) -> dict[str, McpServerConfig]:
    """The servers of the operator's file (none when no file is set)."""
    if path is None:
        return {}
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return McpServersFile.model_validate(data).servers


@dataclass(frozen=True)
class ListedTool:
    name: str
    description: str
    input_schema: Mapping[str, Any]


class McpHub:
    """Lists and calls tools of the configured servers, enforcing the tenants' allow-lists."""

    def __init__(
        self, servers: Mapping[str, McpServerConfig], egress: EgressPolicy | None = None
    ) -> None:
        self.servers = dict(servers)
        self.egress = egress or EgressPolicy()
        self._listed: dict[str, tuple[float, dict[str, ListedTool]]] = {}

    def refusal(self, tenant_id: str, server: str, tool: str | None = None) -> str | None:
        """Why `tenant_id` may not use `server` (or its `tool`), or None."""
        config = self.servers.get(server)
        if config is None:
            known = ", ".join(sorted(self.servers)) or "none configured"
            return f"unknown MCP server {server!r} (known: {known})"
        allowed = config.tenants.get(tenant_id)
        if allowed is None:
            return f"tenant {tenant_id!r} may not use MCP server {server!r}"
        if tool is not None and allowed != ALL_TOOLS and tool not in allowed:
            return f"tenant {tenant_id!r} may not call tool {tool!r} of MCP server {server!r}"
        return None

    async def list_tools(self, server: str, *, cached: bool = False) -> dict[str, ListedTool]:
        """Every tool the server lists, by name: now, or (`cached`) as listed within the
        last LISTING_TTL_S seconds (a run's calls need the schemas, not a fresh listing)."""
        if cached and server in self._listed:
            at, listing = self._listed[server]
            if time.monotonic() - at < LISTING_TTL_S:
                return listing
        listed: dict[str, ListedTool] = {}
        async with _failures_as_tool_errors(server), self._client(server) as client:
            cursor: str | None = None
            for _ in range(20):
                page = await client.list_tools(cursor=cursor)
                for tool in page.tools:
                    listed[tool.name] = ListedTool(
                        tool.name, tool.description or "", dict(tool.input_schema)
                    )
                cursor = page.next_cursor
                if cursor is None:
                    break
        self._listed[server] = (time.monotonic(), listed)
        return listed

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> Any:
        """The tool's result: its structured content, else its text; ToolError when the
        server reports an error or cannot be reached."""
        config = self.servers[server]
        async with _failures_as_tool_errors(f"{server}/{tool}"), self._client(server) as client:
            result = await client.call_tool(tool, arguments, read_timeout_seconds=config.timeout_s)
        texts = [block.text for block in result.content if getattr(block, "type", "") == "text"]
        if result.is_error:
            raise ToolError(f"mcp {server}/{tool}: {' '.join(texts)[:1000]}")
        structured = result.structured_content
        if isinstance(structured, dict) and set(structured) == {"result"}:
            return structured["result"]  # the SDK wraps a plain return value so
        if structured is not None:
            return structured
        return "\n".join(texts)

    def _client(self, server: str) -> _Connection:
        return _Connection(self, server)


@asynccontextmanager
async def _failures_as_tool_errors(what: str) -> AsyncIterator[None]:
    """What the SDK raises when a server cannot be reached or drops the connection (often
    inside anyio's exception groups), as one ToolError naming the first cause."""
    from httpx2 import HTTPError
    from mcp.shared.exceptions import MCPError

    try:
        yield
    except ToolError:
        raise
    except (ExceptionGroup, MCPError, HTTPError, OSError, TimeoutError) as exc:
        cause: BaseException = exc
        while isinstance(cause, BaseExceptionGroup) and cause.exceptions:
            cause = cause.exceptions[0]
        raise ToolError(f"mcp {what}: {type(cause).__name__}: {cause}") from exc


class _Connection:
    """`async with` a connected `mcp.Client`, its failures as ToolError."""

    def __init__(self, hub: McpHub, server: str) -> None:
        self._hub = hub
        self._server = server
        self._client: Any = None
        self._http: Any = None

    async def __aenter__(self) -> Any:
        from mcp import Client  # the SDK takes a while to import: only when a tool is used
        from mcp.client.stdio import StdioServerParameters
        from mcp.client.streamable_http import streamable_http_client

        config = self._hub.servers[self._server]
        target: Any
        if config.transport == "stdio":
            assert config.command is not None
            target = StdioServerParameters(
                command=config.command, args=list(config.args), env=config.env, cwd=config.cwd
            )
        else:
            url = httpx.URL(config.url or "")
            port = url.port or (443 if url.scheme == "https" else 80)
            address = await self._hub.egress.resolve(url.host, port)  # EgressRefused says why
            self._http = _pinned_client(url.host, str(address), url.scheme, config.timeout_s)
            target = streamable_http_client(str(url), http_client=self._http)
        self._client = Client(target, read_timeout_seconds=config.timeout_s)
        try:
            async with asyncio.timeout(config.timeout_s):
                return await self._client.__aenter__()
        except (OSError, TimeoutError) as exc:
            raise ToolError(f"mcp {self._server}: cannot connect: {exc}") from exc

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._client.__aexit__(*exc)
        finally:
            if self._http is not None:
                await self._http.aclose()


def _pinned_client(host: str, address: str, scheme: str, timeout_s: float) -> Any:
    """An httpx2 client (the SDK's) whose requests to `host` go to the checked `address`."""
    import httpx2

    class PinnedTransport(httpx2.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            if request.url.host == host:  # the Host header was set from the URL already
                request.url = request.url.copy_with(host=address)
                if scheme == "https":
                    request.extensions["sni_hostname"] = host
            return await super().handle_async_request(request)

    return httpx2.AsyncClient(
        transport=PinnedTransport(),
        timeout=httpx2.Timeout(timeout_s, read=max(timeout_s, 300.0)),
        trust_env=False,  # no proxy or .netrc from the worker's environment
    )
