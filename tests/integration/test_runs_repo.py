"""Claiming, leases and idempotency on a real database (SQLite and Postgres)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from app.db import runs_repo
from app.db.engine import create_engine, create_session_factory
from app.db.events_repo import PendingEvent, append_fenced, events_after
from app.db.migrate import upgrade_database
from app.db.models import Run, utcnow
from app.services import run_state


async def _make(database_url: str):  # type: ignore[no-untyped-def]
    await asyncio.to_thread(upgrade_database, database_url)
    engine = create_engine(database_url)
    return engine, create_session_factory(engine)


def _run(run_id: str, priority: int = 0, **kw: object) -> Run:
    fields: dict[str, object] = {
        "id": run_id,
        "thread_id": run_id,
        "graph": "plan_execute",
        "version": 1,
        "input": {"question": "q"},
        "status": "queued",
        "priority": priority,
    }
    return Run(**(fields | kw))


async def _claim(sessions, worker: str, limit: int = 1, expired: bool = True) -> list[str]:  # type: ignore[no-untyped-def]
    async with sessions.begin() as session:
        claimed = await run_state.claim(
            session, worker_id=worker, lease_seconds=30, limit=limit, include_expired=expired
        )
    return [run.id for run in claimed]


async def test_claims_by_priority_then_age_and_each_run_once(database_url: str) -> None:
    engine, sessions = await _make(database_url)
    try:
        async with sessions.begin() as session:
            session.add(_run("low", 0, created_at=utcnow() - timedelta(seconds=10)))
            session.add(_run("high", 5))
        claimed = [await _claim(sessions, worker) for worker in ("w1", "w2", "w3")]
        assert claimed == [["high"], ["low"], []]
        async with sessions() as session:
            high = await runs_repo.get_run(session, "high")
            events = await events_after(session, "high")
        assert high is not None
        assert (high.status, high.lease_owner, high.attempt) == ("running", "w1", 1)
        assert [(e.seq, e.kind) for e in events] == [(1, "started")]
    finally:
        await engine.dispose()


async def test_one_claim_takes_a_batch_but_one_run_per_thread(database_url: str) -> None:
    engine, sessions = await _make(database_url)
    try:
        now = utcnow()
        async with sessions.begin() as session:
            for i in range(4):
                session.add(
                    _run(f"a{i}", thread_id="shared", created_at=now + timedelta(seconds=i))
                )
            session.add(_run("b", created_at=now + timedelta(seconds=9)))
        assert sorted(await _claim(sessions, "w1", limit=10)) == ["a0", "b"]
        # a1 waits while a0 (same thread) runs.
        assert await _claim(sessions, "w2", limit=10) == []
    finally:
        await engine.dispose()


async def test_expired_lease_is_reclaimed_and_renewal_detects_loss(database_url: str) -> None:
    engine, sessions = await _make(database_url)
    try:
        async with sessions.begin() as session:
            session.add(_run("r1"))
        assert await _claim(sessions, "dead") == ["r1"]
        # Not claimable while the lease holds.
        assert await _claim(sessions, "w2") == []
        async with sessions.begin() as session:
            run = await session.get(Run, "r1")
            assert run is not None
            run.lease_expires_at = utcnow() - timedelta(seconds=1)
        # The sweep of expired leases is what takes it over.
        assert await _claim(sessions, "w2", expired=False) == []
        assert await _claim(sessions, "w2") == ["r1"]
        async with sessions.begin() as session:
            lost = await runs_repo.renew_leases(
                session, worker_id="dead", epochs={"r1": 1}, lease_seconds=30
            )
            held = await runs_repo.renew_leases(
                session, worker_id="w2", epochs={"r1": 2}, lease_seconds=30
            )
        assert lost == []
        assert [(s.run_id, s.cancel_requested) for s in held] == [("r1", False)]
        async with sessions() as session:
            events = await events_after(session, "r1")
        assert [(e.seq, e.kind) for e in events] == [(1, "started"), (2, "resumed")]
    finally:
        await engine.dispose()


async def test_a_worker_whose_lease_moved_on_cannot_write_events_or_finish(
    database_url: str,
) -> None:
    engine, sessions = await _make(database_url)
    try:
        async with sessions.begin() as session:
            session.add(_run("r1"))
        await _claim(sessions, "w1")
        async with sessions.begin() as session:
            run = await session.get(Run, "r1")
            assert run is not None
            run.lease_expires_at = utcnow() - timedelta(seconds=1)
        await _claim(sessions, "w2")  # epoch 2
        stale = [PendingEvent("node_failed", node="plan")]
        async with sessions.begin() as session:
            assert await append_fenced(session, "r1", epoch=1, events=stale) is None
            assert not await run_state.finish(
                session, "r1", "failed", epoch=1, output={}, error="stale"
            )
            assert await run_state.finish(
                session, "r1", "succeeded", epoch=2, output={"answer": 1}, error=None
            )
            # And nobody writes after the terminal event.
            assert await append_fenced(session, "r1", epoch=2, events=stale) is None
        async with sessions() as session:
            events = await events_after(session, "r1")
            run = await session.get(Run, "r1")
        assert [e.kind for e in events] == ["started", "resumed", "succeeded"]
        assert run is not None and run.status == "succeeded" and run.lease_owner is None
    finally:
        await engine.dispose()


async def test_concurrent_claimers_never_share_a_run(database_url: str) -> None:
    engine, sessions = await _make(database_url)
    try:
        async with sessions.begin() as session:
            for i in range(12):
                session.add(_run(f"run-{i:02d}"))

        async def claimer(worker: str) -> list[str]:
            got: list[str] = []
            while True:
                batch = await _claim(sessions, worker, limit=2)
                if not batch:
                    return got
                got.extend(batch)

        results = await asyncio.gather(*(claimer(f"w{i}") for i in range(4)))
        everything = [run_id for batch in results for run_id in batch]
        assert sorted(everything) == [f"run-{i:02d}" for i in range(12)]
    finally:
        await engine.dispose()


async def test_list_runs_paginates_newest_first_with_filters(database_url: str) -> None:
    engine, sessions = await _make(database_url)
    try:
        now = utcnow()
        async with sessions.begin() as session:
            for i in range(5):
                session.add(_run(f"r{i}", created_at=now + timedelta(seconds=i)))
            session.add(_run("other", created_at=now, status="failed"))
        async with sessions() as session:
            page1, cursor = await runs_repo.list_runs(session, status="queued", limit=2)
            page2, cursor2 = await runs_repo.list_runs(
                session, status="queued", limit=2, cursor=cursor
            )
            page3, cursor3 = await runs_repo.list_runs(
                session, status="queued", limit=2, cursor=cursor2
            )
        assert [r.id for r in page1 + page2 + page3] == ["r4", "r3", "r2", "r1", "r0"]
        assert cursor3 is None
    finally:
        await engine.dispose()
