"""Stream mode `messages` put together from `[message, metadata]` chunks, as LangGraph's
server sends it."""

from __future__ import annotations

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage

from app.services.lg_json import jsonable
from app.services.lg_messages import MessageAssembler

META = {"langgraph_node": "answer"}


def test_chunks_of_one_message_become_metadata_then_partials_of_the_message_so_far() -> None:
    assembler = MessageAssembler()
    first = assembler.add([jsonable(AIMessageChunk(content="Hel", id="m1")), META])
    second = assembler.add([jsonable(AIMessageChunk(content="lo", id="m1")), META])
    assert [event for event, _ in first] == ["messages/metadata", "messages/partial"]
    assert first[0][1] == {"m1": {"metadata": META}}
    assert [event for event, _ in second] == ["messages/partial"]
    (message,) = second[0][1]
    assert (message["content"], message["type"], message["id"]) == ("Hello", "ai", "m1")


def test_a_whole_message_is_complete() -> None:
    assembler = MessageAssembler()
    out = assembler.add([jsonable(HumanMessage(content="hi", id="h1")), META])
    assert [event for event, _ in out] == ["messages/metadata", "messages/complete"]
    assert out[1][1][0]["content"] == "hi"
    again = assembler.add([jsonable(AIMessage(content="done", id="h1")), META])
    assert again == [("messages/complete", [jsonable(AIMessage(content="done", id="h1"))])]


def test_what_is_not_a_message_chunk_is_left_out() -> None:
    assembler = MessageAssembler()
    assert assembler.add({"not": "a pair"}) == []
    assert assembler.add([{"content": "no type"}, META]) == []
