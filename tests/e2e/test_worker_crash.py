"""A worker killed with SIGKILL mid-run, while a model call is in flight: the next worker
resumes from the checkpoint, pays for no model call that is already in the ledger, makes
the lost call again, and the run's timeline shows the attempt lost with the worker and
the same call made again."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.db.events_repo import events_after
from app.db.models import ModelCall, Run
from app.schemas.runs import SubmitRun
from app.schemas.timeline import TimelineOut
from app.services import runs as run_service
from app.services.container import Services, build_services
from app.services.timeline import run_timeline
from app.settings import Settings
from devtools.demo import DEFAULT_QUESTION
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.support.processes import Child, service_env
from tests.support.simulator_admin import SimulatorAdmin

pytestmark = pytest.mark.slow

# The demo question: three priced items, a total, a split (5 plan steps).
QUESTION = DEFAULT_QUESTION


def request_signature(model: str, messages: list[dict[str, Any]]) -> str:
    """LiteLLM drops `content: null` from tool-call messages on the wire: compare without."""
    cleaned = [{k: v for k, v in m.items() if v is not None} for m in messages]
    return model + json.dumps(cleaned, sort_keys=True)


async def _calls(services: Services, run_id: str) -> list[ModelCall]:
    async with services.sessions() as session:
        query = select(ModelCall).where(ModelCall.run_id == run_id)
        return list((await session.execute(query)).scalars())


async def _finished_executes(services: Services, run_id: str) -> int:
    async with services.sessions() as session:
        events = await events_after(session, run_id)
    return sum(1 for e in events if e.kind == "node_finished" and e.node == "execute")


async def test_killed_worker_run_resumes_without_paying_twice(
    database_url: str, tmp_path: Path
) -> None:
    # Catalog latencies (0.2-1 s a call) leave time to kill the worker mid-call.
    with SimulatorServer(SimulatorConfig(latency_scale=1.0)) as simulator_url:
        settings = Settings(database_url=database_url, simulator_url=simulator_url)
        env = service_env(database_url, simulator_url, lease_seconds=3, poll_seconds=0.2)
        log = tmp_path / "workers.log"
        async with build_services(settings) as services:
            body = SubmitRun(graph="plan_execute", input={"question": QUESTION})
            run, _ = await run_service.submit_run(services, body)

            # Kill once two steps are paid for and the next one's call is on the wire.
            first = Child(["worker"], env, log)
            try:
                deadline = time.monotonic() + 120
                while True:
                    assert time.monotonic() < deadline and first.alive(), first.tail()
                    if await _finished_executes(services, run.id) >= 2:
                        in_flight = [
                            c
                            for c in await _calls(services, run.id)
                            if c.node == "execute" and c.status == "in_flight"
                        ]
                        if in_flight:
                            killed = in_flight[0]
                            break
                    await asyncio.sleep(0.02)
                first.signal(signal.SIGKILL)
            finally:
                first.stop(timeout=10)

            paid_before = [c for c in await _calls(services, run.id) if c.status == "ok"]
            async with services.sessions() as session:
                crashed = await session.get(Run, run.id)
                assert crashed is not None and crashed.status == "running"
            assert len(paid_before) >= 3  # the plan and at least two steps were paid for

            second = Child(["worker"], env, log)
            try:
                deadline = time.monotonic() + 120
                while (current := await run_service.get_run(services, run.id)).status in (
                    "queued",
                    "running",
                ):
                    assert time.monotonic() < deadline, second.tail()
                    await asyncio.sleep(0.1)
            finally:
                second.stop()

            assert current.status == "succeeded", current.error
            assert current.epoch == 2
            assert current.output is not None
            assert "Final answer: 865" in current.output["answer"]
            async with services.sessions() as session:
                events = await events_after(session, run.id)
            all_calls = await _calls(services, run.id)
            timeline = await run_timeline(services, run.id, "default")
            kinds = [(e.kind, e.node) for e in events]
            assert kinds.count(("resumed", None)) == 1
            assert kinds.count(("node_started", "plan")) == 1  # the plan was not redone
        admin = SimulatorAdmin(simulator_url)
        received = Counter(
            request_signature(r["model"], r["messages"]) for r in await admin.requests()
        )
        await admin.close()

    # Ledger: one paid answer per logical call; the calls paid before the crash reached
    # the provider exactly once in total (the new worker took them from the ledger).
    ok_keys = Counter(c.call_key for c in all_calls if c.status == "ok")
    assert all(count == 1 for count in ok_keys.values()), ok_keys
    assert len(ok_keys) == 7  # plan + 5 steps + synthesis
    for call in paid_before:
        assert received[request_signature(call.model, call.request["messages"])] == 1
    assert_timeline_shows_the_call_made_again(timeline, killed)


def assert_timeline_shows_the_call_made_again(timeline: TimelineOut, killed: ModelCall) -> None:
    assert [e["kind"] for e in timeline.lifecycle].count("resumed") == 1
    assert timeline.totals.lost_attempts == 1
    tasks = [task for step in timeline.steps for task in step.tasks]
    (task,) = [
        t for t in tasks if any(c.key.endswith(killed.call_key.split(":", 1)[1]) for c in t.calls)
    ]
    assert task.node == "execute" and task.executions == 2 and task.status == "succeeded"
    (call,) = task.calls
    assert call.status == "ok" and [a.status for a in call.attempts] == ["lost", "ok"]
    lost, again = call.attempts
    assert lost.id == killed.id and (lost.epoch, again.epoch) == (1, 2)
    assert again.retry_of == lost.id
    assert any("in flight when its worker stopped" in note for note in call.notes)
    assert any("made again by epoch 2" in note for note in call.notes)
