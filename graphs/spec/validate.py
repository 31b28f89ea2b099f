"""`validate_spec`: every problem of a spec document at once, each with its JSON pointer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphs.spec.check_graph import check_edges, check_state
from graphs.spec.check_nodes import NodeChecker
from graphs.spec.environment import MAX_SUBGRAPH_DEPTH, SpecEnvironment
from graphs.spec.errors import SpecError, SpecInvalid
from graphs.spec.expressions import Expression
from graphs.spec.model import GraphSpec
from graphs.spec.source import MAX_SPEC_BYTES, check_json_values
from graphs.spec.structure import check_structure
from graphs.spec.templates import Template


@dataclass(frozen=True)
class ValidatedSpec:
    """A spec that passed every check, with its templates and expressions already parsed
    (keyed by JSON pointer) and the validated subgraphs it uses."""

    spec: GraphSpec
    document: dict[str, Any]
    templates: Mapping[str, Template] = field(default_factory=dict)
    expressions: Mapping[str, Expression] = field(default_factory=dict)
    subgraphs: Mapping[tuple[str, int], ValidatedSpec] = field(default_factory=dict)


def _document_errors(document: Any) -> list[SpecError]:
    if not isinstance(document, dict):
        return [SpecError("", f"a spec is a mapping of fields; found a {type(document).__name__}")]
    errors = check_json_values(document)
    if errors:
        return errors
    size = len(json.dumps(document, ensure_ascii=False).encode("utf-8", errors="replace"))
    if size > MAX_SPEC_BYTES:
        return [SpecError("", f"spec is {size} bytes; the limit is {MAX_SPEC_BYTES}")]
    return []


def validate_spec(
    document: Any, env: SpecEnvironment, *, _stack: tuple[tuple[str, int], ...] = ()
) -> ValidatedSpec:
    """Check a spec document; SpecInvalid lists every problem with its pointer."""
    errors = _document_errors(document)
    if errors:
        raise SpecInvalid(errors)
    view, errors = check_structure(document)

    def validate_subgraph(name: str, version: int, where: str) -> tuple[Any, list[SpecError]]:
        return _subgraph(env, name, version, where, _stack)

    checker = NodeChecker(
        env=env,
        document=document,
        state=view.state,
        node_names=view.node_names,
        validate_subgraph=validate_subgraph,
    )
    for name, node in view.nodes.items():
        checker.check(name, node)
    errors.extend(checker.errors)
    errors.extend(check_state(view))
    errors.extend(check_edges(view))
    if errors or view.spec is None:
        raise SpecInvalid(errors or [SpecError("", "invalid spec")])
    return ValidatedSpec(
        spec=view.spec,
        document=document,
        templates=checker.templates,
        expressions=checker.expressions,
        subgraphs=checker.subgraphs,
    )


def _subgraph(
    env: SpecEnvironment,
    name: str,
    version: int,
    where: str,
    stack: tuple[tuple[str, int], ...],
) -> tuple[ValidatedSpec | None, list[SpecError]]:
    """Resolve and validate a subgraph; its problems are reported at the referring node."""
    at = f"{where}/graph"
    if (name, version) in stack:
        chain = " -> ".join(f"{n} v{v}" for n, v in (*stack, (name, version)))
        return None, [SpecError(at, f"graphs include each other: {chain}")]
    if len(stack) >= MAX_SUBGRAPH_DEPTH:
        return None, [SpecError(at, f"subgraphs nest deeper than {MAX_SUBGRAPH_DEPTH} levels")]
    document = env.resolve_subgraph(name, version)
    if document is None:
        return None, [SpecError(at, f"no graph {name!r} with version {version}")]
    try:
        return validate_spec(document, env, _stack=(*stack, (name, version))), []
    except SpecInvalid as invalid:
        first = invalid.spec_errors[0]
        more = f" (and {len(invalid.spec_errors) - 1} more)" if len(invalid.spec_errors) > 1 else ""
        message = f"graph {name!r} v{version} is invalid: {first.pointer or '/'}: {first.message}"
        return None, [SpecError(at, message + more)]
