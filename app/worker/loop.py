"""The worker loop: claim queued (or abandoned) runs and execute them."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Coroutine
from typing import Any

from app.db.runs_repo import claim_next_run
from app.services.container import Services
from app.worker.executor import DATABASE_ERRORS, execute_run
from app.worker.wakeup import Wakeup, wakeup_for

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Claims one run at a time under a lease; any number of workers can share a database."""

    def __init__(self, services: Services, worker_id: str | None = None) -> None:
        self.services = services
        self.worker_id = worker_id or new_worker_id()

    async def run_once(self) -> str | None:
        """Claim and execute one run; None when nothing was claimable."""
        settings = self.services.settings
        async with self.services.sessions.begin() as session:
            run = await claim_next_run(
                session, worker_id=self.worker_id, lease_seconds=settings.lease_seconds
            )
        if run is None:
            return None
        log.info("worker %s claimed run %s (attempt %d)", self.worker_id, run.id, run.attempt)
        return await execute_run(self.services, run, self.worker_id)

    async def run_forever(self, stop: asyncio.Event) -> None:
        log.info("worker %s started", self.worker_id)
        wakeup = wakeup_for(self.services.settings.database_url)
        try:
            await self._loop(stop, wakeup)
        finally:
            await wakeup.close()
        log.info("worker %s stopped", self.worker_id)

    async def _loop(self, stop: asyncio.Event, wakeup: Wakeup) -> None:
        failures = 0
        while not stop.is_set():
            try:
                ran = await self.run_once()
                failures = 0
            except DATABASE_ERRORS as exc:
                # The database went away (restart, failover): the run we held, if any,
                # is resumed from its checkpoint once its lease expires. Back off and retry.
                failures += 1
                log.warning("database unavailable (%s); retrying", exc)
                ran = None
            except Exception:
                # A bug while setting a run up must not stop the worker: the run's lease
                # lapses, it is retried, and after ROUTEGRAPH_MAX_ATTEMPTS it is failed.
                failures += 1
                log.exception("worker %s: unexpected error; continuing", self.worker_id)
                ran = None
            if ran is None:
                poll = self.services.settings.poll_seconds
                # Back off while the database is unavailable, up to 10 s (or the poll).
                delay = min(poll * 2**failures, max(poll, 10.0))
                await _first_of(stop.wait(), wakeup.wait(delay))


async def _first_of(*waits: Coroutine[Any, Any, Any]) -> None:
    """Return when any of the waits finishes (stop requested, or woken, or timed out)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
