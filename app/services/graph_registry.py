"""The graphs this process can run, by name and version, compiled once with its checkpointer.

Graphs whose code is loaded (built-ins and `langgraph.json` graphs) run only at the version
this process registered for that code: a run pinned to another version fails with a clear
error instead of silently running different code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import graphs_repo
from app.services.errors import UnknownGraph, UnknownGraphVersion
from graphs.registry import Compiled, GraphDefinition


@dataclass(frozen=True)
class ResolvedGraph:
    definition: GraphDefinition
    version: int

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
    ) -> None:
        self._loaded = loaded
        self._sessions = sessions
        self._checkpointer = checkpointer
        self._versions: dict[str, int] = {}
        self._compiled: dict[tuple[str, int], Compiled] = {}

    async def register_loaded(self) -> None:
        """Store each loaded graph's current version (changed code gets a new one)."""
        for definition in self._loaded.values():
            row = await graphs_repo.register_version(
                self._sessions,
                name=definition.name,
                spec=definition.spec(),
                source=definition.source,
                fingerprint=definition.fingerprint(),
            )
            self._versions[definition.name] = row.version

    def loaded(self) -> list[ResolvedGraph]:
        return [
            ResolvedGraph(definition, self._versions[name])
            for name, definition in sorted(self._loaded.items())
            if name in self._versions
        ]

    async def resolve(self, name: str, version: int | None = None) -> ResolvedGraph:
        """The graph to run for `name[@version]`, or UnknownGraph / UnknownGraphVersion."""
        definition = self._loaded.get(name)
        if definition is None:
            raise UnknownGraph(f"no graph named {name!r}", available=sorted(self._loaded))
        current = self._versions[name]
        if version is not None and version != current:
            raise UnknownGraphVersion(
                f"graph {name!r} version {version} is not the code this service runs "
                f"(it runs version {current}); redeploy that revision to run it",
                loaded_version=current,
            )
        return ResolvedGraph(definition, current)

    def compiled(self, graph: ResolvedGraph) -> Compiled:
        """Compiled once per process and version, with the process's checkpointer."""
        key = (graph.name, graph.version)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = graph.definition.build(self._checkpointer)
            self._compiled[key] = compiled
        return compiled
