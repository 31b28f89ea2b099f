"""The graphs this process can run, by name and version, compiled once with its checkpointer.

Graphs whose code is loaded (built-ins and `langgraph.json` graphs) belong to no tenant and
run only at the version this process registered for that code: a run pinned to another
version fails with a clear error instead of silently running different code. Spec graphs
belong to the tenant that pushed them and run at exactly the stored version a run pinned,
compiled from the database on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import graphs_repo
from app.db.models import GraphVersion
from app.db.store import TenantStore
from app.routing.catalog import Catalog
from app.services.errors import GraphVersionNotFound, UnknownGraph, UnknownGraphVersion
from app.services.graph_specs import SpecCompiler, spec_definition
from graphs.registry import Compiled, GraphDefinition
from nodes.tools import SpecTool

LOADED = ""  # the tenant of graphs whose code the service loads


@dataclass(frozen=True)
class ResolvedGraph:
    definition: GraphDefinition
    version: int
    tenant_id: str = LOADED

    @property
    def name(self) -> str:
        return self.definition.name


def parse_graph_ref(ref: str) -> tuple[str, int | None]:
    """`name` or `name@version`."""
    name, at, version = ref.partition("@")
    if not at:
        return name, None
    if not version.isascii() or not version.isdigit() or len(version) > 9:
        raise UnknownGraphVersion(f"graph reference {ref!r}: the version must be a number")
    return name, int(version)


class GraphRegistry:
    def __init__(
        self,
        loaded: dict[str, GraphDefinition],
        sessions: async_sessionmaker[AsyncSession],
        checkpointer: BaseCheckpointSaver[Any],
        catalog: Catalog,
        tools: Mapping[str, SpecTool],
        store: BaseStore | None = None,
    ) -> None:
        self._loaded = loaded
        self._store = store
        self._sessions = sessions
        self._checkpointer = checkpointer
        self._versions: dict[str, int] = {}
        self._specs: dict[tuple[str, str, int], GraphDefinition] = {}
        self._compiled: dict[tuple[str, str, int, str | None], Compiled] = {}
        self.specs = SpecCompiler(catalog, sessions, tools)

    async def register_loaded(self) -> None:
        """Store each loaded graph's current version (changed code gets a new one)."""
        for definition in self._loaded.values():
            row = await graphs_repo.register_version(
                self._sessions,
                name=definition.name,
                spec=definition.spec(),
                source=definition.source,
                fingerprint=definition.fingerprint(),
                tenant_id=LOADED,
            )
            self._versions[definition.name] = row.version

    async def versions(self, name: str, owner: str) -> list[GraphVersion]:
        """Every stored version of a graph (`owner`: '' for loaded graphs, else a tenant)."""
        async with self._sessions() as session:
            return await graphs_repo.list_versions(session, name, owner)

    async def stored_version(self, name: str, version: int, owner: str) -> GraphVersion | None:
        async with self._sessions() as session:
            return await graphs_repo.get_version(session, name, version, owner)

    def loaded_names(self) -> set[str]:
        return set(self._loaded)

    def loaded(self) -> list[ResolvedGraph]:
        return [
            ResolvedGraph(definition, self._versions[name])
            for name, definition in sorted(self._loaded.items())
            if name in self._versions
        ]

    async def spec_graphs(self, tenant_id: str) -> list[ResolvedGraph]:
        """The latest version of each of the tenant's spec graphs."""
        async with self._sessions() as session:
            rows = await graphs_repo.list_latest_versions(session, tenant_id)
        return [await self._from_row(tenant_id, row) for row in rows if row.source == "spec"]

    async def resolve(
        self, name: str, version: int | None = None, *, tenant_id: str = "default"
    ) -> ResolvedGraph:
        """The graph to run for `name[@version]`, or UnknownGraph / UnknownGraphVersion."""
        definition = self._loaded.get(name)
        if definition is not None:
            current = self._versions[name]
            if version is not None and version != current:
                raise UnknownGraphVersion(
                    f"graph {name!r} version {version} is not the code this service runs "
                    f"(it runs version {current}); redeploy that revision to run it",
                    loaded_version=current,
                )
            return ResolvedGraph(definition, current)
        async with self._sessions() as session:
            row = await graphs_repo.get_version(session, name, version, tenant_id)
        if row is None or row.source != "spec":
            if version is not None and (await self.has_spec(name, tenant_id)):
                raise GraphVersionNotFound(f"graph {name!r} has no version {version}")
            raise UnknownGraph(f"no graph named {name!r}", available=sorted(self._loaded))
        return await self._from_row(tenant_id, row)

    async def has_spec(self, name: str, tenant_id: str) -> bool:
        async with self._sessions() as session:
            return await graphs_repo.latest_version(session, name, tenant_id) is not None

    async def _from_row(self, tenant_id: str, row: GraphVersion) -> ResolvedGraph:
        key = (tenant_id, row.name, row.version)
        definition = self._specs.get(key)
        if definition is None:
            document = row.spec["document"]
            compiled = await self.specs.compile(tenant_id, document)
            definition = spec_definition(compiled, document, row.fingerprint)
            self._specs[key] = definition
        return ResolvedGraph(definition, row.version, tenant_id)

    def compiled(self, graph: ResolvedGraph, run_tenant: str | None = None) -> Compiled:
        """Compiled once per process and version, with the process's checkpointer; with
        `run_tenant`, once per tenant too, with that tenant's view of the store as the
        graph's `store` (LangGraph's server replaces a graph's own store the same way)."""
        key = (graph.tenant_id, graph.name, graph.version, run_tenant)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = graph.definition.build(self._checkpointer)
            if run_tenant is not None and self._store is not None:
                compiled.store = TenantStore(self._store, run_tenant)
            self._compiled[key] = compiled
        return compiled
