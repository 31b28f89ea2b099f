"""answer: a single routed model call; the policy (auto, cascade or a tier) is per request.

The smallest graph that exercises routing end to end; `routegraph bench routing --live`
sends dataset prompts through it over REST.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, ConfigDict, Field

from nodes.answerer import answer
from nodes.context import RunContext

NAME = "answer"
REVISION = 1


class AnswerInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=16_000)
    policy: Literal["auto", "cascade", "frontier", "mid", "edge"] = "auto"
    threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="auto: quality bar; cascade: also escalate verified answers the router "
        "scores below it",
    )


class AnswerState(TypedDict, total=False):
    question: str
    policy: str
    threshold: float | None
    answer: str
    model: str
    tier: str


INPUT_MODEL = AnswerInput


def initial_state(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "answer": "", "model": "", "tier": ""}


def output_of(state: dict[str, Any]) -> dict[str, Any]:
    return {key: state.get(key) for key in ("answer", "model", "tier")}


def build(checkpointer: BaseCheckpointSaver[Any] | None) -> CompiledStateGraph[Any, Any, Any, Any]:
    graph = StateGraph(AnswerState, context_schema=RunContext)
    graph.add_node("answer", answer)  # type: ignore[call-overload]
    graph.add_edge(START, "answer")
    graph.add_edge("answer", END)
    return graph.compile(checkpointer=checkpointer)
