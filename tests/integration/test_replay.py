"""Replay: a run re-executed from its ledger, on SQLite and Postgres, with the real worker,
graph, checkpointer and simulator (whose request log proves no provider was called)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from app.db.models import ModelCall, Run
from app.demo import DEFAULT_QUESTION
from app.schemas.replay import ReplayRequest
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import Services, build_services
from app.services.replays import submit_replay
from app.settings import Settings
from app.worker.loop import Worker
from tests.support.simulator_admin import SimulatorAdmin


@pytest.fixture
async def services(database_url: str, simulator: SimulatorAdmin) -> AsyncIterator[Services]:
    settings = Settings(database_url=database_url, simulator_url=simulator.base_url)
    async with build_services(settings) as built:
        yield built


async def run_to_end(services: Services, body: SubmitRun) -> Run:
    run, _ = await run_service.submit_run(services, body)
    await Worker(services).run_once()
    return await run_service.get_run(services, run.id)


async def execute(services: Services, run: Run) -> Run:
    await Worker(services).run_once()
    return await run_service.get_run(services, run.id)


async def ledger(services: Services, run_id: str) -> list[ModelCall]:
    async with services.sessions() as session:
        query = select(ModelCall).where(ModelCall.run_id == run_id).order_by(ModelCall.created_at)
        return list((await session.execute(query)).scalars())


async def test_replay_of_a_run_with_a_fallback_reproduces_it_at_no_cost(
    services: Services, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("frontier-a", "server_error", times=1)
    source = await run_to_end(
        services, SubmitRun(graph="plan_execute", input={"question": DEFAULT_QUESTION})
    )
    assert source.status == "succeeded"
    source_calls = await ledger(services, source.id)
    assert [c.status for c in source_calls if c.node == "plan"] == ["error", "ok"]
    await simulator.reset()

    replay = await submit_replay(services, source.id, ReplayRequest(), "default")
    replay = await execute(services, replay)

    assert replay.status == "succeeded", replay.error
    assert replay.output == source.output
    assert replay.replay_of == source.id and replay.thread_id != source.thread_id
    assert replay.cost_usd == 0
    assert await simulator.requests() == []  # no provider was called
    calls = await ledger(services, replay.id)
    answered = [c for c in source_calls if c.status == "ok"]
    assert [c.status for c in calls] == ["replayed"] * len(answered)
    assert [(c.node, c.model) for c in calls] == [(c.node, c.model) for c in answered]
    assert all(c.cost_usd == 0 for c in calls)
    assert replay.replay is not None and replay.replay["reproduced"] is True
    assert replay.replay["calls_replayed"] == len(answered)
