"""The worker executing the real graph against the simulator, on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from app.db.events_repo import events_after
from app.db.models import ModelCall, Run
from app.gateway.types import ModelRequest
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import Services, build_services
from app.settings import Settings
from app.worker.loop import Worker
from devtools.demo import DEFAULT_QUESTION
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.conftest import SimulatorAdmin

# The demo question: three priced items, a total, a split (5 plan steps).
QUESTION = DEFAULT_QUESTION
EXPECTED_TOTAL = 4 * 340 + 5 * 2 * 120 + 5 * 4 * 45  # 3460
EXPECTED_SHARE = EXPECTED_TOTAL / 4  # 865


async def _services(database_url: str, simulator_url: str) -> AsyncIterator[Services]:
    settings = Settings(database_url=database_url, simulator_url=simulator_url, lease_seconds=30)
    async with build_services(settings) as services:
        yield services


@pytest.fixture
async def services(database_url: str, simulator: SimulatorAdmin) -> AsyncIterator[Services]:
    async for built in _services(database_url, simulator.base_url):
        yield built


async def submit(services: Services, question: str = QUESTION, **extra: object) -> str:
    body = SubmitRun(graph="plan_execute", input={"question": question}, **extra)  # type: ignore[arg-type]
    run, _ = await run_service.submit_run(services, body)
    return run.id


async def ledger(services: Services, run_id: str) -> list[ModelCall]:
    async with services.sessions() as session:
        query = (
            select(ModelCall)
            .where(ModelCall.run_id == run_id)
            .order_by(ModelCall.created_at, ModelCall.attempt)
        )
        return list((await session.execute(query)).scalars())


async def get_run(services: Services, run_id: str) -> Run:
    return await run_service.get_run(services, run_id)


async def test_plan_execute_run_succeeds_across_three_tiers(services: Services) -> None:
    run_id = await submit(services)
    assert await Worker(services).run_once() == "succeeded"
    run = await get_run(services, run_id)
    assert run.status == "succeeded" and run.finished_at is not None and run.lease_owner is None
    assert run.output is not None
    assert run.output["step_results"]["2"] == "1200"  # computed by the real calculator tool
    assert f"Final answer: {EXPECTED_SHARE:g}" in run.output["answer"]
    calls = await ledger(services, run_id)
    assert [c.tier for c in calls] == ["frontier"] + ["edge"] * 5 + ["mid"]
    assert run.cost_usd == pytest.approx(sum(c.cost_usd for c in calls))
    async with services.sessions() as session:
        events = await events_after(session, run_id)
    kinds = [(e.kind, e.node) for e in events]
    assert kinds[0] == ("queued", None) and kinds[-1] == ("succeeded", None)
    assert kinds.count(("node_started", "execute")) == 5
    assert kinds.count(("model_call", "plan")) == 1
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_tiny_budget_stops_before_the_first_call(
    services: Services, simulator: SimulatorAdmin
) -> None:
    run_id = await submit(services, budget_usd=0.0001)
    assert await Worker(services).run_once() == "budget_exceeded"
    run = await get_run(services, run_id)
    assert run.status == "budget_exceeded" and "budget exceeded" in (run.error or "")
    assert await ledger(services, run_id) == []
    assert await simulator.requests() == []


async def test_budget_of_1_2x_a_typical_run_finishes_it(services: Services) -> None:
    """Estimates come from what calls really cost (the ledger), not from max_tokens."""
    costs = []
    for _ in range(3):
        reference = await submit(services)
        assert await Worker(services).run_once() == "succeeded"
        costs.append((await get_run(services, reference)).cost_usd)
    services.gateway.estimator.forget()  # read the history the three runs wrote
    typical = sorted(costs)[1]
    run_id = await submit(services, budget_usd=typical * 1.2)
    assert await Worker(services).run_once() == "succeeded"
    assert (await get_run(services, run_id)).cost_usd <= typical * 1.2


async def test_budget_ends_the_run_before_a_call_it_cannot_cover(services: Services) -> None:
    """A budget that covers the plan and the steps but not the synthesis: the executor
    keeps budget for the calls still to come, so the run stops before the first step it
    could not finish (nothing paid for the steps) and keeps its state so far: the plan."""
    reference = await submit(services)
    await Worker(services).run_once()
    services.gateway.estimator.forget()
    paid = [c for c in await ledger(services, reference) if c.status == "ok"]
    spent_before_last = sum(c.cost_usd for c in paid[:-1])
    last = paid[-1]
    estimate = await services.gateway.estimator.estimate(
        services.catalog.model(last.model),
        ModelRequest(**last.request),
        graph=last.graph,
        node=last.node,
    )
    budget = spent_before_last + estimate.cost_usd * 0.5

    run_id = await submit(services, budget_usd=budget)
    assert await Worker(services).run_once() == "budget_exceeded"
    run = await get_run(services, run_id)
    assert run.cost_usd <= budget
    error = run.error or ""
    assert "budget exceeded" in error and "execute call" in error
    assert "kept for later calls" in error
    assert run.output is not None and run.output["answer"] == ""
    assert len(run.output["plan"]) == 5 and run.output["step_results"] == {}
    assert [c.node for c in await ledger(services, run_id)] == ["plan"]


async def test_a_budget_just_short_of_the_whole_run_never_overspends(
    services: Services,
) -> None:
    """A budget that covers every call but the synthesis: the run ends out of budget
    before a call (the step where the reserve stops fitting), within its budget, and the
    synthesis is never paid for."""
    reference = await submit(services)
    await Worker(services).run_once()
    services.gateway.estimator.forget()
    paid = [c for c in await ledger(services, reference) if c.status == "ok"]
    run_id = await submit(services, budget_usd=sum(c.cost_usd for c in paid[:-1]) + 1e-6)
    status = await Worker(services).run_once()
    run = await get_run(services, run_id)
    assert status == "budget_exceeded" and run.cost_usd <= run.budget_usd
    # Wherever it stopped, it stopped before a call and paid for no synthesis.
    assert "synthesize" not in [c.node for c in await ledger(services, run_id)]


async def test_fallback_inside_a_run_keeps_the_conversation(
    services: Services, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("edge-a", "server_error", times=1)
    run_id = await submit(services)
    assert await Worker(services).run_once() == "succeeded"
    calls = await ledger(services, run_id)
    failed = next(c for c in calls if c.status == "error")
    fallback = next(c for c in calls if c.fallback_of == failed.id)
    assert (failed.model, fallback.model) == ("edge-a", "edge-b")
    (received,) = await simulator.requests("edge-b")
    # the question, the planner's plan, and the step instruction all reached edge-b
    contents = [m.get("content") or "" for m in received["messages"]]
    assert any(QUESTION in c for c in contents)
    assert any('"steps"' in c for c in contents)
    assert received["messages"] == failed.request["messages"]


async def test_a_second_run_on_a_thread_continues_the_conversation(services: Services) -> None:
    first = await submit(services, thread_id="conversation-1")
    await Worker(services).run_once()
    second = await submit(services, question="What is 6 * 7?", thread_id="conversation-1")
    assert await Worker(services).run_once() == "succeeded"
    run = await get_run(services, second)
    assert run.output is not None and run.output["step_results"] == {"1": "42"}
    plan_call = next(c for c in await ledger(services, second) if c.node == "plan")
    contents = [m.get("content") for m in plan_call.request["messages"]]
    assert QUESTION in contents and "What is 6 * 7?" in contents
    assert (await get_run(services, first)).status == "succeeded"


async def test_cancel_stops_a_running_run_between_nodes(database_url: str) -> None:
    # Real catalog latencies make the steps slow enough to cancel between nodes.
    with SimulatorServer(SimulatorConfig(latency_scale=1.0)) as url:
        async for services in _services(database_url, url):
            run_id = await submit(services)
            task = asyncio.create_task(Worker(services).run_once())
            for _ in range(400):
                async with services.sessions() as session:
                    events = await events_after(session, run_id)
                if any(e.kind == "node_finished" and e.node == "plan" for e in events):
                    break
                await asyncio.sleep(0.02)
            await run_service.cancel_run(services, run_id)
            assert await asyncio.wait_for(task, 30) == "cancelled"
            run = await get_run(services, run_id)
            assert run.status == "cancelled"
            nodes = {c.node for c in await ledger(services, run_id)}
            assert "synthesize" not in nodes


@pytest.mark.parametrize("policy", ["auto", "cascade", "mid"])
async def test_answer_graph_routes_with_the_requested_policy(
    services: Services, policy: str
) -> None:
    body = SubmitRun(graph="answer", input={"question": "Say hello.", "policy": policy})
    run, _ = await run_service.submit_run(services, body)
    assert await Worker(services).run_once() == "succeeded"
    finished = await get_run(services, run.id)
    assert finished.output is not None and finished.output["answer"]
    calls = await ledger(services, run.id)
    assert calls[-1].tier == finished.output["tier"]
    if policy == "mid":
        assert [c.tier for c in calls] == ["mid"]
    elif policy == "auto":
        assert calls[0].routing_reason.startswith("auto for node 'answer'")
    else:  # the generic answer has no arithmetic to verify: the cascade escalates
        assert [c.tier for c in calls] == ["edge", "frontier"]


async def test_a_run_blamed_for_enough_worker_deaths_is_failed_without_a_call(
    services: Services, simulator: SimulatorAdmin
) -> None:
    run_id = await submit(services)
    async with services.sessions.begin() as session:
        run = await session.get(Run, run_id)
        assert run is not None
        run.crashes = services.settings.max_run_crashes  # it killed its solo workers
    assert await Worker(services).run_once() == "failed"
    run = await get_run(services, run_id)
    assert run.status == "failed"
    assert "crashed its worker 3 times while running alone" in (run.error or "")
    assert await simulator.requests() == []


async def test_postgres_workers_wake_on_notify_not_on_the_poll_timer(
    postgres_url: str, simulator: SimulatorAdmin
) -> None:
    async for services in _services(postgres_url, simulator.base_url):
        services.settings.poll_seconds = 60.0  # only a notification can wake it in time
        stop = asyncio.Event()
        worker = asyncio.create_task(Worker(services).run_forever(stop))
        await asyncio.sleep(1.0)  # idle, listening
        started = time.monotonic()
        run_id = await submit(services, question="What is 6 * 7?")
        while (await get_run(services, run_id)).status in ("queued", "running"):
            assert time.monotonic() - started < 8, "the idle worker was not woken"
            await asyncio.sleep(0.05)
        assert (await get_run(services, run_id)).status == "succeeded"
        stop.set()
        await asyncio.wait_for(worker, 5)  # stopping does not wait out the poll timer


async def test_a_run_of_a_graph_this_worker_does_not_know_fails_cleanly(
    services: Services,
) -> None:
    run_id = await submit(services)
    async with services.sessions.begin() as session:
        run = await session.get(Run, run_id)
        assert run is not None
        run.graph = "from_a_newer_release"
    assert await Worker(services).run_once() == "failed"
    assert "no graph named 'from_a_newer_release'" in (
        (await get_run(services, run_id)).error or ""
    )
    assert await Worker(services).run_once() is None  # and the worker goes on


async def test_a_run_whose_input_no_longer_validates_fails_cleanly(services: Services) -> None:
    run_id = await submit(services)
    async with services.sessions.begin() as session:
        run = await session.get(Run, run_id)
        assert run is not None
        run.input = {"question": ""}  # as if the graph's schema had tightened since submit
    assert await Worker(services).run_once() == "failed"
    assert "input no longer matches graph 'plan_execute'" in (
        (await get_run(services, run_id)).error or ""
    )


async def test_cut_tool_arguments_are_an_invalid_output_retried_with_feedback(
    services: Services, simulator: SimulatorAdmin
) -> None:
    # The reproduction: edge-a cuts one tool call's JSON arguments.
    await simulator.inject("edge-a", "malformed_json", times=1)
    run_id = await submit(services)
    assert await Worker(services).run_once() == "succeeded"
    run = await get_run(services, run_id)
    assert run.output is not None and f"Final answer: {EXPECTED_SHARE:g}" in run.output["answer"]
    calls = await ledger(services, run_id)
    invalid = next(c for c in calls if c.status == "invalid_output")
    assert invalid.model == "edge-a" and "malformed JSON" in (invalid.error or "")
    retry = next(c for c in calls if c.fallback_of == invalid.id)
    assert retry.status == "ok" and retry.model == "edge-a"
    # the retry carried the broken answer and what was wrong with it
    assert "could not be used" in json.dumps(retry.request["messages"][-1])
    assert "error:" not in json.dumps(run.output["step_results"])


async def test_a_cut_synthesis_is_never_the_answer(
    services: Services, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("mid-a", "malformed_json", times=None)  # mid-a never answers well
    run_id = await submit(services)
    assert await Worker(services).run_once() == "succeeded"
    run = await get_run(services, run_id)
    assert run.output is not None
    assert run.output["answer"].endswith(f"Final answer: {EXPECTED_SHARE:g}")
    calls = [c for c in await ledger(services, run_id) if c.node == "synthesize"]
    assert [(c.model, c.status) for c in calls] == [("mid-a", "invalid_output")] * 3 + [
        ("mid-b", "ok")
    ]
    assert 'no "Final answer:" line' in (calls[0].error or "")


async def test_a_step_the_calculator_refuses_fails_the_run_naming_the_step(
    services: Services,
) -> None:
    run_id = await submit(services, "Split 12 / 0 between the team, please.")
    assert await Worker(services).run_once() == "failed"
    run = await get_run(services, run_id)
    assert run.error is not None and "step 1" in run.error and "division by zero" in run.error
    # nothing was asked of the executor tier: the tool cannot do this step
    assert [c.node for c in await ledger(services, run_id)] == ["plan"]
