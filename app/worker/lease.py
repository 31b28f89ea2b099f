"""Keeps a claimed run's lease alive and notices cancellation or a lost lease."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.runs_repo import renew_lease

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews every lease/3 seconds in the background while the run executes."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        run_id: str,
        worker_id: str,
        lease_seconds: float,
    ) -> None:
        self._sessions = sessions
        self.run_id = run_id
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.lost = asyncio.Event()
        self.cancel_requested = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LeaseKeeper:
        self._task = asyncio.create_task(self._renew_forever(), name=f"lease-{self.run_id}")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def renew_now(self) -> None:
        async with self._sessions.begin() as session:
            status = await renew_lease(
                session,
                run_id=self.run_id,
                worker_id=self.worker_id,
                lease_seconds=self.lease_seconds,
            )
        if not status.held:
            self.lost.set()
        if status.cancel_requested:
            self.cancel_requested.set()

    async def _renew_forever(self) -> None:
        while not self.lost.is_set():
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self.renew_now()
            except (OperationalError, DBAPIError) as exc:
                # A database blip: keep trying until the lease would have expired anyway.
                log.warning("lease renewal for run %s failed: %s", self.run_id, exc)
