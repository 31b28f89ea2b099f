"""Stream modes over the LangGraph API with the real `langgraph_sdk`, and token chunks that
reach the client before they are written: `messages-tuple`, `messages` (put together per
message), `events` (LangChain's events), `values`/`updates`; a join stream that resumes after
a `Last-Event-ID` gets every later chunk once, written or not yet."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import UnprocessableEntityError

from app.api.app import create_app
from app.settings import Settings
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.support.lg_graphs import write_lg_config
from tests.support.live_server import LiveServer
from tests.support.stream_rig import STORY, written_ids


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    # Tokens take their time, and chunks are written only with the run's next write (a
    # model call's ledger row, the end), never on a timer during a call.
    with SimulatorServer(SimulatorConfig(latency_scale=3.0)) as simulator_url:
        settings = Settings(
            database_url=database_url,
            simulator_url=simulator_url,
            config=write_lg_config(tmp_path),
            event_flush_seconds=60,
        )
        with LiveServer(create_app(settings, embedded_worker=True)) as base_url:
            yield base_url, database_url


async def test_token_chunks_reach_the_client_before_they_are_written(
    served: tuple[str, str],
) -> None:
    url, database_url = served
    client = get_client(url=url)
    thread = (await client.threads.create())["thread_id"]
    run_id, unwritten, statuses, ids = "", 0, set(), []
    async for part in client.runs.stream(thread, "chat", input=STORY, stream_mode="messages-tuple"):
        if part.event == "metadata":
            run_id = part.data["run_id"]
        if part.event == "messages" and part.data[0]["content"] and len(ids) < 3:
            ids.append(part.id)
            statuses.add((await client.runs.get(thread, run_id))["status"])
            if part.id not in await written_ids(database_url, run_id):
                unwritten += 1
    assert statuses == {"running"}
    assert unwritten == 3  # each of the first chunks was read before it was written
    # Written afterwards, under the same ids.
    assert set(ids) <= await written_ids(database_url, run_id)


async def test_messages_mode_sends_each_message_put_together(served: tuple[str, str]) -> None:
    url, _ = served
    client = get_client(url=url)
    thread = (await client.threads.create())["thread_id"]
    parts = [
        part
        async for part in client.runs.stream(thread, "chat", input=STORY, stream_mode="messages")
    ]
    events = [part.event for part in parts]
    assert events[0] == "metadata"
    assert events[1] == "messages/metadata"
    partials = [part.data[0] for part in parts if part.event == "messages/partial"]
    assert len(partials) >= 3
    message_id = next(iter(parts[1].data))
    assert parts[1].data[message_id]["metadata"]["langgraph_node"] == "answer"
    assert {p["id"] for p in partials} == {message_id}
    assert {p["type"] for p in partials} == {"ai"}  # a message so far, not a chunk
    contents = [p["content"] for p in partials]
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(contents))
    state = await client.threads.get_state(thread)
    assert contents[-1] == state["values"]["messages"][-1]["content"]
    assert "messages" not in events  # no tuples in this mode


async def test_messages_tuple_mode_sends_chunks_as_they_are(served: tuple[str, str]) -> None:
    url, _ = served
    client = get_client(url=url)
    thread = (await client.threads.create())["thread_id"]
    chunks = [
        part.data
        async for part in client.runs.stream(
            thread, "chat", input=STORY, stream_mode="messages-tuple"
        )
        if part.event == "messages"
    ]
    assert all(chunk["type"] == "AIMessageChunk" for chunk, _ in chunks)
    assert all(metadata["langgraph_node"] == "answer" for _, metadata in chunks)
    state = await client.threads.get_state(thread)
    assert "".join(c["content"] for c, _ in chunks) == state["values"]["messages"][-1]["content"]


async def test_events_mode_sends_langchains_events(served: tuple[str, str]) -> None:
    url, _ = served
    client = get_client(url=url)
    thread = (await client.threads.create())["thread_id"]
    parts = [
        part
        async for part in client.runs.stream(
            thread, "chat", input=STORY, stream_mode=["events", "values"]
        )
    ]
    events: list[dict[str, Any]] = [part.data for part in parts if part.event == "events"]
    kinds = [event["event"] for event in events]
    # The root run is named after the graph, as in LangGraph's server.
    assert kinds[0] == "on_chain_start" and events[0]["name"] == "chat"
    assert kinds[-1] == "on_chain_end" and events[-1]["name"] == "chat"
    for kind in ("on_chat_model_start", "on_chat_model_end"):
        assert kinds.count(kind) == 1, kinds
    streamed = [
        e["data"]["chunk"]["content"] for e in events if e["event"] == "on_chat_model_stream"
    ]
    assert len([text for text in streamed if text]) >= 3
    answer_node = next(
        e for e in events if e["event"] == "on_chain_start" and e["name"] == "answer"
    )
    assert answer_node["metadata"]["langgraph_node"] == "answer"
    # The graph's own stream modes still come, as their own events.
    values = [part.data for part in parts if part.event == "values"]
    assert values[-1]["messages"][-1]["content"] == "".join(streamed)
    assert all(
        event.get("event") != "on_chain_stream" or event["name"] != "chat" for event in events
    )


async def test_values_and_updates_modes(served: tuple[str, str]) -> None:
    url, _ = served
    client = get_client(url=url)
    thread = (await client.threads.create())["thread_id"]
    parts = [
        part
        async for part in client.runs.stream(
            thread, "chat", input=STORY, stream_mode=["values", "updates"]
        )
    ]
    updates = [part.data for part in parts if part.event == "updates"]
    values = [part.data for part in parts if part.event == "values"]
    assert [list(update) for update in updates] == [["answer"]]
    assert len(values[0]["messages"]) == 1 and len(values[-1]["messages"]) == 2
    ids = [part.id for part in parts if part.id]
    assert len(ids) == len(set(ids)) == len(updates) + len(values)


def _key(stream_id: str) -> tuple[int, int]:
    epoch, n = stream_id.split("-")
    return int(epoch), int(n)


async def test_join_stream_resumes_after_written_and_unwritten_chunks(
    served: tuple[str, str],
) -> None:
    """The first call's chunks are written with its ledger row; the second call's are not
    written while it streams. A client that resumes after a chunk of either kind gets
    every later chunk once."""
    url, database_url = served
    client = get_client(url=url)
    thread = (await client.threads.create())["thread_id"]
    seen: list[tuple[str, Any]] = []
    run_id = ""
    async for part in client.runs.stream(
        thread, "two_calls", input=STORY, stream_mode="messages-tuple"
    ):
        if part.event == "metadata":
            run_id = part.data["run_id"]
        elif part.event == "messages":
            seen.append((part.id, part.data))
            second = [s for s in seen if s[1][1]["langgraph_node"] == "second"]
            if len([s for s in second if s[1][0]["content"]]) >= 3:
                break  # hang up mid-way through the second call
    written = await written_ids(database_url, run_id)
    first_ids = [i for i, data in seen if data[1]["langgraph_node"] == "first"]
    resume_written = first_ids[len(first_ids) // 2]
    resume_unwritten = seen[-1][0]
    assert resume_written in written
    assert resume_unwritten not in written
    assert (await client.runs.get(thread, run_id))["status"] == "running"

    async def join(after: str) -> list[tuple[str, Any]]:
        return [
            (part.id, part.data)
            async for part in client.runs.join_stream(
                thread, run_id, stream_mode="messages-tuple", last_event_id=after
            )
            if part.event == "messages"
        ]

    after_written = await join(resume_written)
    after_unwritten = await join(resume_unwritten)
    whole = [
        (part.id, part.data)
        async for part in client.runs.join_stream(thread, run_id, stream_mode="messages-tuple")
        if part.event == "messages"
    ]
    ids = [i for i, _ in whole]
    assert ids == sorted(ids, key=_key) and len(set(ids)) == len(ids)
    assert set(ids) == await written_ids(database_url, run_id)  # all written in the end
    cut = ids.index(resume_written) + 1
    assert after_written == whole[cut:]
    assert seen[: ids.index(resume_unwritten) + 1] == whole[: ids.index(resume_unwritten) + 1]
    assert after_unwritten == whole[ids.index(resume_unwritten) + 1 :]
    state = await client.threads.get_state(thread)
    said = "".join(d[0]["content"] for _, d in whole if d[1]["langgraph_node"] == "second")
    assert said == state["values"]["messages"][-1]["content"]


async def test_a_last_event_id_that_is_no_id_is_a_422(served: tuple[str, str]) -> None:
    url, _ = served
    client = get_client(url=url)
    thread = (await client.threads.create())["thread_id"]
    run = await client.runs.create(thread, "chat", input=STORY, stream_mode="messages-tuple")
    with pytest.raises(UnprocessableEntityError, match="Last-Event-ID 'x-y'"):
        async for _ in client.runs.join_stream(thread, run["run_id"], last_event_id="x-y"):
            pass
