"""Graph-wide checks: state and input, entry, edges, reachability, loops and their exits."""

from __future__ import annotations

from typing import Any

from graphs.spec.check_nodes import END, suggest
from graphs.spec.errors import SpecError, pointer
from graphs.spec.model import RouterNode, StateField
from graphs.spec.structure import SpecView

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _matches_type(value: Any, type_name: str) -> bool:
    if type_name == "any" or value is None:
        return True
    if isinstance(value, bool) and type_name != "boolean":
        return False
    return isinstance(value, _JSON_TYPES[type_name])


def check_state(view: SpecView) -> list[SpecError]:
    """Reducers fit types, defaults fit types, input/output name state fields."""
    errors: list[SpecError] = []
    state = view.state
    if state is None:
        return errors
    for name, spec in state.items():
        errors.extend(_field_errors(name, spec))
    for key in ("input", "output"):
        names = getattr(view, key) or []
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name not in state:
                hint = suggest(name, state)
                errors.append(SpecError(pointer(key, index), f"unknown state field {name!r}{hint}"))
            elif name in seen:
                errors.append(SpecError(pointer(key, index), f"{name!r} is listed twice"))
            seen.add(name)
    for name in view.node_names:
        if name in state:
            errors.append(
                SpecError(
                    pointer("nodes", name),
                    f"node {name!r} has the name of a state field; name them differently",
                )
            )
    return errors


def _field_errors(name: str, spec: StateField) -> list[SpecError]:
    errors = []
    if spec.reducer == "append" and spec.type != "array":
        errors.append(
            SpecError(pointer("state", name, "reducer"), "the append reducer needs type: array")
        )
    if spec.items is not None and spec.type != "array":
        errors.append(SpecError(pointer("state", name, "items"), "items needs type: array"))
    if not _matches_type(spec.default, spec.type):
        errors.append(
            SpecError(pointer("state", name, "default"), f"the default is not of type {spec.type}")
        )
    if spec.enum is not None and not all(_matches_type(v, spec.type) for v in spec.enum):
        errors.append(
            SpecError(pointer("state", name, "enum"), f"every enum value must be {spec.type}")
        )
    return errors


def _successors(view: SpecView) -> tuple[dict[str, list[str]], list[SpecError]]:
    """Each node's next nodes (END included), and the edge errors found on the way."""
    errors: list[SpecError] = []
    names = set(view.node_names)
    following: dict[str, list[str]] = {name: [] for name in view.node_names}
    first_edge: dict[str, int] = {}
    for index, edge in view.edges:
        source, target = edge.from_, edge.to
        if source not in names:
            hint = suggest(source, names)
            message = f"unknown node {source!r}{hint}" + (
                " (the graph starts at `entry`)" if source == "START" else ""
            )
            errors.append(SpecError(pointer("edges", index, "from"), message))
        if target != END and target not in names:
            errors.append(
                SpecError(
                    pointer("edges", index, "to"),
                    f"unknown node {target!r}{suggest(target, names)} (or END)",
                )
            )
        if source not in names:
            continue
        if isinstance(view.nodes.get(source), RouterNode):
            errors.append(
                SpecError(
                    pointer("edges", index, "from"),
                    f"router {source!r} branches through its routes; remove this edge",
                )
            )
            continue
        if source in first_edge:
            errors.append(
                SpecError(
                    pointer("edges", index),
                    f"node {source!r} already has an edge (/edges/{first_edge[source]}); a node "
                    "has one next node: branch with a router, fan out with a map",
                )
            )
            continue
        first_edge[source] = index
        if target == END or target in names:
            following[source].append(target)
    for name, node in view.nodes.items():
        if isinstance(node, RouterNode):
            targets = [*(route.to for route in node.routes), node.default]
            following[name] = [t for t in targets if t == END or t in names]
    return following, errors


def check_edges(view: SpecView) -> list[SpecError]:
    """Entry and edges name nodes; with a complete graph also reachability and loops."""
    errors: list[SpecError] = []
    names = set(view.node_names)
    if view.entry is not None and view.entry not in names:
        errors.append(
            SpecError("/entry", f"unknown node {view.entry!r}{suggest(view.entry, names)}")
        )
    following, edge_errors = _successors(view)
    errors.extend(edge_errors)
    if not view.complete_graph or view.entry not in names:
        return errors  # reachability on a partly parsed graph would report false problems
    for name in view.node_names:
        if not following[name]:
            errors.append(
                SpecError(
                    pointer("nodes", name),
                    f"node {name!r} has no outgoing edge: add {{from: {name}, to: END}} "
                    "or an edge to the next node",
                )
            )
    reachable = _reachable(view.entry, following)
    for name in view.node_names:
        if name not in reachable:
            errors.append(
                SpecError(
                    pointer("nodes", name),
                    f"node {name!r} is unreachable from the entry {view.entry!r}",
                )
            )
    errors.extend(_loop_errors(view, following))
    return errors


def _reachable(entry: str, following: dict[str, list[str]]) -> set[str]:
    seen = {entry}
    stack = [entry]
    while stack:
        for target in following.get(stack.pop(), []):
            if target != END and target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _loop_errors(view: SpecView, following: dict[str, list[str]]) -> list[SpecError]:
    """Every cycle needs a router on it with a route out of it, and a step limit."""
    errors: list[SpecError] = []
    for component in _strongly_connected(view.node_names, following):
        if len(component) == 1 and component[0] not in following[component[0]]:
            continue  # a single node without a self-loop is no cycle
        members = set(component)
        path = " -> ".join([*component, component[0]])
        exits = [
            name
            for name in component
            if isinstance(view.nodes.get(name), RouterNode)
            and any(target == END or target not in members for target in following[name])
        ]
        if not exits:
            errors.append(
                SpecError(
                    pointer("nodes", component[0]),
                    f"cycle {path} has no exit condition: no router on it routes out of it",
                )
            )
        elif view.limits is not None and view.limits.max_steps is None:
            errors.append(
                SpecError(
                    "/limits/max_steps",
                    f"the graph loops ({path}); set limits.max_steps to bound how often",
                )
            )
    return errors


def _strongly_connected(names: list[str], following: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a spec must not be able to exhaust the stack)."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in names:
        if root in index_of:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index_of[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = [t for t in following.get(node, []) if t != END]
            if child < len(targets):
                work.append((node, child + 1))
                target = targets[child]
                if target not in index_of:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index_of[target])
                continue
            for target in targets:
                if target in on_stack:
                    low[node] = min(low[node], low[target])
            if low[node] == index_of[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(list(reversed(component)))
    return components
