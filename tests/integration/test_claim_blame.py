"""Who is to blame when a worker dies: a run whose workers keep vanishing is resumed alone
on an idle worker, and only deaths during such solo claims count against it (SQLite and
Postgres, through the same claim contract)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.db.models import Run, utcnow
from app.db.runs_repo import ClaimedRun
from app.services import run_state

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    await asyncio.to_thread(upgrade_database, database_url)
    engine = create_engine(database_url)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


async def add_runs(sessions: Sessions, *ids: str) -> None:
    async with sessions.begin() as session:
        for run_id in ids:
            session.add(Run(id=run_id, thread_id=run_id, graph="plan_execute", version=1, input={}))


async def claim(sessions: Sessions, *, limit: int = 10, solo_ok: bool) -> list[ClaimedRun]:
    async with sessions.begin() as session:
        return await run_state.claim(
            session,
            worker_id="w",
            lease_seconds=30,
            limit=limit,
            include_expired=True,
            solo_ok=solo_ok,
            solo_after=2,
        )


async def worker_vanishes(sessions: Sessions, *ids: str) -> None:
    """The lease runs out with its owner still named: what a killed worker leaves."""
    async with sessions.begin() as session:
        await session.execute(
            update(Run)
            .where(Run.id.in_(ids))
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


async def state(sessions: Sessions, run_id: str) -> dict[str, Any]:
    async with sessions() as session:
        run = await session.get(Run, run_id)
        assert run is not None
        return {"recoveries": run.recoveries, "crashes": run.crashes, "solo": run.solo}


async def test_a_run_whose_workers_keep_dying_resumes_alone_and_is_blamed_only_then(
    sessions: Sessions,
) -> None:
    await add_runs(sessions, "pill", "bystander")
    assert {r.id for r in await claim(sessions, solo_ok=True)} == {"pill", "bystander"}

    # Two workers die under both runs: neither is to blame; "bystander" then ends.
    for recoveries in (1, 2):
        await worker_vanishes(sessions, "pill", "bystander")
        busy = await claim(sessions, solo_ok=False)
        if recoveries == 1:
            assert {r.id for r in busy} == {"pill", "bystander"}
            assert all(not r.solo and r.crashes == 0 for r in busy)
        else:
            # Both lost a second worker: a busy worker takes neither...
            assert busy == []
    async with sessions() as session:
        assert await run_state.suspects_waiting(session, 2)
    # ...an idle worker takes exactly one, alone, and nothing else with it.
    await add_runs(sessions, "queued-meanwhile")
    alone = await claim(sessions, solo_ok=True)
    assert len(alone) == 1 and alone[0].solo and alone[0].crashes == 0
    first = alone[0].id
    assert await state(sessions, first) == {"recoveries": 2, "crashes": 0, "solo": True}

    # Its solo worker dies: that death is the run's; the other suspect goes next.
    await worker_vanishes(sessions, first)
    second = await claim(sessions, solo_ok=True)
    assert len(second) == 1 and second[0].solo
    other = second[0].id
    assert {first, other} == {"pill", "bystander"}
    await worker_vanishes(sessions, other)
    again = await claim(sessions, solo_ok=True)
    assert [r.id for r in again] == [first] and again[0].crashes == 1
    assert await state(sessions, first) == {"recoveries": 3, "crashes": 1, "solo": True}

    # A suspect that finished leaves the queue to everyone again.
    async with sessions.begin() as session:
        assert await run_state.finish(
            session, first, "succeeded", epoch=again[0].attempt, output={}, error=None
        )
    rest = await claim(sessions, solo_ok=True)
    assert [r.id for r in rest] == [other] and rest[0].crashes == 1
    async with sessions.begin() as session:
        assert await run_state.finish(
            session, other, "succeeded", epoch=rest[0].attempt, output={}, error=None
        )
    normal = await claim(sessions, solo_ok=False)
    assert [(r.id, r.solo) for r in normal] == [("queued-meanwhile", False)]


async def test_a_released_run_is_not_a_recovery(sessions: Sessions) -> None:
    await add_runs(sessions, "r")
    for _ in range(3):
        (claimed,) = await claim(sessions, solo_ok=False)
        async with sessions.begin() as session:  # a graceful shutdown hands it back
            assert await run_state.release(session, "r", epoch=claimed.attempt)
    assert await state(sessions, "r") == {"recoveries": 0, "crashes": 0, "solo": False}
