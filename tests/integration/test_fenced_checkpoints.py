"""The checkpointer's writes are fenced by the run's lease, on SQLite and Postgres: under
the current epoch a checkpoint and its writes are stored and read back by LangGraph's
reader; once another worker claimed the run (a new epoch), or the lease expired, a write
is refused with LeaseLost and stores nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from sqlalchemy import update

from app.db.checkpoints import writes_behind
from app.db.fencing import LeaseLost, LeaseToken, current_lease
from app.db.models import Run, utcnow
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import Services, build_services
from app.settings import Settings


@pytest.fixture
async def services(database_url: str, simulator_url: str) -> AsyncIterator[Services]:
    settings = Settings(database_url=database_url, simulator_url=simulator_url)
    async with build_services(settings) as built:
        yield built


async def claimed_epoch(services: Services, worker: str) -> tuple[str, int]:
    async with services.sessions.begin() as session:
        [claimed] = await services.journal.claim(
            session,
            worker_id=worker,
            lease_seconds=30,
            limit=1,
            include_expired=True,
            solo_ok=False,
            solo_after=2,
        )
    return claimed.id, claimed.epoch


async def a_claimed_run(services: Services) -> tuple[str, int, str]:
    """A run queued and claimed by worker "first": its id, epoch and thread."""
    body = SubmitRun(graph="plan_execute", input={"question": "What is 2 * 21?"})
    run, _ = await run_service.submit_run(services, body)
    run_id, epoch = await claimed_epoch(services, "first")
    return run_id, epoch, run.thread_id


@contextmanager
def holding_lease(run_id: str, epoch: int) -> Iterator[None]:
    """Checkpoint writes inside are this worker's, under the lease of `epoch`."""
    token = current_lease.set(LeaseToken(run_id, epoch))
    try:
        yield
    finally:
        current_lease.reset(token)


async def expire_lease(services: Services, run_id: str) -> None:
    """The run's lease runs out, as when its worker stalls."""
    async with services.sessions.begin() as session:
        await session.execute(update(Run).where(Run.id == run_id).values(lease_expires_at=utcnow()))


def config(thread: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    configurable = {"thread_id": thread, "checkpoint_ns": ""}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


async def test_checkpoint_writes_carry_the_lease_and_stop_when_it_moves_on(
    services: Services,
) -> None:
    saver = services.checkpointer
    run_id, epoch, thread = await a_claimed_run(services)

    with holding_lease(run_id, epoch):
        first = empty_checkpoint()
        stored = await saver.aput(config(thread), first, {"step": 1}, {})
        await saver.aput_writes(stored, [("answer", "forty-two"), ("__error__", "x")], "task-1")
        read = await saver.aget_tuple(config(thread))
        assert read is not None and read.checkpoint["id"] == first["id"]
        assert read.metadata["step"] == 1
        assert ("task-1", "answer", "forty-two") in read.pending_writes

        # The lease expires while this worker stalls: its next write is refused.
        await expire_lease(services, run_id)
        with pytest.raises(LeaseLost):
            await saver.aput(config(thread, first["id"]), empty_checkpoint(), {"step": 2}, {})
        # Another worker claims the run (epoch + 1): the old epoch stays refused.
        assert (await claimed_epoch(services, "second")) == (run_id, epoch + 1)
        with pytest.raises(LeaseLost):
            await saver.aput_writes(stored, [("answer", "stale")], "task-2")

    read = await saver.aget_tuple(config(thread))
    assert read is not None and read.checkpoint["id"] == first["id"]  # nothing else stored
    assert all(write[2] != "stale" for write in read.pending_writes)
    # The new owner writes under its own epoch.
    with holding_lease(run_id, epoch + 1):
        await saver.aput(config(thread, first["id"]), empty_checkpoint(), {"step": 2}, {})
    read = await saver.aget_tuple(config(thread))
    assert read is not None and read.metadata["step"] == 2


async def test_writes_pending_together_are_all_stored_or_all_refused(services: Services) -> None:
    """A run's concurrent checkpoint writes (LangGraph's `durability="async"`) may share one
    fenced write: every one is stored, or, once the lease moved on, every one is refused."""
    saver = services.checkpointer
    run_id, epoch, thread = await a_claimed_run(services)
    with holding_lease(run_id, epoch):
        first = empty_checkpoint()
        stored = await saver.aput(config(thread), first, {"step": 1}, {})
        await asyncio.gather(
            *(saver.aput_writes(stored, [("answer", f"a{i}")], f"task-{i}") for i in range(4)),
            saver.aput(stored, empty_checkpoint(), {"step": 2}, {}),
        )
        read = await saver.aget_tuple(config(thread))
        assert read is not None and read.metadata["step"] == 2
        parent = await saver.aget_tuple(config(thread, first["id"]))
        assert parent is not None
        assert {w[2] for w in parent.pending_writes} == {"a0", "a1", "a2", "a3"}

        await expire_lease(services, run_id)
        outcomes = await asyncio.gather(
            *(saver.aput_writes(stored, [("answer", "stale")], f"late-{i}") for i in range(3)),
            saver.aput(config(thread, first["id"]), empty_checkpoint(), {"step": 3}, {}),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, LeaseLost) for outcome in outcomes)
    read = await saver.aget_tuple(config(thread))
    assert read is not None and read.metadata["step"] == 2  # nothing of the late ones
    parent = await saver.aget_tuple(config(thread, first["id"]))
    assert parent is not None and all(w[2] != "stale" for w in parent.pending_writes)


async def test_a_runs_writes_behind_it_are_read_back_stored_by_its_end_or_raised(
    services: Services,
) -> None:
    """`durability="async"`: a run's checkpoint writes return once queued (LangGraph puts
    one checkpoint only after the last returned, so waiting cost a round trip and a commit
    each); the run still reads what it wrote, all are stored when `writes_behind` exits,
    and once the lease moved on the refused write is raised there."""
    saver = services.checkpointer
    run_id, epoch, thread = await a_claimed_run(services)
    with holding_lease(run_id, epoch):
        first = empty_checkpoint()
        async with writes_behind(saver, enabled=True):
            stored = await saver.aput(config(thread), first, {"step": 1}, {})
            await saver.aput_writes(stored, [("answer", "forty-two")], "task-1")
            await saver.aput(stored, empty_checkpoint(), {"step": 2}, {})
            read = await saver.aget_tuple(config(thread))
            assert read is not None and read.metadata["step"] == 2
        await saver.aput(stored, empty_checkpoint(), {"step": 3}, {})  # stored when it returns
        parent = await saver.aget_tuple(config(thread, first["id"]))
        assert parent is not None and ("task-1", "answer", "forty-two") in parent.pending_writes

        await expire_lease(services, run_id)
        with pytest.raises(LeaseLost):
            async with writes_behind(saver, enabled=True):
                await saver.aput(stored, empty_checkpoint(), {"step": 4}, {})
                await saver.aput_writes(stored, [("answer", "stale")], "task-2")
    read = await saver.aget_tuple(config(thread))
    assert read is not None and read.metadata["step"] == 3  # nothing of the refused ones
    parent = await saver.aget_tuple(config(thread, first["id"]))
    assert parent is not None and all(w[2] != "stale" for w in parent.pending_writes)
