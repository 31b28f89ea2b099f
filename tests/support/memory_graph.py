"""A user's graph whose nodes use LangGraph's store, and the langgraph.json naming it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

GRAPH = '''
"""Remember a note per user in the store and count the notes seen before."""
from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore


class State(TypedDict, total=False):
    user: str
    note: str
    seen: int


async def remember(state: State, *, store: BaseStore) -> State:
    namespace = ("notes", state["user"])
    seen = len(await store.asearch(namespace))
    await store.aput(namespace, f"note-{seen}", {"text": state["note"]})
    return {"seen": seen}


def recall(state: State, *, store: BaseStore) -> State:  # a synchronous node: store.get
    item = store.get(("notes", state["user"]), f"note-{state['seen']}")
    assert item is not None and item.value["text"] == state["note"]
    return {}


builder = StateGraph(State)
builder.add_node("remember", remember)
builder.add_node("recall", recall)
builder.add_edge(START, "remember")
builder.add_edge("remember", "recall")
builder.add_edge("recall", END)
graph = builder.compile()
'''


def write_config(directory: Path) -> Path:
    """`memory` (this graph) in a langgraph.json under `directory`."""
    (directory / "memory.py").write_text(textwrap.dedent(GRAPH))
    config = directory / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"memory": "./memory.py:graph"}}))
    return config
