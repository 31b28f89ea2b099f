"""Every graph the service can run, in one shape: built-ins, the user's own LangGraph graphs
(`langgraph.json`) and declarative specs. Each has an input schema, a way to build it with
routegraph's checkpointer, and a fingerprint that gives it a version number when stored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, ValidationError

GraphSource = Literal["builtin", "python", "spec"]
Compiled = CompiledStateGraph[Any, Any, Any, Any]


class GraphInputInvalid(ValueError):
    """A run's input does not match its graph's input schema; `errors` say where."""

    def __init__(self, graph: str, errors: list[dict[str, Any]]) -> None:
        # The message names each field too: some clients (the LangGraph API's `detail`)
        # show only the message.
        where = "; ".join(
            f"{'.'.join(str(part) for part in e.get('loc') or ()) or 'input'}: {e.get('msg')}"
            for e in errors[:10]
        )
        message = f"input does not match graph {graph!r}'s input schema"
        super().__init__(f"{message}: {where}" if where else message)
        self.errors = errors


def pydantic_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


@dataclass(frozen=True)
class GraphDefinition:
    """One graph at one revision of its code or spec."""

    name: str
    source: GraphSource
    description: str
    input_schema: dict[str, Any]
    validate_input: Callable[[dict[str, Any]], dict[str, Any]]
    build: Callable[[BaseCheckpointSaver[Any] | None], Compiled]
    initial_state: Callable[[dict[str, Any]], dict[str, Any]]
    output_of: Callable[[dict[str, Any]], dict[str, Any]]
    nodes: dict[str, str] = field(default_factory=dict)
    revision: str = "1"  # what changes when the code or spec changes
    origin: str = ""  # "graphs/plan_execute.py", "./agent.py:graph", "spec"
    recursion_limit: int = 200
    budget_usd: float | None = None
    document: dict[str, Any] | None = None  # a spec graph's stored spec

    def spec(self) -> dict[str, Any]:
        """What `graph_versions.spec` stores and `GET /v1/graphs` shows."""
        stored: dict[str, Any] = {
            "description": self.description,
            "revision": self.revision,
            "input_schema": self.input_schema,
            "nodes": self.nodes,
            "origin": self.origin,
        }
        if self.document is not None:
            stored["document"] = self.document
        return stored

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.spec(), sort_keys=True).encode()).hexdigest()


def from_pydantic_input(
    graph: str, model: type[BaseModel]
) -> tuple[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]]:
    """(JSON Schema, validator) for a graph whose input is a pydantic model."""

    def validate(payload: dict[str, Any]) -> dict[str, Any]:
        try:
            # strict: a JSON body is never coerced (`"threshold": "0.5"` is not a number).
            return model.model_validate(payload, strict=True).model_dump()
        except ValidationError as exc:
            raise GraphInputInvalid(graph, pydantic_errors(exc)) from exc

    return model.model_json_schema(), validate


def builtin_graphs() -> dict[str, GraphDefinition]:
    """The graphs that ship with routegraph."""
    from graphs import answer, plan_execute

    definitions = []
    for module, description, nodes in (
        (
            plan_execute,
            "Plan on the frontier tier, execute steps with a calculator on the edge tier, "
            "synthesise the answer on the mid tier.",
            {"plan": "frontier", "execute": "edge", "synthesize": "mid"},
        ),
        (
            answer,
            "One routed model call; the policy (auto, cascade or a tier) is chosen per request.",
            {"answer": "routed"},
        ),
    ):
        schema, validate = from_pydantic_input(module.NAME, module.INPUT_MODEL)
        definitions.append(
            GraphDefinition(
                name=module.NAME,
                source="builtin",
                description=description,
                input_schema=schema,
                validate_input=validate,
                build=module.build,
                initial_state=module.initial_state,
                output_of=module.output_of,
                nodes=nodes,
                revision=str(module.REVISION),
                origin=f"graphs/{module.__name__.rsplit('.', 1)[-1]}.py",
            )
        )
    return {definition.name: definition for definition in definitions}
