"""`runs.wait` answers from the values a run streamed only when they are what reading its
final checkpoint back would give."""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from app.services.lg_json import jsonable
from app.worker.final_state import ended_state


class State(TypedDict, total=False):
    question: str
    plan: str
    answer: str


class Answer(TypedDict, total=False):
    answer: str


async def plan(state: State) -> State:
    return {"plan": f"plan for {state.get('question', '')}"}


async def answer(state: State) -> State:
    return {"answer": f"answer from {state.get('plan', '')}"}


async def ask(state: State) -> State:
    return {"answer": str(interrupt("which plan?"))}


def _graph(*, output: type | None = None, last: Any = answer) -> Any:
    builder = StateGraph(State, output_schema=output) if output else StateGraph(State)
    builder.add_node("plan", plan)
    builder.add_node("answer", last)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "answer")
    builder.add_edge("answer", END)
    return builder.compile(checkpointer=InMemorySaver())


async def _last_values(compiled: Any, thread: str) -> dict[str, Any] | None:
    config = {"configurable": {"thread_id": thread}}
    last = None
    async for chunk in compiled.astream({"question": "q"}, config, stream_mode="values"):
        last = chunk
    return last


async def test_the_streamed_end_state_is_the_state_read_back_from_the_checkpoint() -> None:
    compiled = _graph()
    made = ended_state(await _last_values(compiled, "t1"))
    assert made is not None
    snapshot = await compiled.aget_state({"configurable": {"thread_id": "t1"}})
    assert made() == jsonable(snapshot.values)
    assert made()["answer"] == "answer from plan for q"


async def test_a_narrower_output_schema_still_streams_and_hands_over_the_whole_state() -> None:
    compiled = _graph(output=Answer)
    made = ended_state(await _last_values(compiled, "t2"))
    assert made is not None
    snapshot = await compiled.aget_state({"configurable": {"thread_id": "t2"}})
    assert (
        made()
        == jsonable(snapshot.values)
        == {
            "question": "q",
            "plan": "plan for q",
            "answer": "answer from plan for q",
        }
    )


async def test_a_run_that_paused_in_an_interrupt_hands_nothing_over() -> None:
    compiled = _graph(last=ask)
    streamed = await _last_values(compiled, "t3")
    assert streamed is not None and "__interrupt__" in streamed
    assert ended_state(streamed) is None


def test_a_run_that_streamed_no_values_hands_nothing_over() -> None:
    assert ended_state(None) is None
