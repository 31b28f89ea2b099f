"""A worker killed with SIGKILL while a model call is in flight: the run's timeline shows the
attempt that was lost with it and the same call made again by the worker that resumed it."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.models import ModelCall
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import build_services
from app.services.timeline import run_timeline
from app.settings import Settings
from devtools.demo import DEFAULT_QUESTION
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.support.processes import Child, service_env

pytestmark = pytest.mark.slow


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """Postgres, the engine of many workers (the SQLite saver under a killed worker is
    tested in test_worker_crash)."""
    return postgres_url


async def test_timeline_of_a_resumed_run_shows_the_call_made_again(
    database_url: str, tmp_path: Path
) -> None:
    # Catalog latencies (0.2-1 s a call) leave time to kill the worker mid-call.
    with SimulatorServer(SimulatorConfig(latency_scale=1.0)) as simulator_url:
        env = service_env(database_url, simulator_url, lease_seconds=3, poll_seconds=0.2)
        settings = Settings(database_url=database_url, simulator_url=simulator_url)
        log = tmp_path / "workers.log"
        async with build_services(settings) as services:
            body = SubmitRun(graph="plan_execute", input={"question": DEFAULT_QUESTION})
            run, _ = await run_service.submit_run(services, body)

            async def in_flight() -> ModelCall | None:
                async with services.sessions() as session:
                    query = select(ModelCall).where(
                        ModelCall.run_id == run.id,
                        ModelCall.node == "execute",
                        ModelCall.status == "in_flight",
                    )
                    return (await session.execute(query)).scalars().first()

            first = Child(["worker"], env, log)
            try:
                deadline = time.monotonic() + 120
                while (killed := await in_flight()) is None:
                    assert time.monotonic() < deadline and first.alive(), first.tail()
                    await asyncio.sleep(0.02)
                first.signal(signal.SIGKILL)
            finally:
                first.stop(timeout=10)

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

            timeline = await run_timeline(services, run.id, "default")

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
