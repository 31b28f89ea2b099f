"""A user's own LangGraph graph and the langgraph.json naming it, written by a test."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

# A graph as users write them: typing.TypedDict state (pydantic refuses those on Python
# 3.11, so the input schema is rebuilt), an LLM node on the LangChain chat-model interface,
# a plain Python node.
GRAPH = '''
"""Summarise a note, then shout it."""
from typing import Annotated, TypedDict
import operator

from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph

from nodes.chat_model import RoutegraphChatModel

llm = RoutegraphChatModel(tier="edge")


class State(TypedDict, total=False):
    note: str
    summary: str
    log: Annotated[list[str], operator.add]


async def summarise(state: State) -> State:
    reply = await llm.ainvoke([HumanMessage("Summarise in one line: " + state["note"])])
    return {"summary": reply.content, "log": ["summarise"]}


def shout(state: State) -> State:
    return {"summary": state["summary"].upper(), "log": ["shout"]}


def make_graph():
    builder = StateGraph(State)
    builder.add_node("summarise", summarise)
    builder.add_node("shout", shout)
    builder.add_edge(START, "summarise")
    builder.add_edge("summarise", "shout")
    builder.add_edge("shout", END)
    return builder.compile()  # compiled by the user: routegraph swaps in its checkpointer
'''


def write_config(directory: Path, graph_source: str = GRAPH, target: str = "make_graph") -> Path:
    package = directory / "my_graphs"
    package.mkdir()
    (package / "notes.py").write_text(textwrap.dedent(graph_source))
    config = directory / "langgraph.json"
    config.write_text(
        json.dumps(
            {"dependencies": ["./my_graphs"], "graphs": {"notes": f"./my_graphs/notes.py:{target}"}}
        )
    )
    return config
