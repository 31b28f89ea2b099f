"""Declarative graph specs over REST: validate, push as an immutable version, compile one.

A spec is stored as a new version only when its canonical JSON differs from the latest
one of that name (the same spec again is the same version). A run pins the version it was
submitted with and a worker compiles exactly that stored document, however many versions
were pushed since; compiled specs are cached per (tenant, name, version).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import graphs_repo
from app.db.models import GraphVersion
from app.routing.catalog import Catalog
from app.services.errors import GraphNameTaken, InvalidSpec
from app.settings import Settings
from graphs.registry import GraphDefinition, GraphInputInvalid
from graphs.spec import (
    CompiledSpec,
    SpecEnvironment,
    SpecInputInvalid,
    SpecInvalid,
    compile_spec,
    prefetch_subgraphs,
    validate_spec,
)
from nodes.tools import EgressPolicy, SpecTool, ToolError, default_tools
from nodes.tools.mcp import McpTool, mcp_servers_named
from nodes.tools.mcp_servers import ListedTool, McpHub


def tool_egress(settings: Settings) -> EgressPolicy:
    """Where tools may connect (the operator's settings)."""
    return EgressPolicy.from_lists(settings.tool_allowed_hosts, settings.tool_allowed_networks)


def spec_tools(settings: Settings, mcp: McpHub | None = None) -> dict[str, SpecTool]:
    """The tools specs may call, connecting only where the operator's settings allow."""
    tools = default_tools(tool_egress(settings))
    if mcp is not None:
        tools["mcp"] = McpTool(mcp)
    return tools


def spec_fingerprint(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class PushedSpec:
    row: GraphVersion
    created: bool
    compiled: CompiledSpec


class SpecCompiler:
    """Validates and compiles spec documents against the catalog, the registered tools and
    the tenant's stored graphs (for subgraph nodes)."""

    def __init__(
        self,
        catalog: Catalog,
        sessions: async_sessionmaker[AsyncSession],
        tools: Mapping[str, SpecTool],
    ) -> None:
        self._catalog = catalog
        self._tools = tools
        self._sessions = sessions

    async def compile(self, tenant_id: str, document: dict[str, Any]) -> CompiledSpec:
        """InvalidSpec (422, every error with its JSON pointer) when the spec is wrong."""

        async def fetch(name: str, version: int) -> dict[str, Any] | None:
            async with self._sessions() as session:
                row = await graphs_repo.get_version(session, name, version, tenant_id)
            if row is None or row.source != "spec":
                return None
            stored: dict[str, Any] | None = row.spec.get("document")
            return stored

        try:
            resolver = await prefetch_subgraphs(document, fetch)
            env = SpecEnvironment(
                catalog=self._catalog,
                tools=await self._tools_for(tenant_id, document),
                resolve_subgraph=resolver,
            )
            return compile_spec(validate_spec(document, env), env)
        except SpecInvalid as exc:
            raise InvalidSpec(
                f"the graph spec has {len(exc.errors)} problem(s): {exc}",
                errors=[_field_error(error) for error in exc.errors],
            ) from exc

    async def _tools_for(self, tenant_id: str, document: Any) -> Mapping[str, SpecTool]:
        """The tools, with the MCP servers the spec names listed now (validated against)."""
        mcp = self._tools.get("mcp")
        if not isinstance(mcp, McpTool):
            return self._tools
        listings: dict[str, dict[str, ListedTool] | str] = {}
        for server in mcp_servers_named(document):
            if mcp.hub.refusal(tenant_id, server) is None:
                try:
                    listings[server] = await mcp.hub.list_tools(server)
                except ToolError as exc:
                    listings[server] = str(exc)
        return {**self._tools, "mcp": mcp.with_listings(tenant_id, listings)}

    async def push(
        self, tenant_id: str, document: dict[str, Any], loaded_names: set[str]
    ) -> PushedSpec:
        compiled = await self.compile(tenant_id, document)
        if compiled.name in loaded_names:
            raise GraphNameTaken(
                f"{compiled.name!r} is the name of a graph whose code this service runs; "
                "pick another name for the spec"
            )
        definition = spec_definition(compiled, document, version_fingerprint="")
        fingerprint = spec_fingerprint(document)
        before = None
        async with self._sessions() as session:
            before = await graphs_repo.latest_version(session, compiled.name, tenant_id)
        row = await graphs_repo.register_version(
            self._sessions,
            name=compiled.name,
            spec=definition.spec(),
            source="spec",
            fingerprint=fingerprint,
            tenant_id=tenant_id,
        )
        created = before is None or before.version != row.version
        return PushedSpec(row, created, compiled)


def spec_definition(
    compiled: CompiledSpec, document: dict[str, Any], version_fingerprint: str
) -> GraphDefinition:
    """A compiled spec in the registry's one shape."""

    def validate(payload: dict[str, Any]) -> dict[str, Any]:
        try:
            return compiled.validate_input(payload)
        except SpecInputInvalid as exc:
            raise GraphInputInvalid(compiled.name, exc.errors) from exc

    return GraphDefinition(
        name=compiled.name,
        source="spec",
        description=compiled.description,
        input_schema=compiled.input_schema,
        validate_input=validate,
        build=compiled.build,
        initial_state=compiled.initial_state,
        output_of=compiled.output_of,
        nodes=compiled.node_summary(),
        revision=version_fingerprint[:16],
        origin="spec",
        recursion_limit=compiled.recursion_limit,
        budget_usd=compiled.budget_usd,
        document=document,
    )


def _field_error(error: dict[str, Any]) -> dict[str, Any]:
    pointer = str(error.get("pointer", ""))
    parts: list[str | int] = [
        int(p) if p.isascii() and p.isdigit() else p.replace("~1", "/").replace("~0", "~")
        for p in pointer.split("/")[1:]
    ]
    return {
        "loc": ["body", *parts],
        "msg": str(error.get("message", "")),
        "type": "spec_invalid",
        "pointer": pointer or "/",
    }
