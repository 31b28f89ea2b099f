"""Timelines of runs that succeeded, failed, ran out of budget or were cancelled, for a
Python graph and a spec, on SQLite and Postgres."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from app.db.models import ModelCall
from app.schemas.runs import SubmitRun
from app.schemas.timeline import StepOut, TimelineOut
from app.services import runs as run_service
from app.services.container import Services, build_services
from app.services.timeline import run_timeline
from app.settings import Settings
from app.worker.loop import Worker
from devtools.demo import DEFAULT_QUESTION
from tests.integration.test_replay import TWO_STEP_SPEC, push
from tests.support.processes import wait_until
from tests.support.simulator_admin import SimulatorAdmin

PLAN_EXECUTE = SubmitRun(graph="plan_execute", input={"question": DEFAULT_QUESTION})


@pytest.fixture
async def services(database_url: str, simulator: SimulatorAdmin) -> AsyncIterator[Services]:
    settings = Settings(
        database_url=database_url, simulator_url=simulator.base_url, model_timeout_seconds=2
    )
    async with build_services(settings) as built:
        yield built


async def timeline_of(services: Services, body: SubmitRun) -> TimelineOut:
    run, _ = await run_service.submit_run(services, body)
    await Worker(services).run_once()
    return await run_timeline(services, run.id, "default", max_chars=200)


def node_steps(timeline: TimelineOut) -> list[StepOut]:
    return [step for step in timeline.steps if step.kind == "node" and step.nodes != ["__start__"]]


async def test_timeline_of_a_spec_run_shows_each_node_its_writes_and_calls(
    services: Services,
) -> None:
    await push(services, TWO_STEP_SPEC)
    timeline = await timeline_of(
        services, SubmitRun(graph="draft-total", input={"question": "2 + 3?"})
    )
    assert timeline.state_source == "checkpoints" and timeline.run.status == "succeeded"
    write, add = node_steps(timeline)
    assert (write.step, write.nodes, add.step, add.nodes) == (1, ["write"], 2, ["add"])
    (call,) = write.tasks[0].calls
    assert (call.status, call.tier, call.index) == ("ok", "edge", 0)
    assert write.diff is not None and write.diff["draft"]["before"] == ""
    assert write.diff["draft"]["after"].endswith("Draft: 2 + 3?")  # the simulator's echo
    assert add.tasks[0].wrote == {"total": 5} and add.tasks[0].calls == []
    assert add.read is not None and add.read["question"] == "2 + 3?"
    assert timeline.totals.cost_usd == pytest.approx(timeline.run.cost_usd)
    assert [e["kind"] for e in timeline.lifecycle] == ["queued", "started", "succeeded"]


async def test_timeline_of_a_run_out_of_budget_ends_with_the_step_it_could_not_pay(
    services: Services,
) -> None:
    timeline = await timeline_of(services, PLAN_EXECUTE.model_copy(update={"budget_usd": 0.0001}))
    assert timeline.run.status == "budget_exceeded"
    last = timeline.steps[-1]
    assert last.checkpoint_id is None and last.nodes == ["plan"]
    assert last.tasks[0].status == "failed" and "budget exceeded" in (last.tasks[0].error or "")
    assert last.tasks[0].calls == [] and timeline.lifecycle[-1]["kind"] == "budget_exceeded"


async def test_timeline_of_a_failed_run_shows_every_failed_attempt(
    services: Services, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("edge-a", "server_error", times=None)
    await simulator.inject("edge-b", "server_error", times=None)
    timeline = await timeline_of(services, PLAN_EXECUTE)
    assert timeline.run.status == "failed"
    last = timeline.steps[-1]
    assert last.nodes == ["execute"] and last.checkpoint_id is None
    task = last.tasks[0]
    assert task.status == "failed" and "every model in the fallback chain failed" in (
        task.error or ""
    )
    (call,) = task.calls
    assert call.status == "failed" and [a.model for a in call.attempts] == ["edge-a", "edge-b"]
    assert any(note.startswith("fallback from edge-a to edge-b") for note in call.notes)
    assert timeline.totals.failed_attempts == 2


async def test_timeline_of_a_cancelled_run_stops_at_the_step_it_was_cancelled_in(
    services: Services, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("edge-a", "timeout", times=1)  # the first step hangs for 2 s
    run, _ = await run_service.submit_run(services, PLAN_EXECUTE)
    worker = asyncio.create_task(Worker(services).run_once())

    async def step_in_flight() -> bool:
        async with services.sessions() as session:
            query = select(ModelCall).where(ModelCall.run_id == run.id, ModelCall.node == "execute")
            return bool(list((await session.execute(query)).scalars()))

    await wait_until(step_in_flight, 60, "the first step's call")
    await run_service.cancel_run(services, run.id)
    assert await worker == "cancelled"
    timeline = await run_timeline(services, run.id, "default")
    assert timeline.run.status == "cancelled"
    last = timeline.steps[-1]
    assert last.nodes == ["execute"] and last.checkpoint_id is None
    assert "cancelled" in (last.tasks[0].error or "")
    (call,) = last.tasks[0].calls
    assert [a.status for a in call.attempts] == ["error"]  # edge-b was never asked
    kinds = [e["kind"] for e in timeline.lifecycle]
    assert kinds[-2:] == ["cancel_requested", "cancelled"]
