"""The built-in graphs, described in one shape the service can list, version and run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel

from graphs import answer, plan_execute


@dataclass(frozen=True)
class GraphDefinition:
    name: str
    description: str
    revision: int
    input_model: type[BaseModel]
    build: Callable[[BaseCheckpointSaver[Any] | None], CompiledStateGraph[Any, Any, Any, Any]]
    initial_state: Callable[[Any], dict[str, Any]]
    output_of: Callable[[dict[str, Any]], dict[str, Any]]
    node_tiers: dict[str, str]

    def spec(self) -> dict[str, Any]:
        """What `graph_versions.spec` stores and `GET /v1/graphs` shows."""
        return {
            "description": self.description,
            "revision": self.revision,
            "input_schema": self.input_model.model_json_schema(),
            "nodes": self.node_tiers,
        }

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.spec(), sort_keys=True).encode()).hexdigest()


def builtin_graphs() -> dict[str, GraphDefinition]:
    definitions = [
        GraphDefinition(
            name=plan_execute.NAME,
            description="Plan on the frontier tier, execute steps with a calculator on the "
            "edge tier, synthesise the answer on the mid tier.",
            revision=plan_execute.REVISION,
            input_model=plan_execute.PlanExecuteInput,
            build=plan_execute.build,
            initial_state=plan_execute.initial_state,
            output_of=plan_execute.output_of,
            node_tiers={"plan": "frontier", "execute": "edge", "synthesize": "mid"},
        ),
        GraphDefinition(
            name=answer.NAME,
            description="One routed model call; the policy (auto, cascade or a tier) is "
            "chosen per request.",
            revision=answer.REVISION,
            input_model=answer.AnswerInput,
            build=answer.build,
            initial_state=answer.initial_state,
            output_of=answer.output_of,
            node_tiers={"answer": "routed"},
        ),
    ]
    return {definition.name: definition for definition in definitions}
