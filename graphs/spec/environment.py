"""What validating and compiling a spec depend on: catalog, tools, other stored graphs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.routing.catalog import Catalog
from graphs.spec.model import MAX_GRAPH_VERSION
from nodes.tools import SpecTool, default_tools

SubgraphResolver = Callable[[str, int], "dict[str, Any] | None"]
MAX_SUBGRAPH_DEPTH = 3


def _no_subgraphs(name: str, version: int) -> dict[str, Any] | None:
    return None


@dataclass(frozen=True)
class SpecEnvironment:
    """`resolve_subgraph(name, version)` returns the stored spec document of that graph
    version, or None when there is none (the service backs it with `graph_versions`)."""

    catalog: Catalog
    tools: Mapping[str, SpecTool] = field(default_factory=default_tools)
    resolve_subgraph: SubgraphResolver = _no_subgraphs


def subgraph_references(document: Any) -> set[tuple[str, int]]:
    """(graph, version) of every subgraph node in a spec document, however malformed."""
    found: set[tuple[str, int]] = set()
    nodes = document.get("nodes") if isinstance(document, dict) else None
    for node in nodes.values() if isinstance(nodes, dict) else []:
        if not isinstance(node, dict) or node.get("kind") != "subgraph":
            continue
        name, version = node.get("graph"), node.get("version")
        # Out-of-range versions are left to validation (a 422), never looked up.
        if (
            isinstance(name, str)
            and isinstance(version, int)
            and not isinstance(version, bool)
            and 1 <= version <= MAX_GRAPH_VERSION
        ):
            found.add((name, version))
    return found


async def prefetch_subgraphs(
    document: Any,
    fetch: Callable[[str, int], Awaitable[dict[str, Any] | None]],
    *,
    max_graphs: int = 20,
) -> SubgraphResolver:
    """Load every graph version a spec refers to (transitively, bounded) with an async
    `fetch`, and return a synchronous resolver over them for SpecEnvironment."""
    loaded: dict[tuple[str, int], dict[str, Any] | None] = {}
    frontier = subgraph_references(document)
    for _ in range(MAX_SUBGRAPH_DEPTH + 1):
        pending = [ref for ref in frontier if ref not in loaded][: max_graphs - len(loaded)]
        if not pending:
            break
        next_frontier: set[tuple[str, int]] = set()
        for name, version in pending:
            loaded[(name, version)] = stored = await fetch(name, version)
            next_frontier |= subgraph_references(stored)
        frontier = next_frontier

    def resolve(name: str, version: int) -> dict[str, Any] | None:
        return loaded.get((name, version))

    return resolve
