"""Chat calls (no run) an API process left `in_flight` when it died are marked `lost` by a
worker's sweep, their estimated cost kept; calls still young, and runs' calls (left to
the run's resume), are not touched."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import ledger_repo
from app.db.models import ModelCall, utcnow
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import Services, build_services
from app.settings import Settings
from app.worker.loop import Worker
from tests.support.processes import wait_until


@pytest.fixture
async def services(database_url: str, simulator_url: str) -> AsyncIterator[Services]:
    settings = Settings(database_url=database_url, simulator_url=simulator_url)
    async with build_services(settings) as built:
        yield built


def in_flight(age_s: float, run_id: str | None = None) -> ModelCall:
    return ModelCall(
        id=str(uuid.uuid4()),
        run_id=run_id,
        call_key=f"chat:{uuid.uuid4()}",
        attempt=1,
        routing_reason="fixed tier edge",
        requested="edge",
        tier="edge",
        model="edge-a",
        provider="simulator",
        request={"messages": [{"role": "user", "content": "hi"}]},
        prompt_tokens=9,
        cost_usd=0.0042,  # the estimate reserved when the call began
        status="in_flight",
        created_at=utcnow() - timedelta(seconds=age_s),
    )


async def statuses(services: Services, *ids: str) -> list[tuple[str, float]]:
    async with services.sessions() as session:
        rows = {
            row.id: row
            for row in (await session.execute(select(ModelCall).where(ModelCall.id.in_(ids))))
            .scalars()
            .all()
        }
    return [(rows[i].status, rows[i].cost_usd) for i in ids]


async def test_a_worker_marks_abandoned_chat_calls_lost(services: Services) -> None:
    run, _ = await run_service.submit_run(
        services, SubmitRun(graph="plan_execute", input={"question": "What is 2 * 21?"})
    )
    old, young, of_run = in_flight(3600), in_flight(5), in_flight(3600, run_id=run.id)
    async with services.sessions.begin() as session:
        session.add_all([old, young, of_run])
    async with services.sessions.begin() as session:  # a second sweep finds nothing
        assert await ledger_repo.mark_abandoned_calls(session, 600) == 1
        assert await ledger_repo.mark_abandoned_calls(session, 600) == 0
    assert await statuses(services, old.id, young.id, of_run.id) == [
        ("lost", 0.0042),
        ("in_flight", 0.0042),
        ("in_flight", 0.0042),
    ]


async def test_the_worker_loop_sweeps_at_start(services: Services) -> None:
    old = in_flight(3600)
    async with services.sessions.begin() as session:
        session.add(old)
    stop = asyncio.Event()
    worker = asyncio.create_task(Worker(services).run_forever(stop))
    try:

        async def swept() -> bool:
            return (await statuses(services, old.id))[0][0] == "lost"

        await wait_until(swept, 30, "the abandoned call to be marked lost")
    finally:
        stop.set()
        await worker
    async with services.sessions() as session:
        row = await session.get(ModelCall, old.id)
    assert row is not None and row.error == ledger_repo.ABANDONED and row.completed_at
