"""Token streaming over the LangGraph API, and LangGraph API runs seen through `/v1`:
`messages-tuple` chunks come from the gateway's streamed call while the run is still
running; the run has a timeline and replays at $0."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from app.api.app import create_app
from app.settings import Settings
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.support.lg_graphs import write_lg_config
from tests.support.live_server import LiveServer

STORY = {"messages": [{"role": "user", "content": "Tell a long story about a lighthouse."}]}


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[str]:
    # A simulator that takes its time per token, so a run outlives its first tokens.
    with SimulatorServer(SimulatorConfig(latency_scale=3.0)) as simulator_url:
        settings = Settings(
            database_url=database_url,
            simulator_url=simulator_url,
            config=write_lg_config(tmp_path),
        )
        with LiveServer(create_app(settings, embedded_worker=True)) as base_url:
            yield base_url


async def test_token_chunks_arrive_while_the_run_is_still_running(served: str) -> None:
    client = get_client(url=served)
    thread = await client.threads.create()
    tokens: list[str] = []
    status_at_first_token = None
    run_id = ""
    async for part in client.runs.stream(
        thread["thread_id"], "chat", input=STORY, stream_mode="messages-tuple"
    ):
        if part.event == "metadata":
            run_id = part.data["run_id"]
        if part.event == "messages":
            chunk, metadata = part.data
            assert metadata["langgraph_node"] == "answer"
            if chunk["content"] and status_at_first_token is None:
                run = await client.runs.get(thread["thread_id"], run_id)
                status_at_first_token = run["status"]
            tokens.append(chunk["content"])
    assert status_at_first_token == "running"
    assert len([t for t in tokens if t]) >= 3  # chunk by chunk, not one message
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][-1]["content"] == "".join(tokens)

    async with httpx.AsyncClient(base_url=served) as raw:
        timeline = (await raw.get(f"/v1/runs/{run_id}/timeline")).json()
        calls = (await raw.get(f"/v1/runs/{run_id}/calls")).json()
        replay = await raw.post(
            f"/v1/runs/{run_id}/replay", params={"wait": "true"}, json={}, timeout=60
        )
    assert [n for s in timeline["steps"] for n in s["nodes"]] == ["__start__", "answer"]
    assert len(calls) == 1 and calls[0]["cost_usd"] > 0
    replayed = replay.json()
    assert replayed["status"] == "succeeded", replayed
    assert replayed["replay"]["reproduced"] is True and replayed["cost_usd"] == 0


async def _running(client: LangGraphClient, thread_id: str, run_id: str) -> None:
    for _ in range(200):
        if (await client.runs.get(thread_id, run_id))["status"] == "running":
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the first run never started")


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_interrupt_keeps_the_cancelled_runs_input_and_rollback_drops_it(
    served: str, strategy: Literal["interrupt", "rollback"]
) -> None:
    client = get_client(url=served)
    thread = (await client.threads.create())["thread_id"]
    first = await client.runs.create(thread, "chat", input=STORY)
    await _running(client, thread, first["run_id"])
    second = await client.runs.create(
        thread,
        "chat",
        input={"messages": [{"role": "user", "content": "Short one."}]},
        multitask_strategy=strategy,
    )
    await client.runs.join(thread, second["run_id"])
    assert (await client.runs.get(thread, first["run_id"]))["status"] == "interrupted"
    messages = (await client.threads.get_state(thread))["values"]["messages"]
    said = [m["content"] for m in messages if m["type"] == "human"]
    expected = (
        ["Short one."]
        if strategy == "rollback"
        else [STORY["messages"][0]["content"], "Short one."]
    )
    assert said == expected


async def test_on_disconnect_cancel_stops_the_run_when_the_client_goes_away(served: str) -> None:
    client = get_client(url=served)
    thread = (await client.threads.create())["thread_id"]
    body = {"assistant_id": "chat", "input": STORY, "on_disconnect": "cancel"}
    async with (
        httpx.AsyncClient(base_url=served, timeout=30) as raw,
        raw.stream("POST", f"/threads/{thread}/runs/stream", json=body) as response,
    ):
        assert response.status_code == 200
        location = response.headers["content-location"]
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                break  # the metadata event: the run exists; now hang up
    run_id = location.rsplit("/", 1)[1]
    for _ in range(200):
        if (await client.runs.get(thread, run_id))["status"] == "interrupted":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the run went on after its client disconnected")
