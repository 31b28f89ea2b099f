"""A run journal on a migrated database, with the shorthands its conformance suites use
(`tests/integration/test_journal*.py`): queue runs, claim them, read a run and its events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.engine import create_engine, create_session_factory
from app.db.events_repo import events_after
from app.db.journal import ClaimedRun, RunJournal, journal_for
from app.db.migrate import upgrade_database
from app.db.models import Run, utcnow
from app.run_status import RunStatus

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class Rig:
    journal: RunJournal
    sessions: Sessions

    async def add(self, *ids: str, thread: str | None = None, **fields: Any) -> None:
        async with self.sessions.begin() as session:
            for index, run_id in enumerate(ids):
                run = Run(
                    id=run_id,
                    thread_id=thread or run_id,
                    graph="plan_execute",
                    version=1,
                    input={"question": "q"},
                    created_at=utcnow() + timedelta(milliseconds=index),
                    **fields,
                )
                await self.journal.enqueue(session, run, {"graph": "plan_execute"})

    async def claim(
        self,
        worker: str = "w",
        *,
        limit: int = 10,
        expired: bool = True,
        solo_ok: bool = False,
    ) -> list[ClaimedRun]:
        async with self.sessions.begin() as session:
            return await self.journal.claim(
                session,
                worker_id=worker,
                lease_seconds=30,
                limit=limit,
                include_expired=expired,
                solo_ok=solo_ok,
                solo_after=2,
            )

    async def ids(self, worker: str = "w", **kw: Any) -> list[str]:
        return [run.id for run in await self.claim(worker, **kw)]

    async def worker_vanishes(self, *ids: str) -> None:
        """The lease runs out with its owner still named: what a killed worker leaves."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(Run)
                .where(Run.id.in_(ids))
                .values(lease_expires_at=utcnow() - timedelta(seconds=1))
            )

    async def run(self, run_id: str) -> Run:
        async with self.sessions() as session:
            run = await session.get(Run, run_id)
        assert run is not None
        return run

    async def kinds(self, run_id: str) -> list[str]:
        async with self.sessions() as session:
            return [event.kind for event in await events_after(session, run_id)]

    async def finish(self, claimed: ClaimedRun, to: RunStatus, **kw: Any) -> bool:
        async with self.sessions.begin() as session:
            return await self.journal.finish(
                session,
                claimed.id,
                to,
                epoch=claimed.epoch,
                from_statuses=[RunStatus.RUNNING],
                output=kw.pop("output", {}),
                error=kw.pop("error", None),
                **kw,
            )


@asynccontextmanager
async def journal_rig(database_url: str) -> AsyncIterator[Rig]:
    """The journal of `database_url` (migrated to head) and sessions of its own engine."""
    await asyncio.to_thread(upgrade_database, database_url)
    engine = create_engine(database_url)
    try:
        yield Rig(journal_for(database_url), create_session_factory(engine))
    finally:
        await engine.dispose()
