"""The run journal's conformance suite, queueing: the same tests for the Postgres and the
SQLite journal. A run's row and its `queued` event, its columns' defaults, and a queueing
that depends on a guard statement finding its row."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import bindparam, func, select, update

from app.db.journal import Guard
from app.db.models import Run
from app.run_status import RunStatus
from tests.support.journal_rig import Rig, journal_rig


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    async with journal_rig(database_url) as rig:
        yield rig


async def test_enqueue_writes_the_row_and_its_queued_event(rig: Rig) -> None:
    await rig.add("r1")
    run = await rig.run("r1")
    assert (run.status, run.event_seq) == (RunStatus.QUEUED, 1)
    assert await rig.kinds("r1") == ["queued"]


async def test_enqueue_leaves_unset_columns_null_and_fills_defaults_on_the_object(
    rig: Rig,
) -> None:
    run = Run(id="r1", thread_id="t", graph="plan_execute", version=1, input={"q": 1})
    async with rig.sessions.begin() as session:
        assert await rig.journal.enqueue(session, run, {"graph": "plan_execute"})
    assert (run.tenant_id, run.priority, run.cost_usd) == ("default", 0, 0.0)
    assert run.created_at is not None
    async with rig.sessions() as session:
        stored = await session.get(Run, "r1")
        # SQL NULL, not JSON null: the "unset" tests of other readers hold.
        unset = await session.scalar(
            select(func.count()).where(Run.id == "r1", Run.output.is_(None), Run.lg.is_(None))
        )
    assert stored is not None and stored.input == {"q": 1} and stored.budget_usd is None
    assert unset == 1


async def test_a_guarded_enqueue_queues_only_when_its_guard_finds_the_row(rig: Rig) -> None:
    await rig.add("r1", thread="t1")
    statement = (
        update(Run)
        .where(Run.id == bindparam("guard_run"))
        .values(priority=bindparam("guard_priority"))
        .returning(Run.id)
    )
    guard_on = Guard(statement, {"guard_run": "r1", "guard_priority": 7})
    guard_off = Guard(statement, {"guard_run": "missing", "guard_priority": 9})
    async with rig.sessions.begin() as session:
        missed = Run(id="r2", thread_id="t2", graph="plan_execute", version=1, input={})
        assert not await rig.journal.enqueue(session, missed, {}, guard=guard_off)
        queued = Run(id="r3", thread_id="t3", graph="plan_execute", version=1, input={})
        assert await rig.journal.enqueue(session, queued, {}, guard=guard_on)
    async with rig.sessions() as session:
        assert await session.get(Run, "r2") is None
    assert await rig.kinds("r2") == []
    assert (await rig.run("r1")).priority == 7  # the guard's own write happened
    assert await rig.kinds("r3") == ["queued"]
    assert (await rig.run("r3")).status == RunStatus.QUEUED
