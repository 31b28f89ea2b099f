"""Runs queued in a process with a worker are claimed as they are queued, and a worker that
claims only when something may wait still starts a run its thread's run was holding back.

The worker's safety poll is set far beyond the tests' time, so every start here comes from
the queueing transaction's own claim or from a wake-up (Postgres: the `unblocked` NOTIFY
of migration 0019, from this process's own write; SQLite: a claim after each run ends)."""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from app.api.app import create_app
from app.settings import Settings
from tests.support.live_server import LiveServer
from tests.support.simulator_admin import SimulatorAdmin

# `hold` waits (without blocking the loop) until the file its input names exists.
HOLD_GRAPH = """
import asyncio
from pathlib import Path
from typing import Annotated, TypedDict
import operator

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    gate: str
    notes: Annotated[list[str], operator.add]


async def hold(state: State) -> dict:
    while not Path(state["gate"]).exists():
        await asyncio.sleep(0.02)
    return {"notes": ["held"]}


def make_graph():
    builder = StateGraph(State)
    builder.add_node("hold", hold)
    builder.add_edge(START, "hold")
    builder.add_edge("hold", END)
    return builder.compile()
"""
FAR = 600.0  # no periodic claim falls inside a test


@pytest.fixture
def served(database_url: str, simulator: SimulatorAdmin, tmp_path: Path) -> Iterator[str]:
    (tmp_path / "hold.py").write_text(textwrap.dedent(HOLD_GRAPH))
    config = tmp_path / "langgraph.json"
    config.write_text(
        json.dumps({"dependencies": ["."], "graphs": {"hold": "./hold.py:make_graph"}})
    )
    settings = Settings(
        database_url=database_url,
        simulator_url=simulator.base_url,
        config=str(config),
        poll_seconds=FAR,
        push_safety_poll_seconds=FAR,
        worker_concurrency=2,
    )
    with LiveServer(create_app(settings, embedded_worker=True)) as base_url:
        yield base_url


async def timeline_kinds(base_url: str, run_id: str) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url) as http:
        timeline = (await http.get(f"/v1/runs/{run_id}/timeline")).json()
    return [event["kind"] for event in timeline["lifecycle"]]


async def test_a_run_is_started_by_the_transaction_that_queues_it(
    served: str, tmp_path: Path
) -> None:
    client = get_client(url=served)
    gate = tmp_path / "open"
    gate.touch()
    thread = await client.threads.create()
    result = await asyncio.wait_for(
        client.runs.wait(thread["thread_id"], "hold", input={"gate": str(gate)}), 20
    )
    assert result["notes"] == ["held"]
    run = (await client.runs.list(thread["thread_id"]))[0]
    kinds = await timeline_kinds(served, run["run_id"])
    assert kinds[:2] == ["queued", "started"] and kinds[-1] == "succeeded"


async def test_a_run_held_back_by_its_threads_run_starts_when_that_one_ends(
    served: str, tmp_path: Path
) -> None:
    client = get_client(url=served)
    gate = tmp_path / "open"
    thread = await client.threads.create()
    first = await client.runs.create(thread["thread_id"], "hold", input={"gate": str(gate)})
    second = await client.runs.create(
        thread["thread_id"], "hold", input={"gate": str(gate)}, multitask_strategy="enqueue"
    )
    # A free slot, but the thread is busy: the second waits, queued.
    assert (await client.runs.get(thread["thread_id"], second["run_id"]))["status"] == "pending"
    assert (await client.runs.get(thread["thread_id"], first["run_id"]))["status"] == "running"
    gate.touch()
    result = await asyncio.wait_for(client.runs.join(thread["thread_id"], second["run_id"]), 20)
    assert result["notes"] == ["held", "held"]  # after the first, on its writes


async def test_runs_beyond_the_free_slots_wait_queued_and_all_run(
    served: str, tmp_path: Path
) -> None:
    """Two slots, three runs on three threads: the third finds no slot to be claimed into
    when it is queued, and starts when a slot frees."""
    client = get_client(url=served)
    gate = tmp_path / "open"
    threads = [await client.threads.create() for _ in range(3)]
    runs = [
        await client.runs.create(t["thread_id"], "hold", input={"gate": str(gate)}) for t in threads
    ]
    statuses = [
        (await client.runs.get(t["thread_id"], r["run_id"]))["status"]
        for t, r in zip(threads, runs, strict=True)
    ]
    assert statuses == ["running", "running", "pending"]
    gate.touch()
    for t, r in zip(threads, runs, strict=True):
        result = await asyncio.wait_for(client.runs.join(t["thread_id"], r["run_id"]), 20)
        assert result["notes"] == ["held"]
