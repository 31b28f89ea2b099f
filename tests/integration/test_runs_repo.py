"""Reading runs: pages of runs, newest first, with filters (SQLite and Postgres); the
journal's writes have their own suite (test_journal.py)."""

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
