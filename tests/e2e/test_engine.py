"""The engine: many runs per worker, pushed wake-ups and SSE, graceful shutdown.

Latencies are read from the runs' own event timestamps; the tests never assert on a
wall-clock duration of their own. Where a push is what is tested, the safety-net polls are
set to a minute, so a run that finishes in seconds proves the push worked.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.db.events_repo import events_after
from app.db.models import ModelCall
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import Services, build_services
from app.settings import Settings
from app.worker.loop import Worker
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.support.processes import Child, service_env, start_api, wait_until
from tests.support.user_graphs import write_config

pytestmark = pytest.mark.slow

MINUTE = 60.0


@pytest.fixture
def slow_simulator() -> AsyncIterator[str]:
    # Catalog latencies x5: one edge call on a short note takes about a second.
    with SimulatorServer(SimulatorConfig(latency_scale=5.0)) as url:
        yield url


async def _events(services: Services, run_id: str) -> list[Any]:
    async with services.sessions() as session:
        return await events_after(session, run_id)


def _gap_ms(events: list[Any], first: str, then: str) -> float:
    at = {e.kind: e.at for e in reversed(events)}
    return (at[then] - at[first]).total_seconds() * 1000


def _note(i: int) -> SubmitRun:
    return SubmitRun(graph="notes", input={"note": f"note number {i} about the offsite"})


async def test_one_worker_runs_forty_slow_runs_at_once(
    database_url: str, slow_simulator: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    settings = Settings(
        database_url=database_url,
        simulator_url=slow_simulator,
        config=config,
        worker_concurrency=40,
        poll_seconds=MINUTE,
    )
    async with build_services(settings) as services:
        stop = asyncio.Event()
        worker = asyncio.create_task(Worker(services).run_forever(stop))
        try:
            alone, _ = await run_service.submit_run(services, _note(-1))
            alone_run = await run_service.wait_for_run(services, alone.id, 60)
            assert alone_run.status == "succeeded", alone_run.error
            assert alone_run.started_at is not None and alone_run.finished_at is not None
            one_run_s = (alone_run.finished_at - alone_run.started_at).total_seconds()

            runs = [(await run_service.submit_run(services, _note(i)))[0] for i in range(40)]
            done = [await run_service.wait_for_run(services, r.id, 120) for r in runs]
        finally:
            stop.set()
            await worker
        assert all(r.status == "succeeded" for r in done), [r.error for r in done]
        first_start = min(r.started_at for r in done if r.started_at)
        last_end = max(r.finished_at for r in done if r.finished_at)
        all_forty_s = (last_end - first_start).total_seconds()
        # 40 runs one after the other would take 40x one run; at once, a small multiple.
        assert all_forty_s < 5 * one_run_s, (all_forty_s, one_run_s)
        async with services.sessions() as session:
            calls = list(
                (
                    await session.execute(
                        select(ModelCall).where(ModelCall.run_id.in_([r.id for r in done]))
                    )
                ).scalars()
            )
    intervals = [(c.created_at, c.completed_at) for c in calls if c.completed_at]
    peak = max(sum(1 for s, e in intervals if s <= start < e) for start, _ in intervals)
    assert peak >= 20, f"at most {peak} model calls were in flight at once"


async def test_a_queued_run_wakes_an_idle_worker_in_process(
    database_url: str, slow_simulator: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=database_url,
        simulator_url=slow_simulator,
        config=write_config(tmp_path),
        poll_seconds=MINUTE,  # only the wake-up can start the run in time
        push_safety_poll_seconds=MINUTE,
    )
    async with build_services(settings) as services:
        stop = asyncio.Event()
        worker = asyncio.create_task(Worker(services).run_forever(stop))
        try:
            await asyncio.sleep(0.5)  # idle
            gaps = []
            for i in range(3):
                run, _ = await run_service.submit_run(services, _note(i))
                finished = await run_service.wait_for_run(services, run.id, 30)
                assert finished.status == "succeeded"
                gaps.append(_gap_ms(await _events(services, run.id), "queued", "started"))
        finally:
            stop.set()
            await worker
    assert max(gaps) < 1000, gaps  # the poll would have taken a minute


async def test_sse_pushes_each_event_as_it_commits(
    database_url: str, slow_simulator: str, tmp_path: Path
) -> None:
    from app.api.app import create_app
    from tests.support.live_server import LiveServer

    settings = Settings(
        database_url=database_url,
        simulator_url=slow_simulator,
        config=write_config(tmp_path),
        poll_seconds=MINUTE,
        push_safety_poll_seconds=MINUTE,
    )
    app = create_app(settings, embedded_worker=True)
    with LiveServer(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            run = (await client.post("/v1/runs", json=_note(0).model_dump())).json()
            received: list[tuple[dict[str, Any], datetime]] = []
            async with client.stream("GET", f"/v1/runs/{run['id']}/events") as stream:
                async for line in stream.aiter_lines():
                    if line.startswith("data:"):
                        event = json.loads(line[5:])
                        received.append((event, datetime.now().astimezone()))
                        if event["kind"] == "succeeded":
                            break
    kinds = [event["kind"] for event, _ in received]
    assert kinds[0] == "queued" and kinds[-1] == "succeeded" and "model_call" in kinds
    # Each event reached the client soon after its commit, not at the next poll.
    lags = [(seen - datetime.fromisoformat(e["at"])).total_seconds() for e, seen in received]
    assert max(lags) < 5.0, lags


@pytest.mark.postgres
async def test_listen_notify_wakes_a_worker_process_and_pushes_sse_across_processes(
    postgres_url: str, slow_simulator: str, tmp_path: Path
) -> None:
    env = service_env(
        postgres_url,
        slow_simulator,
        config=write_config(tmp_path),
        poll_seconds=MINUTE,
        push_safety_poll_seconds=MINUTE,
    )
    api, base_url = start_api(env, tmp_path / "api.log", worker=False)
    worker = Child(["worker"], env, tmp_path / "worker.log")
    try:

        async def worker_ready() -> bool:
            assert worker.alive(), worker.tail()
            log = worker.tail(100_000)
            return "listening for run notifications" in log and "runs at once)" in log

        await wait_until(worker_ready, 90, "the worker process to LISTEN and start claiming")
        async with httpx.AsyncClient(base_url=base_url, timeout=45) as client:
            gaps = []
            for i in range(3):
                run = (await client.post("/v1/runs", json=_note(i).model_dump())).json()
                events = []
                async with client.stream("GET", f"/v1/runs/{run['id']}/events") as stream:
                    async for line in stream.aiter_lines():
                        if line.startswith("data:"):
                            events.append(json.loads(line[5:]))
                            if events[-1]["kind"] == "succeeded":
                                break
                at = {e["kind"]: datetime.fromisoformat(e["at"]) for e in events}
                gaps.append((at["started"] - at["queued"]).total_seconds() * 1000)
                assert events[-1]["kind"] == "succeeded"
    finally:
        worker.stop()
        api.stop()
    assert max(gaps) < 1000, (gaps, worker.tail())


async def test_graceful_shutdown_hands_runs_back_at_a_checkpoint(
    database_url: str, slow_simulator: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    env = service_env(database_url, slow_simulator, config=config, lease_seconds=30)
    settings = Settings(database_url=database_url, simulator_url=slow_simulator, config=config)
    async with build_services(settings) as services:
        runs = [(await run_service.submit_run(services, _note(i)))[0] for i in range(5)]
        first = Child(["worker"], env, tmp_path / "first.log")

        async def all_running() -> bool:
            states = [await run_service.get_run(services, r.id) for r in runs]
            return all(s.status == "running" for s in states)

        await wait_until(all_running, 60, "the first worker to claim every run")
        first.signal(signal.SIGTERM)
        assert first.process.wait(timeout=60) == 0, first.tail()
        released = []
        for run in runs:
            kinds = [e.kind for e in await _events(services, run.id)]
            current = await run_service.get_run(services, run.id)
            assert current.status in ("running", "succeeded"), current.error
            if current.status == "running":
                assert kinds[-1] == "released" and current.lease_owner is None
                released.append(run.id)
        assert released, "SIGTERM came while every run was still mid-call: none to hand back"

        second = Child(["worker"], env, tmp_path / "second.log")
        try:
            for run in runs:
                finished = await run_service.wait_for_run(services, run.id, 60)
                assert finished.status == "succeeded", finished.error
        finally:
            second.stop()
        for run_id in released:
            kinds = [e.kind for e in await _events(services, run_id)]
            assert kinds.index("released") < kinds.index("resumed") < kinds.index("succeeded")
        async with services.sessions() as session:
            calls = list((await session.execute(select(ModelCall))).scalars())
    paid = Counter(c.call_key for c in calls if c.status == "ok")
    assert all(n == 1 for n in paid.values()), paid
