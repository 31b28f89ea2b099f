"""Token chunks across processes: `routegraph serve` without a worker streams a run that a
separate `routegraph worker` executes (Postgres). The chunks come through NOTIFY before
they are written, and a join stream resumed after an unwritten chunk gets every later
chunk once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client

from app.db.migrate import upgrade_database
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.support.lg_graphs import write_lg_config
from tests.support.processes import Child, service_env, start_api
from tests.support.stream_rig import STORY, written_ids

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


async def test_a_worker_processs_chunks_reach_the_api_processs_client_before_they_are_written(
    postgres_url: str, tmp_path: Path
) -> None:
    upgrade_database(postgres_url)
    with SimulatorServer(SimulatorConfig(latency_scale=3.0)) as simulator_url:
        env = service_env(
            postgres_url,
            simulator_url,
            config=write_lg_config(tmp_path),
            event_flush_seconds=60,  # chunks are written with the ledger row, at the end
        )
        api, root = start_api(env, tmp_path / "api.log", worker=False)
        worker = Child(["worker"], env, tmp_path / "worker.log")
        try:
            client = get_client(url=root, timeout=60)
            thread = (await client.threads.create())["thread_id"]
            run_id = ""
            seen: list[tuple[str, Any]] = []
            unwritten = 0
            async for part in client.runs.stream(
                thread, "chat", input=STORY, stream_mode="messages-tuple"
            ):
                if part.event == "metadata":
                    run_id = part.data["run_id"]
                if part.event == "messages" and part.data[0]["content"]:
                    seen.append((part.id, part.data))
                    if part.id not in await written_ids(postgres_url, run_id):
                        unwritten += 1
                    if len(seen) == 3:
                        break  # hang up mid-call
            assert unwritten == 3, api.tail() + worker.tail()
            resumed = [
                (part.id, part.data)
                async for part in client.runs.join_stream(
                    thread, run_id, stream_mode="messages-tuple", last_event_id=seen[-1][0]
                )
                if part.event == "messages"
            ]
            whole = [
                (part.id, part.data)
                async for part in client.runs.join_stream(
                    thread, run_id, stream_mode="messages-tuple"
                )
                if part.event == "messages"
            ]
            ids = [stream_id for stream_id, _ in whole]
            cut = ids.index(seen[-1][0]) + 1
            assert [s for s in whole[:cut] if s[1][0]["content"]] == seen
            assert resumed == whole[cut:]
            state = await client.threads.get_state(thread)
            said = "".join(data[0]["content"] for _, data in whole)
            assert said == state["values"]["messages"][-1]["content"]
        finally:
            worker.stop()
            api.stop()
