"""The same graph for a server without routegraph's gateway: ChatOpenAI on the simulator."""

from __future__ import annotations

import os

from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState, StateGraph

llm = ChatOpenAI(
    model="edge-a", base_url=os.environ["SIMULATOR_URL"], api_key="sim", streaming=True
)


async def answer(state: MessagesState) -> dict[str, object]:
    return {"messages": [await llm.ainvoke(state["messages"])]}


builder = StateGraph(MessagesState)
builder.add_node("answer", answer)
builder.add_edge(START, "answer")
builder.add_edge("answer", END)
graph = builder.compile()
