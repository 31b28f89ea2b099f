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
from tests.support.databases import fresh_pg_database
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
        # Both workers start with the API (their start-ups overlap); whichever pauses the
        # run is killed, and the other must resume it.
        workers = [Child(["worker"], env, tmp_path / f"worker-{n}.log") for n in (1, 2)]
        api, base_url = start_api(env, tmp_path / "api.log", worker=False)
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
            runs = await client.runs.list(thread["thread_id"])
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as raw:
                timeline = (await raw.get(f"/v1/runs/{runs[0]['run_id']}/timeline")).json()
            started = next(e for e in timeline["lifecycle"] if e["kind"] == "started")
            pid = int(started["payload"]["worker"].split(":")[1])
            pausing = next(w for w in workers if w.pid == pid)
            pausing.signal(signal.SIGKILL)
            pausing.process.wait(timeout=10)
            second = next(w for w in workers if w is not pausing)

            async with httpx.AsyncClient(base_url=base_url, timeout=30) as raw:
                waiting = (await raw.get(f"/v1/threads/{thread['thread_id']}/interrupts")).json()
                assert waiting["tasks"][0]["node"] == "review"
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
                after = (await raw.get(f"/v1/runs/{run['id']}/timeline")).json()
            resumed_by = next(e for e in after["lifecycle"] if e["kind"] == "started")
            assert int(resumed_by["payload"]["worker"].split(":")[1]) == second.pid
            state = await client.threads.get_state(thread["thread_id"])
            assert state["values"]["notes"] == ["draft", "review", "finish:ship it"]
            assert len(await simulator.requests()) == paid  # the draft was not paid again
            assert "interrupted" in [e["kind"] for e in timeline["lifecycle"]]
        finally:
            for child in (*workers, api):
                child.stop()
            await simulator.close()
