"""A worker stalled past its lease (SIGSTOP, then SIGCONT) while another worker takes the
run over: the stalled one wakes up, finds its lease gone and stops. It sends the provider
no further request, the run does not fail, and no event follows the run's terminal event.
Postgres, two `routegraph worker` processes, the real simulator."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.events_repo import events_after
from app.db.models import ModelCall
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import Services, build_services
from app.settings import Settings
from devtools.demo import DEFAULT_QUESTION
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.support.processes import Child, service_env, wait_until
from tests.support.simulator_admin import SimulatorAdmin

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LEASE_S = 3
STALL_S = 2 * LEASE_S


async def _calls(services: Services, run_id: str) -> list[ModelCall]:
    async with services.sessions() as session:
        query = select(ModelCall).where(ModelCall.run_id == run_id)
        return list((await session.execute(query)).scalars())


async def test_a_stalled_worker_wakes_up_and_stops_without_calling_a_provider(
    postgres_url: str, tmp_path: Path
) -> None:
    # Catalog latencies (0.2-1 s a call): the stall lands while a call is in flight.
    with SimulatorServer(SimulatorConfig(latency_scale=1.0)) as simulator_url:
        env = service_env(postgres_url, simulator_url, lease_seconds=LEASE_S, poll_seconds=0.2)
        settings = Settings(database_url=postgres_url, simulator_url=simulator_url)
        admin = SimulatorAdmin(simulator_url)
        async with build_services(settings) as services:
            body = SubmitRun(graph="plan_execute", input={"question": DEFAULT_QUESTION})
            run, _ = await run_service.submit_run(services, body)
            stalled = Child(["worker"], env, tmp_path / "stalled.log")
            taker: Child | None = None
            try:

                async def mid_call_after_a_step() -> bool:
                    calls = await _calls(services, run.id)
                    done = sum(1 for c in calls if c.node == "execute" and c.status == "ok")
                    return done >= 1 and any(c.status == "in_flight" for c in calls)

                await wait_until(mid_call_after_a_step, 90, "the first worker mid-call", 0.02)
                stalled.signal(signal.SIGSTOP)
                stopped_at = time.monotonic()
                taker = Child(["worker"], env, tmp_path / "taker.log")
                await asyncio.sleep(max(0.0, STALL_S - (time.monotonic() - stopped_at)))
                stalled.signal(signal.SIGCONT)
                woke_at = datetime.now(UTC)

                async def ended() -> bool:
                    current = await run_service.get_run(services, run.id)
                    return current.status not in ("queued", "running")

                await wait_until(ended, 90, "the run to end")
                await asyncio.sleep(2 * LEASE_S)  # time for the woken worker to misbehave
                final = await run_service.get_run(services, run.id)
                calls = await _calls(services, run.id)
                async with services.sessions() as session:
                    events = await events_after(session, run.id)
                received = await admin.requests()
            finally:
                stalled.signal(signal.SIGCONT)
                stalled.stop()
                if taker is not None:
                    taker.stop()
                await admin.close()

    logs = stalled.tail() + taker.tail()
    assert final.status == "succeeded", (final.error, logs)
    assert final.epoch >= 2  # the run was taken over
    assert final.output is not None and "Final answer: 865" in final.output["answer"]
    # Every request the provider received is a ledger row, and the stalled worker's epoch
    # made no request after it woke: its rows all began before the stall.
    assert len(received) == len(calls), (len(received), [(c.model, c.status) for c in calls])
    first_epoch = min(c.epoch or 0 for c in calls)
    stalled_rows = [c for c in calls if c.epoch == first_epoch]
    assert all(c.created_at < woke_at for c in stalled_rows)
    assert any(c.epoch != first_epoch and c.status == "ok" for c in calls)
    assert all(c.status in ("ok", "lost", "error", "invalid_output") for c in stalled_rows)
    kinds = [e.kind for e in events]
    assert kinds[-1] == "succeeded" and kinds.count("succeeded") == 1, kinds
    assert "node_failed" not in kinds, kinds
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert "lease" in stalled.tail(20_000).lower(), stalled.tail()
