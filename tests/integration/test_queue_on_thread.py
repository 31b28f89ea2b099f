"""Queueing a LangGraph API run on its thread: the thread's lock and the run's row go in
one statement on Postgres (the lock is the enqueue's guard). The thread is touched only as
`hold_thread` touches it, whatever the run's own columns are called."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import lg_repo
from app.db.engine import create_engine, create_session_factory
from app.db.events_repo import events_after
from app.db.journal import RunJournal, journal_for
from app.db.migrate import upgrade_database
from app.db.models import Run, utcnow
from app.services.errors import ServiceError
from app.services.lg_threads import queue_on_thread

TAGS = {"graph_id": "noop", "assistant_id": "a-1"}


@pytest.fixture
async def db(
    database_url: str,
) -> AsyncIterator[tuple[RunJournal, async_sessionmaker[AsyncSession]]]:
    await asyncio.to_thread(upgrade_database, database_url)
    engine = create_engine(database_url)
    try:
        yield journal_for(database_url), create_session_factory(engine)
    finally:
        await engine.dispose()


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite's come back without a zone


def _run(run_id: str, thread_id: str) -> Run:
    return Run(
        id=run_id,
        tenant_id="acme",
        thread_id=thread_id,
        graph="noop",
        version=1,
        input={"question": "q"},
        created_at=utcnow() + timedelta(days=1),  # unlike the thread's: must not reach it
    )


async def test_a_run_is_queued_on_an_existing_thread_which_is_tagged_and_no_more(
    db: tuple[RunJournal, async_sessionmaker[AsyncSession]],
) -> None:
    journal, sessions = db
    created = utcnow() - timedelta(hours=1)
    async with sessions.begin() as session:
        await lg_repo.insert_thread(session, "acme", "t-1", {"owner": "ann"}, created)
    async with sessions.begin() as session:
        await queue_on_thread(journal, session, _run("r-1", "t-1"), {}, create=False, tags=TAGS)
    async with sessions() as session:
        thread = await lg_repo.get_thread(session, "acme", "t-1")
        run = await session.get(Run, "r-1")
        kinds = [event.kind for event in await events_after(session, "r-1")]
    assert thread is not None and run is not None
    assert thread.metadata_ == {"owner": "ann", **TAGS}
    assert abs((_utc(thread.created_at) - created).total_seconds()) < 1  # untouched
    assert _utc(thread.updated_at) > created
    assert (run.status, run.thread_id, kinds) == ("queued", "t-1", ["queued"])


async def test_an_unknown_thread_is_created_when_asked_else_nothing_is_queued(
    db: tuple[RunJournal, async_sessionmaker[AsyncSession]],
) -> None:
    journal, sessions = db
    with pytest.raises(ServiceError, match="Thread t-2 not found"):
        async with sessions.begin() as session:
            await queue_on_thread(journal, session, _run("r-2", "t-2"), {}, create=False, tags=TAGS)
    async with sessions.begin() as session:
        await queue_on_thread(journal, session, _run("r-3", "t-3"), {}, create=True, tags=TAGS)
    async with sessions() as session:
        assert await session.get(Run, "r-2") is None
        assert await lg_repo.get_thread(session, "acme", "t-2") is None
        thread = await lg_repo.get_thread(session, "acme", "t-3")
        run = await session.get(Run, "r-3")
    assert thread is not None and thread.metadata_ == TAGS
    assert run is not None and run.status == "queued"
