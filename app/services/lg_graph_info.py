"""What LangGraph's server shows of a graph: its drawing and its JSON Schemas."""

from __future__ import annotations

import warnings
from typing import Any

from app.services.container import Services
from app.services.graph_registry import ResolvedGraph
from app.services.lg_json import jsonable


def graph_drawing(services: Services, graph: ResolvedGraph, xray: int | bool) -> dict[str, Any]:
    """`get_graph(xray=...).to_json()`: nodes and edges, as LangGraph Studio draws them."""
    compiled = services.registry.compiled(graph)
    drawing: dict[str, Any] = compiled.get_graph(xray=xray).to_json()
    return jsonable(drawing)  # type: ignore[no-any-return]


def graph_schemas(services: Services, graph: ResolvedGraph) -> dict[str, Any]:
    """Input, output, state, config and context schemas (the registry's input schema is the
    one runs are validated against)."""
    compiled = services.registry.compiled(graph)
    return {
        "graph_id": graph.name,
        "input_schema": graph.definition.input_schema,
        "output_schema": compiled.get_output_jsonschema(),
        "state_schema": compiled.get_output_jsonschema(),
        "config_schema": _config_schema(compiled),
        "context_schema": _context_schema(compiled),
    }


def _config_schema(compiled: Any) -> dict[str, Any]:
    # Deprecated in LangGraph 1.0 in favour of the context schema; LangGraph's server
    # still answers both, and so do we.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        schema: dict[str, Any] = compiled.get_config_jsonschema()
    return schema


def _context_schema(compiled: Any) -> dict[str, Any] | None:
    getter = getattr(compiled, "get_context_jsonschema", None)
    if getter is None:
        return None
    schema = getter()
    return schema if isinstance(schema, dict) else None
