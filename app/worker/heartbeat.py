"""One heartbeat per worker renews the leases of all its runs in a single statement."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.journal import RunJournal
from app.worker.run_scope import RunScope

log = logging.getLogger(__name__)


class Heartbeat:
    """Every lease/3 seconds: extend every held lease; a run missing from the answer is
    lost (its scope is told, so the run stops before its next write or model call); a run
    asked to stop gets its cancel signal."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        journal: RunJournal,
        worker_id: str,
        lease_seconds: float,
        scopes: Callable[[], list[RunScope]],
    ) -> None:
        self._sessions = sessions
        self._journal = journal
        self._worker_id = worker_id
        self._lease_seconds = lease_seconds
        self._scopes = scopes

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            try:
                await self.beat()
            except (OperationalError, DBAPIError) as exc:
                # A database blip: keep trying until the leases would have expired anyway.
                log.warning("lease renewal failed: %s", exc)

    async def beat(self) -> None:
        scopes = [scope for scope in self._scopes() if not scope.lost.is_set()]
        if not scopes:
            return
        async with self._sessions.begin() as session:
            held = await self._journal.renew_leases(
                session,
                worker_id=self._worker_id,
                epochs={scope.run_id: scope.epoch for scope in scopes},
                lease_seconds=self._lease_seconds,
            )
        states = {state.run_id: state for state in held}
        for scope in scopes:
            state = states.get(scope.run_id)
            if state is None:
                scope.mark_lost()
            elif state.cancel_requested:
                scope.cancelled.set()
