"""Claiming a run in the transaction that queues it, for this process's own worker.

A run queued where a worker with a free slot runs would otherwise go: commit, wake the
worker, a claim of its own (another statement and commit), and the worker's task picking
it up. Here the queueing transaction ends with the worker's ordinary claim of one queued
run (`RunJournal.claim`, limit 1), so the same rules decide (priority and age, one run per
thread, none beside a thread's running run, a run due later waits): usually that is the
new run; it may be an older one that was waiting, which is then the one started here
(the new one is queued as usual and any worker is told). Nothing is claimed when the
worker has no free slot; the slot is reserved before the transaction starts, so the
worker's own claims cannot fill it meanwhile.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.journal import ClaimedRun
from app.services.container import Services
from app.services.notifier import LocalWorker


class ClaimHere:
    """One queueing transaction's claim: `claim(session)` as its last statement, then
    `committed(run_id)` after the commit, or `abandoned()` when it did not commit."""

    def __init__(self, services: Services, *, due_now: bool = True) -> None:
        self._services = services
        worker = services.notifier.local_worker if due_now else None
        self._worker: LocalWorker | None = worker if worker and worker.reserve_slot() else None
        self._claimed: list[ClaimedRun] = []

    async def claim(self, session: AsyncSession) -> None:
        if self._worker is None:
            return
        settings = self._services.settings
        self._claimed = await self._services.journal.claim(
            session,
            worker_id=self._worker.worker_id,
            lease_seconds=settings.lease_seconds,
            limit=1,
            include_expired=False,  # expired leases are the worker's sweep's to take
            solo_ok=False,
            solo_after=settings.solo_after_recoveries,
        )

    def committed(self, run_id: str) -> None:
        """Start what was claimed; a run left queued is announced to every worker."""
        worker, claimed = self._worker, self._claimed
        self._worker, self._claimed = None, []
        if worker is not None:
            if claimed:
                worker.adopt(claimed[0])
            else:
                worker.release_slot()
        if all(run.id != run_id for run in claimed):
            self._services.notifier.runs_claimable()

    def abandoned(self) -> None:
        if self._worker is not None:
            self._worker.release_slot()
        self._worker, self._claimed = None, []
