"""One streamed model call through routegraph's gateway (time to first token)."""

from __future__ import annotations

from langgraph.graph import END, START, MessagesState, StateGraph

from nodes.chat_model import RoutegraphChatModel

llm = RoutegraphChatModel(tier="edge")


async def answer(state: MessagesState) -> dict[str, object]:
    return {"messages": [await llm.ainvoke(state["messages"])]}


builder = StateGraph(MessagesState)
builder.add_node("answer", answer)
builder.add_edge(START, "answer")
builder.add_edge("answer", END)
graph = builder.compile()
