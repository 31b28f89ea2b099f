"""plan → execute (one step per node run, looping) → synthesize.

The planner runs on the frontier tier, each step on the edge tier with a real
calculator tool, the synthesis on the mid tier. Every node run is checkpointed, so a
crashed worker's run resumes at the next unfinished step.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

import typing_extensions
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, ConfigDict, Field

from nodes.context import RunContext
from nodes.executor import execute_step
from nodes.planner import MAX_PLAN_STEPS, plan
from nodes.synthesizer import synthesize

NAME = "plan_execute"
# Bump when the graph's structure or node behaviour changes: runs pin a version.
REVISION = 1


class PlanExecuteInput(BaseModel):
    """The input a client posts: `{"question": "..."}`."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=8000, description="what to answer")


def _merge(left: dict[str, str] | None, right: dict[str, str] | None) -> dict[str, str]:
    """Step results accumulate within a run; an empty dict starts a new run on the thread."""
    if right == {}:
        return {}
    return {**(left or {}), **(right or {})}


class PlanStepState(typing_extensions.TypedDict):
    """A plan step as the state holds it (`nodes.planner.PlanStep`, dumped)."""

    id: int
    description: str
    tool: Literal["calculator"] | None
    expression: str | None


class PlanExecuteState(TypedDict, total=False):
    question: str
    messages: Annotated[list[dict[str, Any]], operator.add]
    # Field(...) is not a reducer: LangGraph keeps the last value; forks are checked against it.
    plan: Annotated[list[PlanStepState], Field(max_length=MAX_PLAN_STEPS)]
    step_results: Annotated[dict[str, str], _merge]
    answer: str


INPUT_MODEL = PlanExecuteInput


def initial_state(payload: dict[str, Any]) -> dict[str, Any]:
    """A new run on a thread keeps the conversation and starts a fresh plan."""
    return {
        "question": payload["question"],
        "messages": [{"role": "user", "content": payload["question"]}],
        "plan": [],
        "step_results": {},
        "answer": "",
    }


def output_of(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "answer": state.get("answer"),
        "plan": state.get("plan"),
        "step_results": state.get("step_results"),
    }


def _after_step(state: PlanExecuteState) -> str:
    done = len(state.get("step_results") or {})
    return "execute" if done < len(state.get("plan") or []) else "synthesize"


def build(checkpointer: BaseCheckpointSaver[Any] | None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the graph with the given checkpointer (built per process, never at import)."""
    graph = StateGraph(PlanExecuteState, context_schema=RunContext)
    # Nodes take the state as a plain dict (they are shared between graphs), which
    # LangGraph's overloads only accept for TypedDict-typed functions.
    graph.add_node("plan", plan)  # type: ignore[call-overload]
    graph.add_node("execute", execute_step)  # type: ignore[call-overload]
    graph.add_node("synthesize", synthesize)  # type: ignore[call-overload]
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "execute")
    graph.add_conditional_edges("execute", _after_step, ["execute", "synthesize"])
    graph.add_edge("synthesize", END)
    return graph.compile(checkpointer=checkpointer)
