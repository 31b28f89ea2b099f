"""The run journal's conformance suite: the same tests for the Postgres and the SQLite
journal (as LangGraph's checkpoint savers share one suite). Claims, leases and their fence,
appends, finishes, releases, cancels, costs, and who is blamed when a worker dies; queueing
is in `test_journal_queueing.py`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.db.events_repo import PendingEvent, events_after
from app.db.journal.sqlite import SqliteJournal
from app.db.models import Run
from app.run_status import RunStatus
from tests.support.journal_rig import Rig, journal_rig


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    async with journal_rig(database_url) as rig:
        yield rig


async def test_claims_by_priority_then_age_and_each_run_once(rig: Rig) -> None:
    await rig.add("low")
    await rig.add("high", priority=5)
    claimed = [await rig.ids(worker, limit=1) for worker in ("w1", "w2", "w3")]
    assert claimed == [["high"], ["low"], []]
    high = await rig.run("high")
    assert (high.status, high.lease_owner, high.epoch) == (RunStatus.RUNNING, "w1", 1)
    assert await rig.kinds("high") == ["queued", "started"]


async def test_one_claim_takes_a_batch_but_one_run_per_thread(rig: Rig) -> None:
    await rig.add("a0", "a1", "a2", thread="shared")
    await rig.add("b")
    assert sorted(await rig.ids("w1")) == ["a0", "b"]
    assert await rig.ids("w2") == []  # a1 waits while a0 (same thread) runs


async def test_the_same_thread_id_of_two_tenants_runs_at_once(rig: Rig) -> None:
    await rig.add("acme-run", thread="t", tenant_id="acme")
    await rig.add("globex-run", thread="t", tenant_id="globex")
    assert sorted(await rig.ids()) == ["acme-run", "globex-run"]


async def test_an_expired_lease_is_taken_over_and_renewal_tells_who_lost(rig: Rig) -> None:
    await rig.add("r1")
    assert await rig.ids("dead") == ["r1"]
    assert await rig.ids("w2") == []  # not while the lease holds
    await rig.worker_vanishes("r1")
    assert await rig.ids("w2", expired=False) == []  # the sweep is what takes it over
    (taken,) = await rig.claim("w2")
    assert (taken.id, taken.epoch) == ("r1", 2)
    async with rig.sessions.begin() as session:
        lost = await rig.journal.renew_leases(
            session, worker_id="dead", epochs={"r1": 1}, lease_seconds=30
        )
        held = await rig.journal.renew_leases(
            session, worker_id="w2", epochs={"r1": 2}, lease_seconds=30
        )
    assert lost == []
    assert [(s.run_id, s.cancel_requested) for s in held] == [("r1", False)]
    assert await rig.kinds("r1") == ["queued", "started", "resumed"]


async def test_a_worker_whose_lease_moved_on_writes_nothing(rig: Rig) -> None:
    await rig.add("r1")
    (stale,) = await rig.claim("w1")
    await rig.worker_vanishes("r1")
    (current,) = await rig.claim("w2")
    event = [PendingEvent("node_failed", node="plan")]
    async with rig.sessions.begin() as session:
        assert await rig.journal.append(session, "r1", epoch=stale.epoch, events=event) is None
        assert not await rig.journal.release(
            session, "r1", epoch=stale.epoch, reason="shutting down"
        )
    assert not await rig.finish(stale, RunStatus.FAILED, error="stale")
    assert await rig.finish(current, RunStatus.SUCCEEDED, output={"answer": 1})
    async with rig.sessions.begin() as session:  # and nobody writes after the terminal event
        assert await rig.journal.append(session, "r1", epoch=current.epoch, events=event) is None
    run = await rig.run("r1")
    assert (run.status, run.lease_owner, run.output) == (RunStatus.SUCCEEDED, None, {"answer": 1})
    assert await rig.kinds("r1") == ["queued", "started", "resumed", "succeeded"]


async def test_events_go_before_the_terminal_one_which_carries_the_cost(rig: Rig) -> None:
    await rig.add("r1")
    (claimed,) = await rig.claim()
    async with rig.sessions.begin() as session:
        await rig.journal.reserve_cost(session, "r1", 0.25)
        grant = await rig.journal.append(
            session, "r1", epoch=claimed.epoch, events=[PendingEvent("node_started", "plan")]
        )
    assert grant is not None and grant.first_seq == 3 and grant.cost_usd == 0.25
    verdict = {"reproduced": True}
    late = [PendingEvent("node_finished", node="plan")]
    assert await rig.finish(claimed, RunStatus.FAILED, error="boom", events=late, replay=verdict)
    async with rig.sessions() as session:
        events = await events_after(session, "r1")
    assert [(e.seq, e.kind) for e in events][-2:] == [(4, "node_finished"), (5, "failed")]
    assert events[-1].payload == {"error": "boom", "cost_usd": 0.25}
    run = await rig.run("r1")
    assert (run.replay, run.error, run.finished_at is not None) == (verdict, "boom", True)


async def test_events_that_come_back_from_a_failed_write_are_not_written_twice(rig: Rig) -> None:
    await rig.add("r1")
    (claimed,) = await rig.claim()
    first = [PendingEvent("node_started", "plan", {"task_id": "a"})]
    async with rig.sessions.begin() as session:
        assert await rig.journal.append(session, "r1", epoch=claimed.epoch, events=first)
    # The writer saw an error although the write committed: it tries them again.
    again = [*(event.after_failed_write() for event in first), PendingEvent("node_finished")]
    async with rig.sessions.begin() as session:
        assert await rig.journal.append(session, "r1", epoch=claimed.epoch, events=again)
    assert await rig.finish(claimed, RunStatus.SUCCEEDED, events=[first[0].after_failed_write()])
    assert await rig.kinds("r1") == [
        "queued",
        "started",
        "node_started",
        "node_finished",
        "succeeded",
    ]


async def test_a_released_run_is_taken_at_once_and_is_no_loss(rig: Rig) -> None:
    await rig.add("r")
    for _ in range(3):
        (claimed,) = await rig.claim()
        async with rig.sessions.begin() as session:
            assert await rig.journal.release(
                session, "r", epoch=claimed.epoch, reason="worker shutting down"
            )
    run = await rig.run("r")
    assert (run.recoveries, run.crashes, run.solo, run.lease_owner) == (0, 0, False, None)
    assert (await rig.kinds("r"))[-1] == "released"


async def test_cancel_ends_a_queued_run_and_asks_a_running_one(rig: Rig) -> None:
    await rig.add("working", "waiting")
    assert await rig.ids(limit=1) == ["working"]
    async with rig.sessions.begin() as session:
        waiting = await session.get(Run, "waiting", with_for_update=True)
        assert waiting is not None
        assert await rig.journal.cancel(session, waiting) == "cancelled"
        working = await session.get(Run, "working", with_for_update=True)
        assert working is not None
        assert await rig.journal.cancel(session, working) == "cancel_requested"
    assert (await rig.run("waiting")).status == RunStatus.CANCELLED
    assert (await rig.run("working")).cancel_requested
    async with rig.sessions.begin() as session:
        held = await rig.journal.renew_leases(
            session, worker_id="w", epochs={"working": 1}, lease_seconds=30
        )
    assert [(s.run_id, s.cancel_requested) for s in held] == [("working", True)]


async def test_a_call_settles_its_cost_always_and_its_event_only_under_the_lease(
    rig: Rig,
) -> None:
    await rig.add("r1")
    (stale,) = await rig.claim("w1")
    async with rig.sessions.begin() as session:
        await rig.journal.reserve_cost(session, "r1", 0.5)
    await rig.worker_vanishes("r1")
    (current,) = await rig.claim("w2")
    call = [PendingEvent("model_call", node="plan")]
    async with rig.sessions.begin() as session:
        # The stale worker's call was paid: its cost counts, its event does not.
        assert not await rig.journal.settle_call(
            session, "r1", epoch=stale.epoch, cost_delta_usd=-0.2, events=call
        )
        assert await rig.journal.settle_call(
            session, "r1", epoch=current.epoch, cost_delta_usd=0.1, events=call
        )
        held = await rig.journal.hold(session, "r1")
    assert held is not None and held.cost_usd == pytest.approx(0.4)
    assert (await rig.kinds("r1")).count("model_call") == 1


async def test_concurrent_claimers_never_share_a_run(rig: Rig) -> None:
    await rig.add(*(f"run-{i:02d}" for i in range(12)))

    async def claimer(worker: str) -> list[str]:
        got: list[str] = []
        while batch := await rig.ids(worker, limit=2):
            got.extend(batch)
        return got

    results = await asyncio.gather(*(claimer(f"w{i}") for i in range(4)))
    assert sorted(r for batch in results for r in batch) == [f"run-{i:02d}" for i in range(12)]


async def test_a_claim_in_flight_keeps_another_claimer_off_the_threads_next_run(
    rig: Rig,
) -> None:
    """Two runs queued on one thread, two workers claiming one run each at the same time:
    the second must not take the thread's next run while the first claim (of its head) is
    not committed yet, though it cannot see the head running. SQLite's claims take turns
    on its write lock, so there the second claim cannot start before the first ends."""
    if isinstance(rig.journal, SqliteJournal):
        pytest.skip("SQLite's writers take turns: no claim runs beside another")
    await rig.add("head", "next", thread="t")
    await rig.add("other")  # another thread's run stays claimable
    first = rig.sessions()
    try:
        async with first.begin():
            taken = await rig.journal.claim(
                first,
                worker_id="w1",
                lease_seconds=30,
                limit=1,
                include_expired=False,
                solo_ok=False,
                solo_after=2,
            )
            assert [run.id for run in taken] == ["head"]
            assert await rig.ids("w2", limit=1) == ["other"]  # not "next"
            assert await rig.ids("w2", limit=1) == []
    finally:
        await first.close()
    assert await rig.ids("w2") == []  # "head" runs now: "next" waits for it
    claimed = (await rig.run("head"), await rig.run("next"))
    assert [run.status for run in claimed] == [RunStatus.RUNNING, RunStatus.QUEUED]


async def test_a_run_whose_workers_keep_dying_resumes_alone_and_is_blamed_only_then(
    rig: Rig,
) -> None:
    await rig.add("pill", "bystander")
    assert set(await rig.ids(solo_ok=True)) == {"pill", "bystander"}
    # Two workers die under both: neither is to blame.
    await rig.worker_vanishes("pill", "bystander")
    again = await rig.claim(solo_ok=False)
    assert {r.id for r in again} == {"pill", "bystander"}
    assert all(not r.solo and r.crashes == 0 for r in again)
    await rig.worker_vanishes("pill", "bystander")
    assert await rig.claim(solo_ok=False) == []  # a busy worker takes neither now...
    async with rig.sessions() as session:
        assert await rig.journal.suspects_waiting(session, 2)
    # ...an idle worker takes exactly one, alone, and nothing else with it.
    await rig.add("queued-meanwhile")
    (first,) = await rig.claim(solo_ok=True)
    assert first.solo and first.crashes == 0
    run = await rig.run(first.id)
    assert (run.recoveries, run.crashes, run.solo) == (2, 0, True)
    # Its solo worker dies: that death is the run's.
    await rig.worker_vanishes(first.id)
    (other,) = await rig.claim(solo_ok=True)
    assert other.solo and {first.id, other.id} == {"pill", "bystander"}
    await rig.worker_vanishes(other.id)
    (blamed,) = await rig.claim(solo_ok=True)
    assert (blamed.id, blamed.crashes) == (first.id, 1)
    assert await rig.finish(blamed, RunStatus.SUCCEEDED)
    (rest,) = await rig.claim(solo_ok=True)
    assert (rest.id, rest.crashes) == (other.id, 1)
    # A death after a step was done is not the run's doing: the count starts over...
    step = [PendingEvent("node_finished", node="plan", payload={"task_id": "t"})]
    async with rig.sessions.begin() as session:
        assert await rig.journal.append(session, rest.id, epoch=rest.epoch, events=step)
    await rig.worker_vanishes(rest.id)
    (cleared,) = await rig.claim(solo_ok=True)
    assert (cleared.id, cleared.crashes) == (other.id, 0)
    await rig.worker_vanishes(cleared.id)  # ...and one without a step counts again
    (rest,) = await rig.claim(solo_ok=True)
    assert (rest.id, rest.crashes) == (other.id, 1)
    assert await rig.finish(rest, RunStatus.SUCCEEDED)
    async with rig.sessions() as session:
        assert not await rig.journal.suspects_waiting(session, 2)
    normal = await rig.claim(solo_ok=False)
    assert [(r.id, r.solo) for r in normal] == [("queued-meanwhile", False)]


async def test_pruning_marks_the_run(rig: Rig) -> None:
    await rig.add("r1")
    async with rig.sessions.begin() as session:
        await rig.journal.mark_pruned(session, "r1")
    assert (await rig.run("r1")).payloads_pruned_at is not None
