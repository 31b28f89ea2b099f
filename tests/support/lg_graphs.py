"""Graphs for the LangGraph API tests, written into a langgraph.json by the test.

`review`: a model drafts an answer (one call through the gateway), a human approves or
edits it (`interrupt()`), then a plain node finishes. `chat`: one streamed model call.
`nested`: a subgraph as a node (its stream chunks come as `mode|namespace`). `two_calls`:
two streamed model calls in two nodes, one after the other. `cascade`: one call under the
cascade policy (edge first, frontier when the arithmetic verifier rejects it).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

REVIEW = """
import operator
from typing import Annotated

from langchain_core.messages import HumanMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt

from nodes.chat_model import RoutegraphChatModel

llm = RoutegraphChatModel(tier="edge")


class State(MessagesState, total=False):
    notes: Annotated[list[str], operator.add]
    verdict: str


async def draft(state: State) -> dict:
    get_stream_writer()({"progress": "drafting"})
    reply = await llm.ainvoke(state["messages"])
    return {"messages": [reply], "notes": ["draft"]}


def review(state: State) -> dict:
    answer = interrupt({"question": "approve the draft?", "draft": state["messages"][-1].content})
    return {"verdict": str(answer), "notes": ["review"]}


def finish(state: State) -> dict:
    return {"notes": ["finish:" + state.get("verdict", "")]}


def make_graph():
    builder = StateGraph(State)
    builder.add_node("draft", draft)
    builder.add_node("review", review)
    builder.add_node("finish", finish)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", "finish")
    builder.add_edge("finish", END)
    return builder.compile()


def make_nested():
    class Inner(MessagesState, total=False):
        verdict: str

    def inner_step(state: Inner) -> dict:
        return {"verdict": f"inner after {len(state['messages'])} messages"}

    child = StateGraph(Inner)
    child.add_node("inner_step", inner_step)
    child.add_edge(START, "inner_step")
    child.add_edge("inner_step", END)
    builder = StateGraph(State)
    builder.add_node("child", child.compile())
    builder.add_edge(START, "child")
    builder.add_edge("child", END)
    return builder.compile()


AGAIN = (
    "Now tell it again from the crew's side: the cold, the waves over the deck, the captain "
    "who saw the light at last, and the morning they reached the harbour alive."
)


def make_two_calls():
    async def first(state: MessagesState) -> dict:
        return {"messages": [await llm.ainvoke(state["messages"])]}

    async def second(state: MessagesState) -> dict:
        asked = [*state["messages"], HumanMessage(AGAIN)]
        return {"messages": [await llm.ainvoke(asked)]}

    builder = StateGraph(MessagesState)
    builder.add_node("first", first)
    builder.add_node("second", second)
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    builder.add_edge("second", END)
    return builder.compile()


def make_cascade():
    cascade = RoutegraphChatModel(policy="cascade")

    async def answer(state: MessagesState) -> dict:
        return {"messages": [await cascade.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    return builder.compile()


def make_chat():
    async def answer(state: MessagesState) -> dict:
        return {"messages": [await llm.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    return builder.compile()
"""


def write_lg_config(directory: Path) -> Path:
    package = directory / "lg_graphs"
    package.mkdir()
    (package / "review.py").write_text(textwrap.dedent(REVIEW))
    config = directory / "langgraph.json"
    graphs = {
        "review": "./lg_graphs/review.py:make_graph",
        "chat": "./lg_graphs/review.py:make_chat",
        "nested": "./lg_graphs/review.py:make_nested",
        "two_calls": "./lg_graphs/review.py:make_two_calls",
        "cascade": "./lg_graphs/review.py:make_cascade",
    }
    config.write_text(json.dumps({"dependencies": ["./lg_graphs"], "graphs": graphs}))
    return config
