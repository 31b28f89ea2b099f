"""Loads the user's own LangGraph graphs from a `langgraph.json`, the file LangGraph's server
reads: `{"graphs": {"name": "./path/file.py:attr"}, "dependencies": ["."], "env": ".env"}`.

`attr` may be a compiled graph, a `StateGraph` builder, or a factory function (called once
per process, with no arguments or with a config) returning either. routegraph compiles
each with its own checkpointer; the input schema is the graph's own. Any failure to
import or build a graph stops start-up with `GraphLoadError` naming the file and cause.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs.config_env import ConfigEnvError, load_config_env
from graphs.input_schema import input_contract
from graphs.json_values import state_output
from graphs.registry import Compiled, GraphDefinition

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


class GraphLoadError(RuntimeError):
    """A graph named in langgraph.json could not be imported or built."""


def load_config_graphs(config_path: str | Path) -> dict[str, GraphDefinition]:
    """Every graph of a langgraph.json, or GraphLoadError saying which one failed and why."""
    path = Path(config_path).resolve()
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GraphLoadError(f"{path}: cannot read the config: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise GraphLoadError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(config, dict) or not isinstance(config.get("graphs"), dict):
        raise GraphLoadError(f'{path}: needs a "graphs" object mapping names to "file.py:attr"')
    base = path.parent
    try:
        load_config_env(path, config.get("env"))
    except ConfigEnvError as exc:
        raise GraphLoadError(str(exc)) from exc
    _add_dependencies(path, base, config.get("dependencies", []))
    definitions = {}
    for name, target in config["graphs"].items():
        if not isinstance(name, str) or not name or not set(name) <= NAME_CHARS:
            raise GraphLoadError(f"{path}: graph name {name!r} must be letters, digits, _ - .")
        if not isinstance(target, str) or ":" not in target:
            raise GraphLoadError(f'{path}: graph {name!r}: expected "file.py:attr", got {target!r}')
        definitions[name] = _load_graph(path, base, name, target)
    return definitions


def _add_dependencies(path: Path, base: Path, dependencies: object) -> None:
    """Local directories are put on sys.path; package names must already be installed."""
    if not isinstance(dependencies, list):
        raise GraphLoadError(f'{path}: "dependencies" must be a list')
    for dependency in dependencies:
        if not isinstance(dependency, str):
            raise GraphLoadError(f"{path}: dependency {dependency!r} is not a string")
        if dependency.startswith((".", "/")):
            directory = (base / dependency).resolve()
            if not directory.is_dir():
                raise GraphLoadError(f"{path}: dependency {dependency!r}: no such directory")
            if str(directory) not in sys.path:
                sys.path.insert(0, str(directory))


def _load_graph(config: Path, base: Path, name: str, target: str) -> GraphDefinition:
    location, attr = target.rsplit(":", 1)
    where = f"{config}: graph {name!r} ({target})"
    try:
        module, source_file = _import(base, location, name)
        obj = getattr(module, attr)
    except GraphLoadError:
        raise
    except AttributeError as exc:
        raise GraphLoadError(f"{where}: the module has no attribute {attr!r}") from exc
    except Exception as exc:  # any error in the user's module is a start-up error
        raise GraphLoadError(f"{where}: import failed: {type(exc).__name__}: {exc}") from exc
    try:
        build = _builder(obj)
        probe = build(None)
    except GraphLoadError as exc:
        raise GraphLoadError(f"{where}: {exc}") from exc
    except Exception as exc:
        raise GraphLoadError(f"{where}: could not build: {type(exc).__name__}: {exc}") from exc
    doc = (getattr(module, "__doc__", None) or "").strip()
    description = doc.splitlines()[0] if doc else f"LangGraph graph {target}"
    return _definition(name, target, source_file, build, probe, description)


def _import(base: Path, location: str, name: str) -> tuple[Any, Path | None]:
    if location.endswith(".py") or "/" in location:
        file = (base / location).resolve()
        if not file.is_file():
            raise GraphLoadError(f"{file}: no such file")
        spec = importlib.util.spec_from_file_location(f"routegraph_user_graph_{name}", file)
        if spec is None or spec.loader is None:
            raise GraphLoadError(f"{file}: cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module, file
    module = importlib.import_module(location)
    module_file = getattr(module, "__file__", None)
    return module, Path(module_file) if module_file else None


def _builder(obj: Any) -> Callable[[BaseCheckpointSaver[Any] | None], Compiled]:
    """How to get a compiled graph with our checkpointer from what the user exported."""
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        made = _call_factory(obj)
        return _builder(made)
    if isinstance(obj, CompiledStateGraph):
        return lambda checkpointer: obj.copy(update={"checkpointer": checkpointer})
    if isinstance(obj, StateGraph):
        return lambda checkpointer: obj.compile(checkpointer=checkpointer)
    raise GraphLoadError(
        f"expected a compiled graph, a StateGraph or a factory, got {type(obj).__name__}"
    )


def _call_factory(factory: Callable[..., Any]) -> Any:
    if inspect.iscoroutinefunction(factory):
        raise GraphLoadError("async graph factories are not supported; make it synchronous")
    required = [
        p
        for p in inspect.signature(factory).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return factory({"configurable": {}}) if required else factory()


def _definition(
    name: str,
    target: str,
    source_file: Path | None,
    build: Callable[[BaseCheckpointSaver[Any] | None], Compiled],
    probe: Compiled,
    description: str,
) -> GraphDefinition:
    input_schema, validate = input_contract(name, probe)
    drawn = probe.get_graph()
    nodes = {node_id: "python" for node_id in drawn.nodes if not node_id.startswith("__")}
    structure = {
        "nodes": sorted(nodes),
        "edges": sorted(f"{e.source}->{e.target}" for e in drawn.edges),
    }
    digest = hashlib.sha256(json.dumps(structure, sort_keys=True).encode())
    if source_file is not None:
        digest.update(source_file.read_bytes())

    return GraphDefinition(
        name=name,
        source="python",
        description=description,
        input_schema=input_schema,
        validate_input=validate,
        build=build,
        initial_state=dict,
        output_of=state_output,
        nodes=nodes,
        revision=digest.hexdigest()[:16],
        origin=target,
    )
