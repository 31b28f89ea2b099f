"""Human in the loop across processes: a run pauses at `interrupt()` on one worker, that
worker is SIGKILLed, and the resume (through `langgraph_sdk`, then through `/v1`) runs on
another worker; the model call made before the pause is paid exactly once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
from langgraph_sdk import get_client

from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.conftest import fresh_pg_database
from tests.support.lg_graphs import write_lg_config
from tests.support.processes import Child, service_env, start_api
from tests.support.simulator_admin import SimulatorAdmin

QUESTION = {"messages": [{"role": "user", "content": "Draft a haiku about tides."}]}


async def test_resume_after_the_pausing_worker_was_killed_pays_nothing_twice(
    tmp_path: Path,
) -> None:
    with fresh_pg_database() as database_url, SimulatorServer(SimulatorConfig()) as sim_url:
        env = service_env(
            database_url,
            sim_url,
            config=write_lg_config(tmp_path),
            lease_seconds=3,
            poll_seconds=0.2,
        )
        api, base_url = start_api(env, tmp_path / "api.log", worker=False)
        first = Child(["worker"], env, tmp_path / "worker-1.log")
        second = None
        simulator = SimulatorAdmin(sim_url)
        try:
            client = get_client(url=base_url)
            thread = await client.threads.create()
            paused = await asyncio.wait_for(
                client.runs.wait(thread["thread_id"], "review", input=QUESTION), 90
            )
            assert paused["__interrupt__"], paused
            paid = len(await simulator.requests())
            assert paid == 1
            first.signal(signal.SIGKILL)
            first.process.wait(timeout=10)
            second = Child(["worker"], env, tmp_path / "worker-2.log")

            async with httpx.AsyncClient(base_url=base_url, timeout=30) as raw:
                waiting = (await raw.get(f"/v1/threads/{thread['thread_id']}/interrupts")).json()
                assert waiting["tasks"][0]["node"] == "review"
                runs = await client.runs.list(thread["thread_id"])
                resumed = await raw.post(
                    f"/v1/runs/{runs[0]['run_id']}/resume", json={"resume": "ship it"}
                )
                assert resumed.status_code == 202, resumed.text
                run = resumed.json()
                done = run
                for _ in range(600):
                    done = (await raw.get(f"/v1/runs/{run['id']}")).json()
                    if done["status"] not in ("queued", "running"):
                        break
                    await asyncio.sleep(0.1)
                assert done["status"] == "succeeded", (done, second.tail())
                timeline = (await raw.get(f"/v1/runs/{runs[0]['run_id']}/timeline")).json()
            state = await client.threads.get_state(thread["thread_id"])
            assert state["values"]["notes"] == ["draft", "review", "finish:ship it"]
            assert len(await simulator.requests()) == paid  # the draft was not paid again
            assert "interrupted" in [e["kind"] for e in timeline["lifecycle"]]
        finally:
            for child in (first, second, api):
                if child is not None:
                    child.stop()
            await simulator.close()
