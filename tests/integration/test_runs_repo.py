"""Claiming, leases and idempotency on a real database (SQLite and Postgres)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from app.db import runs_repo
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.db.models import Run, utcnow


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


async def test_claims_by_priority_then_age_and_each_run_once(database_url: str) -> None:
    engine, sessions = await _make(database_url)
    try:
        async with sessions.begin() as session:
            session.add(_run("low", 0, created_at=utcnow() - timedelta(seconds=10)))
            session.add(_run("high", 5))
        claimed = []
        for worker in ("w1", "w2", "w3"):
            async with sessions.begin() as session:
                run = await runs_repo.claim_next_run(session, worker_id=worker, lease_seconds=30)
                claimed.append(run.id if run else None)
        assert claimed == ["high", "low", None]
        async with sessions() as session:
            high = await runs_repo.get_run(session, "high")
        assert high is not None
        assert (high.status, high.lease_owner, high.attempt) == ("running", "w1", 1)
    finally:
        await engine.dispose()


async def test_expired_lease_is_reclaimed_and_renewal_detects_loss(database_url: str) -> None:
    engine, sessions = await _make(database_url)
    try:
        async with sessions.begin() as session:
            session.add(_run("r1"))
        async with sessions.begin() as session:
            await runs_repo.claim_next_run(session, worker_id="dead", lease_seconds=30)
        # Not claimable while the lease holds.
        async with sessions.begin() as session:
            assert await runs_repo.claim_next_run(session, worker_id="w2", lease_seconds=30) is None
        later = utcnow() + timedelta(seconds=31)
        async with sessions.begin() as session:
            run = await runs_repo.claim_next_run(
                session, worker_id="w2", lease_seconds=30, now=later
            )
            assert run is not None and run.attempt == 2 and run.lease_owner == "w2"
        async with sessions.begin() as session:
            lost = await runs_repo.renew_lease(
                session, run_id="r1", worker_id="dead", lease_seconds=30
            )
            held = await runs_repo.renew_lease(
                session, run_id="r1", worker_id="w2", lease_seconds=30
            )
        assert not lost.held
        assert held.held and not held.cancel_requested
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
                async with sessions.begin() as session:
                    run = await runs_repo.claim_next_run(
                        session, worker_id=worker, lease_seconds=30
                    )
                if run is None:
                    return got
                got.append(run.id)

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
