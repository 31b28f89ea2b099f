"""A run that kills every worker that runs it (a poison pill) ends `failed`, blamed after a
bounded number of crashes while it ran alone; the runs that shared its workers all
succeed, however often they lost their worker to it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.support.processes import Child, service_env, start_api
from tests.support.user_graphs import write_config

# Postgres, the engine of many workers; the claim rules themselves are tested on both
# databases (tests/integration/test_claim_blame.py).
pytestmark = [pytest.mark.slow, pytest.mark.postgres]

POISON = '''
"""Sleeps a little; with x == "poison" it then kills the process that runs it."""
import asyncio
import operator
import os
import signal
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    x: str
    log: Annotated[list[str], operator.add]


async def work(state: State) -> State:
    await asyncio.sleep(0.4)
    if state["x"] == "poison":
        os.kill(os.getpid(), signal.SIGKILL)
    return {"log": ["worked"]}


def make_graph():
    builder = StateGraph(State)
    builder.add_node("work", work)
    builder.add_edge(START, "work")
    builder.add_edge("work", END)
    return builder.compile()
'''

BYSTANDERS = 5
MAX_CRASHES = 2
SOLO_AFTER = 1


def test_a_poison_pill_is_failed_and_its_bystanders_succeed(
    postgres_url: str, tmp_path: Path
) -> None:
    database_url = postgres_url
    config = write_config(tmp_path, POISON)
    with SimulatorServer(SimulatorConfig()) as simulator_url:
        env = service_env(
            database_url,
            simulator_url,
            config=config,
            lease_seconds=1,
            poll_seconds=0.2,
            max_run_crashes=MAX_CRASHES,
            solo_after_recoveries=SOLO_AFTER,
        )
        api, base_url = start_api(env, tmp_path / "api.log", worker=False)
        workers: list[Child] = []
        try:
            with httpx.Client(base_url=base_url, timeout=30) as client:
                ids = [
                    client.post("/v1/runs", json={"graph": "notes", "input": {"x": x}}).json()["id"]
                    for x in ["poison"] + [f"ok-{i}" for i in range(BYSTANDERS)]
                ]
                # A process manager: one worker at a time, restarted whenever it dies.
                deadline = time.monotonic() + 150
                runs: list[dict[str, object]] = []
                while time.monotonic() < deadline:
                    if not workers or not workers[-1].alive():
                        workers.append(Child(["worker"], env, tmp_path / "worker.log"))
                    runs = [client.get(f"/v1/runs/{run_id}").json() for run_id in ids]
                    if all(run["status"] not in ("queued", "running") for run in runs):
                        break
                    time.sleep(0.2)
        finally:
            for worker in workers:
                worker.stop()
            api.stop()
        log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        pill, *bystanders = runs
        assert pill["status"] == "failed", (pill, log)
        assert f"crashed its worker {MAX_CRASHES} times while running alone" in str(pill["error"])
        assert [run["status"] for run in bystanders] == ["succeeded"] * BYSTANDERS, log
        # One death it shared with the others, then two while it ran alone.
        killed = [worker for worker in workers if worker.process.returncode == -9]
        assert len(killed) == SOLO_AFTER + MAX_CRASHES, log
