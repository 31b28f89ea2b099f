"""The LangGraph Server API driven by the real `langgraph_sdk` (async and sync clients)
against a live routegraph (API + embedded worker) on loopback, SQLite and Postgres."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import Command
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from app.api.app import create_app
from app.db.engine import sqlite_path
from app.settings import Settings
from tests.support.lg_graphs import write_lg_config
from tests.support.live_server import LiveServer
from tests.support.simulator_admin import SimulatorAdmin

QUESTION = {"messages": [{"role": "user", "content": "Name a prime number below ten."}]}


def serve(database_url: str, simulator: SimulatorAdmin, tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        database_url=database_url,
        simulator_url=simulator.base_url,
        config=write_lg_config(tmp_path),
    )
    with LiveServer(create_app(settings, embedded_worker=True)) as base_url:
        yield base_url


@pytest.fixture
def served(database_url: str, simulator: SimulatorAdmin, tmp_path: Path) -> Iterator[str]:
    yield from serve(database_url, simulator, tmp_path)


@pytest.fixture
def served_sqlite(sqlite_url: str, simulator: SimulatorAdmin, tmp_path: Path) -> Iterator[str]:
    """For tests whose subject is not storage (graph metadata, stream formats)."""
    yield from serve(sqlite_url, simulator, tmp_path)


async def test_default_assistants_are_found_by_langgraphs_id_and_by_graph_name(
    served_sqlite: str,
) -> None:
    client = get_client(url=served_sqlite)
    derived = str(uuid.uuid5(uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8"), "review"))
    by_id = await client.assistants.get(derived)
    by_name = await client.assistants.get("review")
    assert by_id == by_name and by_id["graph_id"] == "review"
    found = await client.assistants.search(graph_id="review")
    assert [a["assistant_id"] for a in found] == [derived]
    schemas = await client.assistants.get_schemas("review")
    assert "messages" in schemas["input_schema"]["properties"]
    drawing = await client.assistants.get_graph("review")
    assert {node["id"] for node in drawing["nodes"]} >= {"draft", "review", "finish"}
    with pytest.raises(UnprocessableEntityError):
        await client.assistants.get("no-such-graph")
    with pytest.raises(NotFoundError):
        await client.assistants.get(str(uuid.uuid4()))

    made = await client.assistants.create("review", config={"configurable": {"x": 1}}, name="r1")
    updated = await client.assistants.update(made["assistant_id"], metadata={"team": "a"})
    assert updated["version"] == 2 and updated["metadata"] == {"team": "a"}
    versions = await client.assistants.get_versions(made["assistant_id"])
    assert [v["version"] for v in versions] == [2, 1]
    await client.assistants.delete(made["assistant_id"])
    with pytest.raises(NotFoundError):
        await client.assistants.get(made["assistant_id"])


async def test_interrupt_then_resume_over_the_sdk_pays_each_call_once(
    served: str, simulator: SimulatorAdmin
) -> None:
    client = get_client(url=served)
    thread = await client.threads.create(metadata={"user": "ann"})
    paused = await client.runs.wait(thread["thread_id"], "review", input=QUESTION)
    assert paused["__interrupt__"][0]["value"]["question"] == "approve the draft?"
    state = await client.threads.get_state(thread["thread_id"])
    assert state["next"] == ["review"] and state["interrupts"]
    assert (await client.threads.get(thread["thread_id"]))["status"] == "interrupted"
    calls_before = len(await simulator.requests())

    done = await client.runs.wait(thread["thread_id"], "review", command={"resume": "approved"})
    assert done["notes"] == ["draft", "review", "finish:approved"]
    assert len(await simulator.requests()) == calls_before  # the draft was not paid again
    thread_now = await client.threads.get(thread["thread_id"])
    assert thread_now["status"] == "idle" and thread_now["metadata"]["user"] == "ann"
    runs = await client.runs.list(thread["thread_id"])
    assert [r["status"] for r in runs] == ["success", "success"]
    history = await client.threads.get_history(thread["thread_id"], limit=50)
    steps = [h["metadata"]["step"] for h in history]
    assert steps == sorted(steps, reverse=True)  # newest first


async def test_reject_is_a_409_and_enqueue_keeps_both_runs_writes(served: str) -> None:
    client = get_client(url=served)
    thread = await client.threads.create()
    first = await client.runs.create(thread["thread_id"], "review", input=QUESTION)
    with pytest.raises(ConflictError) as refused:
        await client.runs.create(
            thread["thread_id"], "review", input=QUESTION, multitask_strategy="reject"
        )
    assert "busy" in str(refused.value.body).lower() or "busy" in str(refused.value)
    await client.runs.join(thread["thread_id"], first["run_id"])
    resumed = await client.runs.create(
        thread["thread_id"], "review", command={"resume": "one"}, multitask_strategy="enqueue"
    )
    second = await client.runs.create(
        thread["thread_id"], "review", input=QUESTION, multitask_strategy="enqueue"
    )
    await client.runs.join(thread["thread_id"], resumed["run_id"])
    result = await client.runs.join(thread["thread_id"], second["run_id"])
    # the second run continued from the first's writes and paused at its own review
    assert result["notes"] == ["draft", "review", "finish:one", "draft"]
    assert "__interrupt__" in result


def test_the_sync_client_streams_values_updates_and_custom_events(served: str) -> None:
    client = get_sync_client(url=served)
    thread = client.threads.create()
    parts = list(
        client.runs.stream(
            thread["thread_id"],
            "review",
            input=QUESTION,
            stream_mode=["values", "updates", "custom"],
        )
    )
    assert parts[0].event == "metadata" and parts[0].data["run_id"]
    events = [p.event for p in parts]
    assert {"values", "updates", "custom"} <= set(events)
    assert {"progress": "drafting"} in [p.data for p in parts if p.event == "custom"]
    assert any("__interrupt__" in p.data for p in parts if p.event == "updates")
    run_id = parts[0].data["run_id"]
    run = client.runs.get(thread["thread_id"], run_id)
    assert run["status"] == "success" and run["assistant_id"]
    # join stream replays the run's events after a Last-Event-ID
    replayed = list(client.runs.join_stream(thread["thread_id"], run_id, last_event_id="0"))
    assert [p.event for p in replayed if p.event != "metadata"] == events[1:]


async def test_unknown_thread_is_404_unless_if_not_exists_create(served: str) -> None:
    client = get_client(url=served)
    missing = str(uuid.uuid4())
    with pytest.raises(NotFoundError):
        await client.threads.get(missing)
    with pytest.raises(NotFoundError):
        await client.runs.create(missing, "review", input=QUESTION)
    run = await client.runs.create(missing, "review", input=QUESTION, if_not_exists="create")
    assert run["thread_id"] == missing
    async with httpx.AsyncClient(base_url=served) as raw:
        unknown_field = await raw.post(
            f"/threads/{missing}/runs", json={"assistant_id": "review", "webhook": "http://x"}
        )
        bad_mode = await raw.post(
            "/runs/wait", json={"assistant_id": "review", "stream_mode": "nope"}
        )
    assert unknown_field.status_code == 422 and "webhook" in unknown_field.json()["detail"]
    assert bad_mode.status_code == 422 and "stream_mode" in bad_mode.json()["detail"]


async def test_remote_graph_runs_and_streams_a_routegraph_graph(served: str) -> None:
    remote = RemoteGraph("chat", url=served)
    config: RunnableConfig = {"configurable": {"thread_id": str(uuid.uuid4())}}
    result = await remote.ainvoke(QUESTION, config)
    assert result["messages"][-1]["type"] == "ai" and result["messages"][-1]["content"]
    updates = [chunk async for chunk in remote.astream(QUESTION, config, stream_mode="updates")]
    assert [list(chunk) for chunk in updates] == [["answer"]]
    state = await remote.aget_state(config)
    assert len(state.values["messages"]) == 4  # two turns on the thread
    paused = RemoteGraph("review", url=served)
    review_config: RunnableConfig = {"configurable": {"thread_id": str(uuid.uuid4())}}
    seen = [c async for c in paused.astream(QUESTION, review_config, stream_mode="updates")]
    assert "__interrupt__" in seen[-1]
    resumed = await paused.ainvoke(Command(resume="fine"), review_config)
    assert resumed["notes"] == ["draft", "review", "finish:fine"]


async def test_thread_state_updates_copies_searches_and_deletes(served: str) -> None:
    client = get_client(url=served)
    thread = (await client.threads.create(metadata={"topic": "tides"}))["thread_id"]
    await client.runs.wait(thread, "review", input=QUESTION)  # paused at review
    updated = await client.threads.update_state(thread, {"notes": ["edited"]}, as_node="draft")
    state = await client.threads.get_state(thread)
    assert state["checkpoint"]["checkpoint_id"] == updated["checkpoint"]["checkpoint_id"]
    assert state["values"]["notes"] == ["draft", "edited"]  # through the reducer
    older = await client.threads.get_state(thread, checkpoint_id=state["parent_checkpoint_id"])
    assert older["values"]["notes"] == ["draft"]
    copy = await client.threads.copy(thread)
    copied = await client.threads.get(copy["thread_id"])
    assert copied["values"]["notes"] == ["draft", "edited"]
    assert copied["metadata"]["topic"] == "tides"
    found = await client.threads.search(metadata={"topic": "tides"}, limit=10)
    assert {t["thread_id"] for t in found} == {thread, copy["thread_id"]}
    busy = await client.threads.search(status="busy")
    assert busy == []
    await client.threads.delete(thread)
    with pytest.raises(NotFoundError):
        await client.threads.get(thread)
    with pytest.raises(ConflictError):
        await client.threads.create(thread_id=copy["thread_id"])
    again = await client.threads.create(thread_id=copy["thread_id"], if_exists="do_nothing")
    assert again["thread_id"] == copy["thread_id"]


async def test_debug_tasks_and_checkpoints_modes_stream_as_langgraph_does(
    served_sqlite: str,
) -> None:
    client = get_client(url=served_sqlite)
    parts = [
        part
        async for part in client.runs.stream(
            None, "chat", input=QUESTION, stream_mode=["debug", "tasks", "checkpoints"]
        )
    ]
    events = [p.event for p in parts]
    assert events[0] == "metadata" and {"debug", "tasks", "checkpoints"} <= set(events)
    tasks = [p.data for p in parts if p.event == "tasks"]
    assert {t["name"] for t in tasks} >= {"answer"}
    checkpoints = [p.data for p in parts if p.event == "checkpoints"]
    assert checkpoints[-1]["values"]["messages"][-1]["type"] == "ai"


async def test_subgraph_chunks_come_as_mode_and_namespace_and_a_run_can_start_at_a_checkpoint(
    served: str,
) -> None:
    client = get_client(url=served)
    thread = (await client.threads.create())["thread_id"]
    parts = [
        p
        async for p in client.runs.stream(
            thread, "nested", input=QUESTION, stream_mode="updates", stream_subgraphs=True
        )
    ]
    nested = [p.event for p in parts if p.event.startswith("updates|")]
    assert nested and nested[0].startswith("updates|child:")
    assert {"child"} <= {key for p in parts if p.event == "updates" for key in p.data}
    first = await client.threads.get_state(thread)
    assert first["values"]["verdict"] == "inner after 1 messages"
    for _ in range(2):
        await client.runs.wait(thread, "nested", input=QUESTION)
    latest = await client.threads.get_state(thread)
    assert latest["values"]["verdict"] == "inner after 3 messages"
    # time travel: a run from the first run's last checkpoint forks the history there
    await client.runs.wait(thread, "nested", input=QUESTION, checkpoint_id=first["checkpoint_id"])
    forked = await client.threads.get_state(thread)
    assert forked["values"]["verdict"] == "inner after 2 messages"


async def test_after_seconds_holds_the_run_back_until_then(served: str) -> None:
    client = get_client(url=served)
    thread = (await client.threads.create())["thread_id"]
    run = await client.runs.create(thread, "nested", input=QUESTION, after_seconds=1.5)
    await asyncio.sleep(0.5)
    assert (await client.runs.get(thread, run["run_id"]))["status"] == "pending"
    assert (await client.threads.get(thread))["status"] == "busy"
    with pytest.raises(ConflictError):
        await client.threads.delete(thread)  # its run would write after the delete
    await client.runs.join(thread, run["run_id"])
    async with httpx.AsyncClient(base_url=served) as raw:
        stored = (await raw.get(f"/v1/runs/{run['run_id']}")).json()
    started = datetime.fromisoformat(stored["started_at"])
    created = datetime.fromisoformat(stored["created_at"])
    assert stored["status"] == "succeeded" and (started - created).total_seconds() >= 1.5


async def test_a_failed_run_streams_an_error_event_and_ends_in_error(served: str) -> None:
    client = get_client(url=served)
    thread = (await client.threads.create())["thread_id"]
    parts = [
        p
        async for p in client.runs.stream(
            thread, "chat", input=QUESTION, context={"budget_usd": 1e-9}, stream_mode="values"
        )
    ]
    assert parts[-1].event == "error"
    assert parts[-1].data["error"] == "BudgetExceeded" and "budget" in parts[-1].data["message"]
    runs = await client.runs.list(thread, status="error")
    assert len(runs) == 1 and (await client.threads.get(thread))["status"] == "error"


async def test_a_stateless_run_with_on_completion_keep_leaves_a_thread_to_read(
    served_sqlite: str,
) -> None:
    client = get_client(url=served_sqlite)
    result = await client.runs.wait(None, "chat", input=QUESTION, on_completion="keep")
    assert result["messages"][-1]["type"] == "ai"
    threads = await client.threads.search()
    assert len(threads) == 1 and threads[0]["values"]["messages"] == result["messages"]
    async with httpx.AsyncClient(base_url=served_sqlite) as raw:
        strict = await raw.post(
            "/runs/wait", json={"assistant_id": "chat", "input": QUESTION, "strict_resume": True}
        )
    assert strict.status_code == 422 and "strict_resume" in strict.json()["detail"]


async def test_durability_defaults_to_async_as_langgraphs_server_and_exit_keeps_one_checkpoint(
    served_sqlite: str, sqlite_url: str
) -> None:
    client = get_client(url=served_sqlite)
    history: dict[str | None, int] = {}
    for durability in (None, "sync", "exit"):
        thread = (await client.threads.create())["thread_id"]
        asked = {"durability": durability} if durability else {}
        result = await client.runs.wait(thread, "chat", input=QUESTION, **asked)  # type: ignore[arg-type]
        assert result["messages"][-1]["type"] == "ai"
        history[durability] = len(await client.threads.get_history(thread, limit=100))
    # "async" writes every step's checkpoint (while the next step runs), as "sync" does.
    assert history[None] == history["sync"] > history["exit"] >= 1
    with sqlite3.connect(sqlite_path(sqlite_url)) as db:
        rows = db.execute("SELECT lg FROM runs ORDER BY created_at").fetchall()
    assert [json.loads(lg)["durability"] for (lg,) in rows] == ["async", "sync", "exit"]
