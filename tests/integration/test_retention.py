"""`routegraph prune`'s service: old runs lose checkpoints and bodies, keep their costs, and
answer 409 to replay and fork; newer runs of the same thread stay replayable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from app.db.models import ModelCall, Run, utcnow
from app.schemas.replay import ForkRequest, ReplayRequest
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.branching import PayloadsPruned
from app.services.container import Services, build_services
from app.services.forks import submit_fork
from app.services.replays import submit_replay
from app.services.retention import prune_payloads
from app.services.run_history import list_checkpoints
from app.services.timeline import run_timeline
from app.settings import Settings
from app.worker.loop import Worker
from devtools.demo import DEFAULT_QUESTION
from tests.support.simulator_admin import SimulatorAdmin

_RUN_OF = {
    "sqlite": "json_extract(CAST(metadata AS TEXT), '$.routegraph_run_id')",
    "postgresql": "metadata->>'routegraph_run_id'",
}


@pytest.fixture
async def services(database_url: str, simulator: SimulatorAdmin) -> AsyncIterator[Services]:
    settings = Settings(database_url=database_url, simulator_url=simulator.base_url)
    async with build_services(settings) as built:
        yield built


async def run_on_thread(services: Services, question: str) -> Run:
    body = SubmitRun(graph="plan_execute", input={"question": question}, thread_id="chat")
    run, _ = await run_service.submit_run(services, body)
    assert await Worker(services).run_once() == "succeeded"
    return await run_service.get_run(services, run.id)


async def checkpoints_of(services: Services, run_id: str) -> int:
    async with services.sessions() as session:
        run_of = _RUN_OF[session.get_bind().dialect.name]
        query = text(f"SELECT count(*) FROM checkpoints WHERE {run_of} = :run")
        return int((await session.execute(query, {"run": run_id})).scalar_one())


async def test_prune_drops_old_payloads_keeps_costs_and_refuses_replay(
    services: Services,
) -> None:
    old = await run_on_thread(services, DEFAULT_QUESTION)
    new = await run_on_thread(services, "And what is 6 * 7?")
    async with services.sessions.begin() as session:
        await session.execute(
            update(Run).where(Run.id == old.id).values(finished_at=utcnow() - timedelta(days=10))
        )
        cost_query = select(func.sum(ModelCall.cost_usd)).where(ModelCall.run_id == old.id)
        cost_before = (await session.execute(cost_query)).scalar_one()
    assert await checkpoints_of(services, old.id) > 2

    dry = await prune_payloads(services.sessions, services.journal, older_than_days=5, dry_run=True)
    assert dry.due == 1 and dry.runs == []
    report = await prune_payloads(services.sessions, services.journal, older_than_days=5)

    assert [r.run_id for r in report.runs] == [old.id] and report.calls >= 7
    # Only the checkpoint the newer run of the thread started from is left.
    assert await checkpoints_of(services, old.id) == 1
    async with services.sessions() as session:
        calls = list(
            (await session.execute(select(ModelCall).where(ModelCall.run_id == old.id))).scalars()
        )
        assert (await session.execute(cost_query)).scalar_one() == pytest.approx(cost_before)
    assert all(c.request == {} and c.response is None for c in calls)
    pruned = await run_service.get_run(services, old.id)
    assert pruned.payloads_pruned_at is not None and pruned.output == old.output

    for refused in (
        submit_replay(services, old.id, ReplayRequest(), "default"),
        submit_fork(services, old.id, ForkRequest(step=1), "default"),
        list_checkpoints(services, old.id, "default"),
    ):
        with pytest.raises(PayloadsPruned, match="were pruned on"):
            await refused

    timeline = await run_timeline(services, old.id, "default")
    assert timeline.state_source == "events"
    assert [s.nodes for s in timeline.steps] == [["plan"]] + [["execute"]] * 5 + [["synthesize"]]
    assert timeline.totals.cost_usd == pytest.approx(cost_before)
    assert timeline.steps[0].step == 1 and timeline.steps[0].read is None

    # The newer run on the thread still has its starting point: it replays exactly.
    replay = await submit_replay(services, new.id, ReplayRequest(), "default")
    assert await Worker(services).run_once() == "succeeded"
    replayed = await run_service.get_run(services, replay.id)
    assert replayed.replay is not None and replayed.replay["reproduced"] is True
