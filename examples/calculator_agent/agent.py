"""A calculator agent written against LangChain's chat-model interface.

Brought to routegraph unchanged but for one line: the chat model is `RoutegraphChatModel`
(was `ChatOpenAI(...)`), so every call gets a tier, fallbacks, the budget check and a
ledger row. routegraph compiles the builder with its own checkpointer.
"""

from __future__ import annotations

from langchain_core.messages import SystemMessage
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from nodes.calculator import CalculatorError, evaluate, format_number
from nodes.chat_model import RoutegraphChatModel

SYSTEM = """ROLE: executor
You answer arithmetic questions. For every expression, call the calculator tool with it,
then reply with the result."""


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression with + - * / // % ** and parentheses."""
    try:
        return format_number(evaluate(expression))
    except CalculatorError as exc:
        return f"error: {exc}"


llm = RoutegraphChatModel(tier="edge").bind_tools([calculator])


async def agent(state: MessagesState) -> dict[str, list]:
    reply = await llm.ainvoke([SystemMessage(SYSTEM), *state["messages"]])
    return {"messages": [reply]}


builder = StateGraph(MessagesState)
builder.add_node("agent", agent)
builder.add_node("tools", ToolNode([calculator]))
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", tools_condition)
builder.add_edge("tools", "agent")
graph = builder
