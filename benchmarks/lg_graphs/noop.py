"""A 3-node plan -> execute -> synthesize graph whose nodes answer at once (no model calls).

`benchmarks/orchestration.py` loads it through `langgraph.json`, the way a user brings
their own LangGraph graph, to measure what the engine itself costs per run.
"""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    question: str
    plan: str
    result: str
    answer: str


async def plan(state: State) -> State:
    return {"plan": f"plan for {state.get('question', '')}"}


async def execute(state: State) -> State:
    return {"result": f"executed {state.get('plan', '')}"}


async def synthesize(state: State) -> State:
    return {"answer": f"answer from {state.get('result', '')}"}


builder = StateGraph(State)
builder.add_node("plan", plan)
builder.add_node("execute", execute)
builder.add_node("synthesize", synthesize)
builder.add_edge(START, "plan")
builder.add_edge("plan", "execute")
builder.add_edge("execute", "synthesize")
builder.add_edge("synthesize", END)
# A StateGraph builder: routegraph compiles it with its own checkpointer.
graph = builder
